package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
)

// BenchmarkCreateInvoice is a durable create through the whole stack
// (handler, actor, synced commit) on a real store, called in process
// (no sockets), with the metrics on and off, to show what instrumentation
// costs: compare instrumented and bare.
func BenchmarkCreateInvoice(b *testing.B) {
	for _, instrumented := range []bool{false, true} {
		name := "bare"
		if instrumented {
			name = "instrumented"
		}
		b.Run(name, func(b *testing.B) {
			store, err := persistence.Open(b.TempDir(), persistence.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			var reg *prometheus.Registry
			var areg prometheus.Registerer
			if instrumented {
				reg = prometheus.NewRegistry()
				areg = reg
				reg.MustRegister(store.Collector())
			}
			accts, _ := accounts.New(store, time.Now)
			_, account, err := accts.CreateAccount()
			if err != nil {
				b.Fatal(err)
			}
			_, key, err := accts.CreateProject(account.ID, accounts.NewProject{Name: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			src, _ := rates.NewStatic(rates.DefaultStaticRates(), time.Now())
			rules := engine.DefaultRules()
			registry, err := actors.New(actors.Config{Store: store, Rules: rules, Deriver: devchain.NewDeriver(devchain.DevSeed()), Rates: src, Metrics: areg})
			if err != nil {
				b.Fatal(err)
			}
			defer registry.Shutdown()
			cfg := httpapi.Config{Invoices: registry, Accounts: accts, Rules: rules, Rates: src}
			if instrumented {
				cfg.Registerer = reg
			}
			api := httpapi.New(cfg)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := fmt.Sprintf(`{"order_id":"o-%d","fiat_amount":"19.99","currency":"BTC"}`, n.Add(1))
					req, _ := http.NewRequest("POST", "/api/v1/invoices", strings.NewReader(body))
					req.Header.Set("Api-Key", key)
					req.Header.Set("Content-Type", "application/json")
					rec := &discardRecorder{header: http.Header{}}
					api.ServeHTTP(rec, req)
					if rec.code != http.StatusCreated {
						b.Errorf("create: %d", rec.code)
						return
					}
				}
			})
		})
	}
}

// discardRecorder is a ResponseWriter that keeps only the status.
type discardRecorder struct {
	header http.Header
	code   int
}

func (d *discardRecorder) Header() http.Header         { return d.header }
func (d *discardRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardRecorder) WriteHeader(code int)        { d.code = code }
