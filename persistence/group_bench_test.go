package persistence

import (
	"math/big"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkGroupCommit measures a chain round's group commit alone: 10,000
// members, each an invoice's status change as a payment makes it (two
// ~120-byte events, its index rows moved, its expiry dropped), join one
// Group; an op is the time from the last member's arrival until every
// member's done has run, which is the round's tail after its dispatch
// (docs/performance.md, "Block match, session 11"). The members' batches
// (14 MB) pass Pebble's large-batch threshold, as a round's do. It also
// reports the process's CPU time per op (all goroutines, Pebble's flush of
// the batch included): on a busy machine the wall time says little, the
// CPU time still does.
func BenchmarkGroupCommit(b *testing.B) {
	const n = 10_000
	s := newStore(b)
	project := uuid.New()
	rows := make([]*IndexRow, n)
	versions := make([]uint64, n)
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range rows {
		rows[i] = &IndexRow{
			ProjectID: project, InvoiceID: uuid.New(), Status: "new", Currency: "BTC",
			CreatedAt: created + int64(i), UpdatedAt: created + int64(i),
			Fiat: big.NewInt(1999), Crypto: big.NewInt(100_000_000_000_000),
			ExpiresAt: created + int64(time.Hour),
		}
	}
	event := make([]byte, 120)
	commits := func(status string, at int64) []Commit {
		cs := make([]Commit, n)
		for i, old := range rows {
			next := *old
			next.Status, next.UpdatedAt, next.ExpiresAt = status, at, 0
			cs[i] = Commit{Stream: old.InvoiceID, ExpectedVersion: versions[i], Events: [][]byte{event, event}, New: &next}
			if versions[i] > 0 {
				cs[i].Old = old
			}
		}
		return cs
	}
	// run commits cs as one group; the timer and cpu run from the last Add.
	var cpu time.Duration
	run := func(cs []Commit) {
		var wg sync.WaitGroup
		wg.Add(len(cs))
		g := s.NewGroup(len(cs), time.Minute)
		for i, c := range cs {
			if i == len(cs)-1 {
				b.StartTimer()
				cpu -= processCPU()
			}
			g.Add(c, func(v uint64, err error) {
				if err != nil {
					b.Error(err)
				}
				versions[i] = v
				wg.Done()
			})
		}
		wg.Wait()
		b.StopTimer()
		cpu += processCPU()
		for i := range rows {
			rows[i] = cs[i].New
		}
	}
	b.StopTimer()
	run(commits("new", created))
	cpu = 0
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		cs := commits([]string{"paid", "complete"}[i%2], created+int64(i+1)*int64(time.Minute))
		if err := s.db.Flush(); err != nil {
			b.Fatal(err)
		}
		settleStore(b, s)
		run(cs)
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
