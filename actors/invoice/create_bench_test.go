package invoice

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/internal/actortest"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// BenchmarkCreate is a durable create through the invoice actors (decide,
// one synced batch, reply), from many goroutines as an HTTP server would.
func BenchmarkCreate(b *testing.B) {
	r, _ := newTestService(b)
	project := uuid.New()
	var n atomic.Int64
	b.SetParallelism(32) // 64 concurrent creates on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, _, err := r.Create(context.Background(), project, engine.CreateRequest{OrderID: fmt.Sprint(i), Currency: "BTC", FiatAmount: ptr("19.99")}, "")
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// newTestService is an invoice Service over a real store in a temp dir.
func newTestService(tb testing.TB) (*Service, *persistence.Store) {
	tb.Helper()
	p := actortest.New(tb)
	s, err := New(Config{Store: p.Store, Rules: p.Rules, Deriver: p.Deriver, Rates: p.Rates, StateCacheBytes: DefaultStateCacheBytes})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	return s, p.Store
}

func ptr[T any](v T) *T { return &v }
