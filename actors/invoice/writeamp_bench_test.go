package invoice

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

var (
	writeAmpInvoices = flag.Int("writeamp-invoices", 200_000, "invoices BenchmarkWriteAmp creates and then expires")
	writeAmpLag      = flag.Int("writeamp-lag", 0, "BenchmarkWriteAmp: when > 0, invoices expire while creates go on, each group once this many invoices were created after it (the storm's order); the figures are per invoice, create and expiry together")
	writeAmpAttempts = flag.Bool("writeamp-attempt", false, "BenchmarkWriteAmp: each expiry group's webhooks fail one delivery attempt right after their commit, as the storm's dead receiver makes them")
)

// BenchmarkWriteAmp measures what Pebble writes for the storm of issue 14:
// -writeamp-invoices durable creates with a callback URL (64 at a time, as
// HTTP would), then the expiry of all of them in groups of 50 (the expiry
// scheduler's ApplyAll), each phase ended by a flush and a wait for the
// compactions it caused. It reports per create and per expiry the bytes of
// the WAL, of flushes and of compactions, and the keys written (each one a
// memtable insert); then, for the store at rest, its L0 sublevels, the
// tombstones its tables still hold and the block-cache lookups of loading
// every tenth invoice. These depend on the workload and the store's options,
// not on the machine's speed, so a before/after comparison holds on a busy
// machine; ns/op does not. With -writeamp-attempt, the expire figures
// include one failed delivery attempt of each expiry's webhook, recorded
// right after its group commits as the deliverer records it (its state
// rewritten, its due key moved 10 s on, one synced batch per group).
// With -writeamp-lag L, creates and expiries run together, each expiry
// group once L more invoices were created, as in the storm where invoices
// expire a minute after their create while creates go on: a delete then
// often meets its key above the bottom level. The figures are then per
// invoice, its create and expiry together.
func BenchmarkWriteAmp(b *testing.B) {
	n := *writeAmpInvoices
	for b.Loop() {
		svc, store := newTestService(b)
		db := store.DB()
		project := uuid.New()
		ids := make([]uuid.UUID, n)
		created := make([]atomic.Bool, n) // ids[i] is set
		var next, chunk atomic.Int64
		at := time.Now().Add(time.Hour)
		create := func() error {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				inv, _, err := svc.Create(context.Background(), project, engine.CreateRequest{
					OrderID: fmt.Sprint("order-", i), Currency: "BTC", FiatAmount: ptr("19.99"),
					ExpireMin: ptr(int64(1)), CallbackURL: ptr("https://shop.example.com/callback"),
				}, "")
				if err != nil {
					return err
				}
				ids[i] = inv.ID
				created[i].Store(true)
			}
			return nil
		}
		expire := func() error {
			for i := chunk.Add(50) - 50; i < int64(n); i = chunk.Add(50) - 50 {
				end := min(i+50, int64(n))
				// With a lag, the group waits until it and the lag's
				// invoices after it are created (the last ones: until
				// every create is done).
				for j := i; j < min(end+int64(*writeAmpLag), int64(n)); j++ {
					for !created[j].Load() {
						time.Sleep(time.Millisecond)
					}
				}
				group := ids[i:end]
				for _, err := range svc.ApplyAll(context.Background(), group, engine.Expire{At: at}) {
					if err != nil {
						return err
					}
				}
				if *writeAmpAttempts {
					if err := failAttempts(store, group, at); err != nil {
						return err
					}
				}
			}
			return nil
		}
		m0 := writeAmpSample(b, db)
		if *writeAmpLag > 0 {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); runWorkers(b, 4, expire) }()
			runWorkers(b, 64, create)
			wg.Wait()
			writeAmpSample(b, db).sub(m0).report(b, "invoice", n)
		} else {
			runWorkers(b, 64, create)
			m1 := writeAmpSample(b, db)
			runWorkers(b, 4, expire)
			m2 := writeAmpSample(b, db)
			m1.sub(m0).report(b, "create", n)
			m2.sub(m1).report(b, "expire", n)
		}
		// The reads a store at rest costs: loads of invoices the state
		// cache does not hold, in block-cache lookups per load.
		c0 := db.Metrics().BlockCache
		for i := 0; i < n; i += 10 {
			if _, err := Load(store, ids[i]); err != nil {
				b.Fatal(err)
			}
		}
		c1 := db.Metrics().BlockCache
		b.ReportMetric(float64(c1.Hits+c1.Misses-c0.Hits-c0.Misses)/float64((n+9)/10), "blocks/load")
		b.ReportMetric(float64(db.Metrics().Levels[0].Sublevels), "L0-sublevels")
		// Tombstones still in the tables at rest: what later compactions
		// carry on towards the bottom level.
		b.ReportMetric(float64(db.Metrics().Keys.TombstoneCount)/float64(n), "tombstones/invoice")
	}
}

// failAttempts records one failed delivery attempt of the pending webhook
// of each invoice, as the deliverer does after a refused connection.
func failAttempts(store *persistence.Store, invoices []uuid.UUID, at time.Time) error {
	updates := make([]persistence.OutboxUpdate, 0, len(invoices))
	for _, id := range invoices {
		q, err := store.OutboxQueue(id)
		if err != nil {
			return err
		}
		for _, e := range q {
			if e.State.Status != persistence.OutboxPending {
				continue
			}
			next := e.State
			next.Failures++
			next.Next = at.Add(10 * time.Second).UnixNano()
			next.Attempts = append(next.Attempts, persistence.OutboxAttempt{At: at.UnixNano(), Error: "dial tcp 127.0.0.1:9: connect: connection refused", Duration: 120_000})
			updates = append(updates, persistence.OutboxUpdate{Invoice: id, Seq: e.Record.Seq, Old: e.State, New: next})
			break
		}
	}
	return store.UpdateOutbox(updates)
}

// runWorkers runs work on k goroutines and fails b on the first error.
func runWorkers(b *testing.B, k int, work func() error) {
	var wg sync.WaitGroup
	errs := make(chan error, k)
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := work(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// writeAmp is what the store has written so far.
type writeAmp struct {
	wal, flushed, compacted, keys uint64
}

// writeAmpSample flushes the memtable, waits for the compactions in
// it causes to finish, and reads the store's totals.
func writeAmpSample(b *testing.B, db *pebble.DB) writeAmp {
	b.Helper()
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	// Idle for three samples in a row: a finished flush or compaction
	// schedules the next one at once.
	for idle, deadline := 0, time.Now().Add(10*time.Minute); idle < 3; time.Sleep(50 * time.Millisecond) {
		if m := db.Metrics(); m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			idle++
		} else {
			idle = 0
		}
		if time.Now().After(deadline) {
			b.Fatal("store still compacting after 10 minutes")
		}
	}
	// Every key a batch writes takes one sequence number, so the sequence
	// number of a new snapshot counts the keys written (and memtable
	// inserts made) so far. Pebble exposes it only as the earliest open
	// snapshot's, which is this one: nothing else holds a snapshot here.
	snap := db.NewSnapshot()
	m := db.Metrics()
	if err := snap.Close(); err != nil {
		b.Fatal(err)
	}
	w := writeAmp{wal: m.WAL.BytesWritten, keys: uint64(m.Snapshots.EarliestSeqNum)}
	for _, l := range m.Levels { // blob files too, were values separated
		w.flushed += l.TableBytesFlushed + l.BlobBytesFlushed
		w.compacted += l.TableBytesCompacted + l.BlobBytesCompacted
	}
	return w
}

func (w writeAmp) sub(o writeAmp) writeAmp {
	return writeAmp{w.wal - o.wal, w.flushed - o.flushed, w.compacted - o.compacted, w.keys - o.keys}
}

func (w writeAmp) report(b *testing.B, op string, n int) {
	per := func(v uint64) float64 { return float64(v) / float64(n) }
	b.ReportMetric(per(w.wal), "wal-B/"+op)
	b.ReportMetric(per(w.flushed), "flush-B/"+op)
	b.ReportMetric(per(w.compacted), "compact-B/"+op)
	b.ReportMetric(per(w.keys), "keys/"+op)
}
