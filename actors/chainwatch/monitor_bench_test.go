package chainwatch

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/internal/actortest"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// newTestRouter is a chain Router, its invoice Service and its store, over
// a real store in a temp dir.
// requestTimeout is the Router's (0 = its default).
func newTestRouter(tb testing.TB, requestTimeout time.Duration) (*Router, *invoice.Service, *persistence.Store) {
	tb.Helper()
	p := actortest.New(tb)
	watches, err := LoadWatchlist(p.Store, nil)
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := invoice.New(invoice.Config{Store: p.Store, Rules: p.Rules, Deriver: p.Deriver, Rates: p.Rates, Watches: watches, StateCacheBytes: invoice.DefaultStateCacheBytes})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(svc.Shutdown)
	r, err := New(Config{System: svc.System(), Store: p.Store, Rules: p.Rules, Invoices: svc, Watches: watches, RequestTimeout: requestTimeout})
	if err != nil {
		tb.Fatal(err)
	}
	return r, svc, p.Store
}

// blockProfile names a file for a CPU profile of BenchmarkBlockMatch's
// timed phase alone (-test.cpuprofile would mostly show the setup).
var blockProfile = flag.String("blockmatch-cpuprofile", "", "write a CPU profile of BenchmarkBlockMatch's timed phase to `file`")

// blockTimeout is the round's request timeout in BenchmarkBlockMatch: under
// callgrind a round takes minutes.
// blockMemProfile names a file prefix for allocation profiles taken just
// before and just after BenchmarkBlockMatch's timed phase (FILE.before and
// FILE.after): `go tool pprof -diff_base FILE.before FILE.after` shows the
// round's allocations alone (-test.memprofile would mostly show the setup).
var blockMemProfile = flag.String("blockmatch-memprofile", "", "write allocation profiles around BenchmarkBlockMatch's timed phase to `file`.before and .after")

// blockTrace names a file for an execution trace of BenchmarkBlockMatch's
// timed phase alone: it shows which parts of the round run on one
// goroutine while the other CPUs idle (-test.trace would mostly show the
// setup).
var blockTrace = flag.String("blockmatch-trace", "", "write an execution trace of BenchmarkBlockMatch's timed phase to `file`")

var blockTimeout = flag.Duration("blockmatch-timeout", 0, "request timeout of BenchmarkBlockMatch's round (0 = the Router's default)")

// BenchmarkBlockMatch measures the chains issue's target: a block with
// 10,000 outputs paying invoice addresses, among 1,000,000 watched
// addresses, from the monitor reading the block until every payment is
// matched and durably applied (every invoice completed and its events
// synced). Run with -benchtime 1x; setup (10,000 invoices, 990,000 more
// watched addresses) is excluded from the timing.
func BenchmarkBlockMatch(b *testing.B) {
	const paid, watched = 10_000, 1_000_000
	for range b.N {
		b.StopTimer()
		r, svc, store := newTestRouter(b, *blockTimeout)
		project := uuid.New()
		addrs := make([]string, paid)
		ids := make([]uuid.UUID, paid)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := range paid {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				inv, _, err := svc.Create(context.Background(), project, engine.CreateRequest{OrderID: fmt.Sprint(i), Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
				if err != nil {
					b.Error(err)
					return
				}
				addrs[i], ids[i] = inv.Address, inv.ID
			}()
		}
		wg.Wait()
		for i := range watched - paid {
			r.cfg.Watches.Set("BTC", fmt.Sprintf("bcrt1qwatched%07d", i), uuid.New(), 0)
		}
		node := devchain.NewChain("BTC", nil)
		m := r.newMonitor(node, time.Second)
		if err := m.follow(context.Background()); err != nil { // start at the tip
			b.Fatal(err)
		}
		for _, a := range addrs {
			if _, err := node.Pay(a, big.NewInt(100_000), devchain.PayOptions{}); err != nil {
				b.Fatal(err)
			}
			// Unrelated outputs in the same block would only add map misses.
		}
		if _, err := node.Mine(1); err != nil {
			b.Fatal(err)
		}
		// The payments were never in a mempool the monitor saw: the block is
		// the first time it meets them, as with a fast block.
		node.Mempool(context.Background())
		settle(b, store)
		b.StartTimer()
		var gc0 runtime.MemStats
		runtime.ReadMemStats(&gc0)
		compactions0, wal0 := store.DB().Metrics().Compact.Count, store.DB().Metrics().WAL.BytesIn
		writeAllocs(b, ".before")
		stopProfile, stopTrace := startProfile(b), startTrace(b)
		start, cpu0 := time.Now(), cpuTime()
		if err := m.follow(context.Background()); err != nil {
			b.Fatal(err)
		}
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		stopTrace()
		stopProfile()
		b.StopTimer()
		writeAllocs(b, ".after")
		var gc1 runtime.MemStats
		runtime.ReadMemStats(&gc1)
		for _, id := range ids[:100] {
			inv, err := invoice.Load(store, id)
			if err != nil || inv.Status != engine.StatusCompleted {
				b.Fatalf("invoice %s: %s, %v; want completed", id, inv.Status, err)
			}
		}
		b.ReportMetric(elapsed.Seconds(), "s/block")
		b.ReportMetric(float64(paid)/elapsed.Seconds(), "payments/s")
		// CPU the process spent per payment (all goroutines: actors, Pebble
		// flushes and compactions): tells a saturated machine from waiting.
		b.ReportMetric(float64(cpu.Microseconds())/paid, "cpu-µs/payment")
		// What else ran in the timed phase: the figure varies with them.
		b.ReportMetric(float64(store.DB().Metrics().Compact.Count-compactions0), "compactions")
		b.ReportMetric(float64(gc1.NumGC-gc0.NumGC), "GCs")
		// Bytes the round wrote per payment (flushes and compactions grow
		// with them).
		b.ReportMetric(float64(store.DB().Metrics().WAL.BytesIn-wal0)/paid, "wal-B/payment")
	}
}

// startProfile starts the CPU profile -blockmatch-cpuprofile asks for and
// returns what stops it.
func startProfile(b *testing.B) func() {
	return record(b, *blockProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// startTrace starts the execution trace -blockmatch-trace asks for and
// returns what stops it. Started after the CPU profile, the trace holds its
// samples too, each with its time.
func startTrace(b *testing.B) func() {
	return record(b, *blockTrace, trace.Start, trace.Stop)
}

// record starts a recorder (a CPU profile, an execution trace) writing to
// the file path names, unless path is empty, and returns what stops it and
// closes the file.
func record(b *testing.B, path string, start func(io.Writer) error, stop func()) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := start(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		stop()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// writeAllocs writes the allocation profile -blockmatch-memprofile asks
// for to its file name plus suffix.
func writeAllocs(b *testing.B, suffix string) {
	if *blockMemProfile == "" {
		return
	}
	f, err := os.Create(*blockMemProfile + suffix)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC() // the profile shows allocations up to the last GC
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle flushes the memtable, waits until the store runs no flush or
// compaction, and collects garbage, so a timed phase starts from the same
// state every run and pays for the flushing and compaction of its own
// writes, not of the setup's (whether the setup left a memtable about to
// flush made single runs vary by a third).
func settle(b *testing.B, store *persistence.Store) {
	b.Helper()
	if err := store.DB().Flush(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		m := store.DB().Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("store still compacting after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
}
