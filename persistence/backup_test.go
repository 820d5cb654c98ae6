package persistence

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestCheckpoint_WhileWriting takes checkpoints while writers keep
// committing, and checks that each one opens, holds every commit
// acknowledged before it was started, and passes the integrity check: a
// checkpoint never holds half a batch.
func TestCheckpoint_WhileWriting(t *testing.T) {
	s := newStore(t)
	project := uuid.New()

	// acked[i] is the stream id of the i-th acknowledged create.
	var mu sync.Mutex
	var acked []uuid.UUID
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for wi := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(wi), 9))
			w := newCkWorld(t, s)
			for i := 0; !stop.Load(); i++ {
				id := uuid.New()
				r := ckRandomRow(rng, project, id, fmt.Sprintf("w%d-%d", wi, i))
				if err := w.put(r, AddressClaim(r.Currency, uint64(wi*1_000_000+i), r.Watch.Address, id)); err != nil {
					errs <- err
					return
				}
				// A second commit moves the invoice, so checkpoints
				// also catch streams between two versions.
				next := *r
				next.Status, next.ExpiresAt = "cancelled", 0
				next.Watch = &Watch{Currency: r.Currency, Address: r.Watch.Address, Until: 77}
				if err := w.put(&next); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	dir := t.TempDir()
	defer func() { stop.Store(true); wg.Wait() }()
	for round := range 3 {
		time.Sleep(50 * time.Millisecond) // let acknowledged commits pile up
		mu.Lock()
		before := append([]uuid.UUID(nil), acked...)
		mu.Unlock()
		cp := filepath.Join(dir, fmt.Sprintf("cp%d", round))
		if err := s.Checkpoint(cp); err != nil {
			t.Fatal(err)
		}
		c, err := Open(cp, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range before {
			if _, v, _, err := c.Load(id); err != nil || v != 2 {
				t.Fatalf("checkpoint %d lost acknowledged invoice %s: version %d %v", round, id, v, err)
			}
		}
		rep, err := c.Check(ckRows, CheckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("checkpoint %d: %v", round, rep.Problems)
		}
		t.Logf("checkpoint %d: %d streams, %d acknowledged before it", round, rep.Streams, len(before))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if err := s.Checkpoint(filepath.Join(dir, "cp0")); err == nil {
		t.Fatal("checkpoint into an existing directory succeeded")
	}
}
