package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/invoiced/invoiced/server"
)

// runRestart creates RestartInvoices invoices, shuts the server down,
// starts it again on the same data dir and measures the time to /readyz
// 200 and to the first successful GET of an invoice created before, and
// the process's memory before and after. The server is in-process, so
// VmRSS is the client's and the server's together.
//
// Its invoice actors passivate one second after their last message, and
// the scenario waits until none is in memory before it shuts down (creates
// spawn none, but the wait keeps "before" a server at rest with N invoices
// whatever woke an actor; in a single process an actor's pending idle
// timer would keep its state reachable after Shutdown). Memory is read
// after a GC that returns freed pages to the OS, once the timings are
// taken.
func runRestart(ctx context.Context, x *eventRun) (Result, error) {
	ev := x.ev
	cfg := x.serverConfig("restart")
	cfg.ActorIdle = time.Second
	s, err := x.startServer(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer func() { s.stop() }()
	prefix := "rst-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	// invoiceBody's mix of currencies and of fiat and crypto pricing.
	invs, took, err := x.createInvoices(ctx, "restart", s.baseURL, s.projectKey, ev.RestartInvoices, func(i int) []byte {
		return invoiceBody(prefix+strconv.Itoa(i), uint64(i))
	})
	if err != nil {
		return Result{}, err
	}
	fig := &RestartFigures{Invoices: ev.RestartInvoices, SetupS: took.Seconds()}
	res := Result{Name: "restart", Unit: "restarts", Restart: fig}
	probe := invs[len(invs)/2].ID
	poll := newClient(2, x.cfg.Timeout)
	defer poll.CloseIdleConnections()
	if err := waitPassivated(ctx, poll, s.baseURL, ev.Settle); err != nil {
		return Result{}, fmt.Errorf("restart: %w", err)
	}

	fig.RSSBeforeMB, fig.HeapBeforeMB = memory()
	x.client.CloseIdleConnections()
	t := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = s.srv.Shutdown(sctx)
	cancel()
	s.srv = nil
	if err != nil {
		return Result{}, fmt.Errorf("restart: shutdown: %w", err)
	}
	fig.ShutdownMs = ms(time.Since(t))
	fig.StoreMB = dirMB(cfg.DataDir)
	fig.RSSAfterShutdownMB, fig.HeapAfterShutdownMB = memory()
	x.logf("restart  shut down in %s (%.0f MB on disk); starting again", fmtMs(fig.ShutdownMs), fig.StoreMB)

	cpu0 := processCPU()
	start := time.Now()
	srv, err := server.Start(cfg)
	if err != nil {
		return Result{}, fmt.Errorf("restart: start again: %w", err)
	}
	fig.StartMs = ms(time.Since(start))
	s.srv, s.baseURL = srv, "http://"+srv.Addr
	deadline := start.Add(ev.Settle)
	var wg sync.WaitGroup
	var readyErr, getErr error
	wg.Go(func() {
		fig.TimeToReadyMs, readyErr = untilOK(ctx, poll, s.baseURL+"/readyz", "", start, deadline)
	})
	wg.Go(func() {
		fig.FirstGetMs, getErr = untilOK(ctx, poll, s.baseURL+"/api/v1/invoices/"+probe, s.projectKey, start, deadline)
	})
	wg.Wait()
	cpu := processCPU() - cpu0
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if readyErr != nil {
		res.noteErrors("not ready", 1, readyErr)
	}
	if getErr != nil {
		res.noteErrors("get", 1, getErr)
	}
	fig.RSSAfterMB, fig.HeapAfterMB = memory()
	fig.PeakRSSMB = vmHWM()
	fig.ServerBeforeMB, fig.ServerAfterMB = fig.RSSBeforeMB-fig.RSSAfterShutdownMB, fig.RSSAfterMB-fig.RSSAfterShutdownMB
	if res.Errors == 0 {
		res.Requests = 1
	}
	elapsed := time.Duration(max(fig.TimeToReadyMs, fig.FirstGetMs) * float64(time.Millisecond))
	res.ElapsedS = elapsed.Seconds()
	if elapsed > 0 {
		res.CPUCores = cpu.Seconds() / elapsed.Seconds()
	}
	x.logf("restart  %d invoices: listening after %s, ready after %s, first GET after %s; RSS %.0f → %.0f → %.0f MB",
		ev.RestartInvoices, fmtMs(fig.StartMs), fmtMs(fig.TimeToReadyMs), fmtMs(fig.FirstGetMs), fig.RSSBeforeMB, fig.RSSAfterShutdownMB, fig.RSSAfterMB)
	return res, nil
}

// untilOK GETs url (with key, if any) every millisecond until it answers
// 2xx and returns the milliseconds since start.
func untilOK(ctx context.Context, c *http.Client, url, key string, start, deadline time.Time) (float64, error) {
	var last error
	for {
		req, err := apiRequest(ctx, http.MethodGet, url, key, nil)
		if err != nil {
			return 0, err
		}
		if key == "" {
			req.Header.Del("Api-key")
		}
		if last = send(c, req, nil); last == nil {
			return ms(time.Since(start)), nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if !time.Now().Before(deadline) {
			return ms(time.Since(start)), fmt.Errorf("GET %s: no 2xx within %v: %w", url, deadline.Sub(start), last)
		}
		time.Sleep(time.Millisecond)
	}
}

// memory collects garbage, returns freed pages to the OS, and reads this
// process's VmRSS and Go heap in use, in MB.
func memory() (rss, heap float64) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return vmRSS(), float64(m.HeapInuse) / (1 << 20)
}
