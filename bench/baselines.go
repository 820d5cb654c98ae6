package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/julienschmidt/httprouter"
)

// Baseline names, as they appear in the report.
const (
	baselineTrivial = "trivial"
	baselinePebble  = "pebble"
)

// trivialServer serves GET /ping with a constant JSON body through
// httprouter and net/http on loopback: the same stack as the API minus
// everything the engine does. What the client reaches against it is the
// ceiling for any scenario.
type trivialServer struct {
	srv *http.Server
	url string
}

func startTrivial() (*trivialServer, error) {
	router := httprouter.New()
	body := []byte(`{"status":"ok"}`)
	router.GET("/ping", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("trivial baseline: listen: %w", err)
	}
	// The API server's timeouts, so both sides of the comparison do the
	// same per-connection work.
	srv := &http.Server{
		Handler: router, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
	}
	go func() { _ = srv.Serve(ln) }()
	return &trivialServer{srv: srv, url: "http://" + ln.Addr().String() + "/ping"}, nil
}

func (t *trivialServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.srv.Shutdown(ctx); err != nil {
		_ = t.srv.Close()
	}
}

func (t *trivialServer) op(c *http.Client) Op {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
		if err != nil {
			return err
		}
		return send(c, req, nil)
	}
}

// pebbleBaseline is the raw cost of durability on this filesystem: small
// batches committed with pebble.Sync from every worker at once, on a Pebble
// opened with default options, so Pebble groups their fsyncs the way it
// does for the engine's commits.
type pebbleBaseline struct {
	db *pebble.DB
}

// Each batch is a few keys of a few hundred bytes in all: about what one
// create writes (event, snapshot, stream head, claims), without the index
// rows.
const (
	pebbleBatchKeys  = 4
	pebbleValueBytes = 128
)

func openPebbleBaseline(dir string) (*pebbleBaseline, error) {
	// Default options but the logger: Pebble's default prints its info
	// lines on stderr, amid the progress.
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("pebble baseline: %w", err)
	}
	return &pebbleBaseline{db: db}, nil
}

func (p *pebbleBaseline) close() error { return p.db.Close() }

func (p *pebbleBaseline) op(worker int) Op {
	value := make([]byte, pebbleValueBytes)
	for i := range value {
		value[i] = byte(i * 7)
	}
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(worker))
	var n uint64
	return func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		n++
		b := p.db.NewBatch()
		defer b.Close()
		for k := range uint64(pebbleBatchKeys) {
			binary.BigEndian.PutUint64(key[8:], n*pebbleBatchKeys+k)
			if err := b.Set(key[:], value, nil); err != nil {
				return err
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("pebble commit: %w", err)
		}
		return nil
	}
}

// quietLogger drops Pebble's info lines and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
