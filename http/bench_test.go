package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
)

// BenchmarkCreateInvoice is a durable create through the whole stack
// (handler, registry, synced commit) on a real store, called in process
// (no sockets), with the metrics on and off, to show what instrumentation
// costs: compare instrumented and bare. wrk-body is bare with the body
// ../shared/perf/create.lua sends (a number amount and a callback URL).
func BenchmarkCreateInvoice(b *testing.B) {
	for _, tc := range []struct {
		name         string
		instrumented bool
		body         string // with %d for a unique order id
	}{
		{"bare", false, `{"order_id":"o-%d","fiat_amount":"19.99","currency":"BTC"}`},
		{"instrumented", true, `{"order_id":"o-%d","fiat_amount":"19.99","currency":"BTC"}`},
		{"wrk-body", false, `{"order_id":"p-0a1b2c3d4e5f-0-%d","crypto_amount":0.001,"currency":"BTC","callback_url":"http://127.0.0.1:9/cb"}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			api, key := benchAPI(b, tc.instrumented, invoice.DefaultStateCacheBytes, invoice.DefaultRenderCacheBytes)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := fmt.Sprintf(tc.body, n.Add(1))
					if code := serve(api, "POST", "/api/v1/invoices", key, body); code != http.StatusCreated {
						b.Errorf("create: %d", code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetInvoice is GET /api/v1/invoices/{id} in process over 1,000
// invoices, served from the state and render caches (as for invoices read
// or committed lately), from the state cache alone (render cache off:
// build and encode the view), and from the store (both off: snapshot or
// creation event, decode, replay, render).
func BenchmarkGetInvoice(b *testing.B) {
	for _, tc := range []struct {
		name          string
		state, render int64
	}{
		{"cached", invoice.DefaultStateCacheBytes, invoice.DefaultRenderCacheBytes},
		{"state", invoice.DefaultStateCacheBytes, 0},
		{"store", 0, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			api, key := benchAPI(b, true, tc.state, tc.render)
			paths := make([]string, 1000)
			for i := range paths {
				rec := &discardRecorder{header: http.Header{}, keep: true}
				api.ServeHTTP(rec, request("POST", "/api/v1/invoices", key, fmt.Sprintf(`{"order_id":"o-%d","fiat_amount":"19.99","currency":"BTC"}`, i)))
				if rec.code != http.StatusCreated {
					b.Fatalf("seed: %d %s", rec.code, rec.body)
				}
				paths[i] = rec.header.Get("Location")
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := serve(api, "GET", paths[n.Add(1)%int64(len(paths))], key, ""); code != http.StatusOK {
						b.Errorf("get: %d", code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkListInvoices is GET /api/v1/invoices of pages 1–10 of 20 over
// 1,000 invoices (created desc), with the render cache (items copied as
// rendered for their version) and without (each item's stream read,
// replayed and rendered).
func BenchmarkListInvoices(b *testing.B) {
	for _, tc := range []struct {
		name   string
		render int64
	}{{"rendered", invoice.DefaultRenderCacheBytes}, {"store", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			api, key := benchAPI(b, true, invoice.DefaultStateCacheBytes, tc.render)
			for i := range 1000 {
				if code := serve(api, "POST", "/api/v1/invoices", key, fmt.Sprintf(`{"order_id":"o-%d","fiat_amount":"19.99","currency":"BTC"}`, i)); code != http.StatusCreated {
					b.Fatalf("seed: %d", code)
				}
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := serve(api, "GET", fmt.Sprintf("/api/v1/invoices?page=%d", 1+n.Add(1)%10), key, ""); code != http.StatusOK {
						b.Errorf("list: %d", code)
						return
					}
				}
			})
		})
	}
}

// benchAPI is the API over a real store in a temp dir, with one project;
// instrumented registers every metric; stateCache and renderCache are the
// registry's.
func benchAPI(b *testing.B, instrumented bool, stateCache, renderCache int64) (http.Handler, string) {
	b.Helper()
	store, err := persistence.Open(b.TempDir(), persistence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	var reg *prometheus.Registry
	var areg prometheus.Registerer
	if instrumented {
		reg = prometheus.NewRegistry()
		areg = reg
		reg.MustRegister(store.Collector())
	}
	accts, _ := accounts.New(store, nil, nil)
	_, account, err := accts.CreateAccount()
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := accts.CreateProject(account.ID, accounts.NewProject{Name: "bench"}, accounts.Actor{})
	if err != nil {
		b.Fatal(err)
	}
	src, _ := rates.NewStatic(rates.DefaultStaticRates(), time.Now())
	rules := engine.DefaultRules()
	registry, err := invoice.New(invoice.Config{Store: store, Rules: rules, Deriver: devchain.NewDeriver(devchain.DevSeed()), Rates: src, Owner: accts.Owner, Metrics: areg,
		StateCacheBytes: stateCache, RenderCacheBytes: renderCache})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(registry.Shutdown) // runs before the store's Close
	cfg := httpapi.Config{Invoices: registry, Accounts: accts, Rules: rules, Rates: src}
	if instrumented {
		cfg.Registerer = reg
	}
	return httpapi.New(cfg), key
}

// reportCPU reports the process's CPU time (user and system) per
// operation from now until the returned func runs, as cpu-ns/op: on a
// machine shared with other work, ns/op measures the neighbours too.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func request(method, path, key, body string) *http.Request {
	req, _ := http.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Api-Key", key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// serve runs one request and returns its status.
func serve(api http.Handler, method, path, key, body string) int {
	rec := &discardRecorder{header: http.Header{}}
	api.ServeHTTP(rec, request(method, path, key, body))
	return rec.code
}

// discardRecorder is a ResponseWriter that keeps the status, and the body
// when keep is set.
type discardRecorder struct {
	header http.Header
	code   int
	keep   bool
	body   []byte
}

func (d *discardRecorder) Header() http.Header { return d.header }
func (d *discardRecorder) Write(b []byte) (int, error) {
	if d.keep {
		d.body = append(d.body, b...)
	}
	return len(b), nil
}
func (d *discardRecorder) WriteHeader(code int) { d.code = code }
