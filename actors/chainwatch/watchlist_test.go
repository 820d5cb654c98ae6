package chainwatch

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestWatchlist_Expired: a sweep finds exactly the watches that ended
// before now, each once, whatever was set over them since, and finds
// again what it could not remove.
func TestWatchlist_Expired(t *testing.T) {
	type set struct {
		address string
		until   int64
	}
	for _, tc := range []struct {
		name string
		sets []set
		want []string // at now = 100
	}{
		{"open watches never end", []set{{"a", 0}}, nil},
		{"ended before now", []set{{"a", 50}, {"b", 99}, {"c", 100}, {"d", 150}}, []string{"a", "b"}},
		{"set again with a later end", []set{{"a", 50}, {"a", 150}}, nil},
		{"reopened", []set{{"a", 50}, {"a", 0}}, nil},
		{"set twice with the same end", []set{{"a", 50}, {"a", 50}}, []string{"a"}},
		{"ended again earlier", []set{{"a", 150}, {"a", 50}}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWatchlist()
			for _, s := range tc.sets {
				w.Set("BTC", s.address, uuid.New(), s.until)
			}
			w.Set("LTC", "other", uuid.New(), 1)
			got := w.expired("BTC", 100)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("expired = %v, want %v", got, tc.want)
			}
			if again := w.expired("BTC", 100); len(again) != 0 {
				t.Fatalf("expired again = %v, want nothing until retried", again)
			}
			w.retry("BTC", got)
			again := w.expired("BTC", 100)
			slices.Sort(again)
			if !slices.Equal(again, tc.want) {
				t.Fatalf("after retry, expired = %v, want %v", again, tc.want)
			}
			for _, a := range again {
				if !w.remove("BTC", a, 100) {
					t.Fatalf("remove %s failed", a)
				}
			}
			w.retry("BTC", again) // removed: nothing to find again
			if left := w.expired("BTC", 100); len(left) != 0 {
				t.Fatalf("after remove, expired = %v", left)
			}
		})
	}
}

// BenchmarkWatchlistExpired is a monitor's sweep among 1,000,000 open
// watches and 10,000 that end later.
func BenchmarkWatchlistExpired(b *testing.B) {
	w := newWatchlist()
	for i := range 1_000_000 {
		w.Set("BTC", fmt.Sprintf("open%07d", i), uuid.New(), 0)
	}
	for i := range 10_000 {
		w.Set("BTC", fmt.Sprintf("ends%05d", i), uuid.New(), int64(1000+i))
	}
	b.ResetTimer()
	for range b.N {
		if got := w.expired("BTC", 500); len(got) != 0 {
			b.Fatal(got)
		}
	}
}

// BenchmarkWatchlistHeap reports the heap a million open watches of
// regtest-length addresses hold, and how long a collection takes with them
// live (the list is pointer-free, so the collector should not scan it).
// go test -run '^$' -bench WatchlistHeap -benchtime 1x ./actors/chainwatch
func BenchmarkWatchlistHeap(b *testing.B) {
	const n = 1_000_000
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w := newWatchlist()
		for i := range n {
			w.Set("BTC", fmt.Sprintf("bcrt1q%038d", i), uuid.New(), 0)
		}
		runtime.GC()
		start := time.Now()
		runtime.GC()
		gc := time.Since(start)
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/watch")
		b.ReportMetric(float64(gc.Microseconds()), "µs/GC")
		runtime.KeepAlive(w)
	}
}
