package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// startPprof serves net/http/pprof on its own listener, never on the API's:
// profiles expose internals (command line, goroutine stacks) that must not
// reach API clients, and a 30 s CPU profile would outlast the API server's
// write timeout. It runs only when Config.PprofListen is set; bind it to
// loopback or a private interface.
func (s *Server) startPprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listen: %w", err)
	}
	// The mutex profile is empty unless sampled; one event in ten costs
	// nothing measurable and is on only while pprof is.
	runtime.SetMutexProfileFraction(10)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, allocs, block, mutex, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.pprof = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.PprofAddr = ln.Addr().String()
	s.log.Info("pprof listening", slog.String("addr", s.PprofAddr))
	go s.pprof.Serve(ln) // returns http.ErrServerClosed once stopPprof runs
	return nil
}

// stopPprof closes the pprof server at once: a profile being taken is cut
// short rather than holding up the shutdown.
func (s *Server) stopPprof() {
	if s.pprof != nil {
		s.pprof.Close()
	}
}
