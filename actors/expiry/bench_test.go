package expiry

import (
	"context"
	"flag"
	"syscall"
	"testing"
	"time"
)

var benchExpiries = flag.Int("expiry-invoices", 20000, "invoices BenchmarkExpireDue expires")

// BenchmarkExpireDue: a mass expiry, -expiry-invoices invoices due at
// once, expired by the scheduler's rounds at 5,000 a second (ten slices of
// 500 a round, groups of 50) on a test clock. cpu-µs/expiry is the
// process's CPU time (every goroutine: actors, group commits, Pebble's
// flushes) over the rounds, divided by the expiries; it survives a busy
// machine better than ns/op.
//
//	go test -run '^$' -bench ExpireDue -benchtime 1x ./actors/expiry
func BenchmarkExpireDue(b *testing.B) {
	n := *benchExpiries
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		svc, s, clk := newScheduler(b, Config{Rate: 5000, Workers: 50})
		createDue(b, svc, clk, n)
		before := cpuTime(b)
		b.StartTimer()
		for done := 0; done < n; {
			asked, _, err := runRound(context.Background(), s, clk)
			if err != nil {
				b.Fatal(err)
			}
			if asked == 0 {
				b.Fatalf("a round found nothing due after %d of %d", done, n)
			}
			done += asked
		}
		b.StopTimer()
		cpu += cpuTime(b) - before
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/expiry")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
