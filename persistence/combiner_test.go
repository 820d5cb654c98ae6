package persistence

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// keysWritten is the number of keys written to s so far: every key a
// batch writes takes one sequence number (see BenchmarkWriteAmp).
func keysWritten(s *Store) uint64 {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	return uint64(s.db.Metrics().Snapshots.EarliestSeqNum)
}

// TestCombiner_GatheredCommitsAreOneBatch holds a write in flight while
// commits arrive: creates of one project in one bucket and status changes
// of existing invoices gather and are written as one batch whose counter
// deltas are summed (as many keys as the commits' own writes plus one
// merge per distinct counter), each gets its own version and Committed
// hook, and the store checks clean. Commits whose checks fail (a stale
// version, a taken claim) fail at once, alone, without joining.
func TestCombiner_GatheredCommitsAreOneBatch(t *testing.T) {
	s := newStore(t)
	w := populateCk(t, s, 5, 10)
	rng := rand.New(rand.NewPCG(5, 2))
	project := uuid.New()

	var cs []Commit
	var rows []*IndexRow
	for id, old := range w.rows {
		next := ckRandomRow(rng, old.ProjectID, id, "")
		next.Currency, next.CreatedAt, next.Watch = old.Currency, old.CreatedAt, old.Watch
		rows = append(rows, next)
		cs = append(cs, w.groupCommit(next))
	}
	w.mustPut(row(project, uuid.New(), "new", "BTC", 1<<40, 10), OrderIDClaim(project, "taken", []byte("x")))
	for i := range 20 {
		r := row(project, uuid.New(), "new", "BTC", 1<<40+int64(i), 10)
		rows = append(rows, r)
		cs = append(cs, w.groupCommit(r, OrderIDClaim(project, fmt.Sprint("order-", i), []byte("v"))))
	}
	// what separate commits would write: their own keys and every delta
	wantKeys, sums := uint64(0), map[string]int64{}
	for _, c := range cs {
		b, err := s.commitBatch(c, c.ExpectedVersion+1)
		if err != nil {
			t.Fatal(err)
		}
		wantKeys += uint64(b.Count())
		b.Close()
		for _, d := range counterDeltas(c.Old, c.New) {
			sums[string(d.key)] += d.delta
		}
	}
	for _, d := range sums {
		if d != 0 {
			wantKeys++
		}
	}

	s.combiner.mu.Lock()
	s.combiner.writing = true // a write in flight
	s.combiner.mu.Unlock()
	before := keysWritten(s)

	stale := w.groupCommit(rows[0])
	stale.ExpectedVersion++
	taken := w.groupCommit(row(project, uuid.New(), "new", "BTC", 1<<40, 10), OrderIDClaim(project, "taken", []byte("y")))
	if _, err := s.Commit(stale); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("stale commit: %v, want a version conflict", err)
	}
	var claimErr *ClaimTakenError
	if _, err := s.Commit(taken); !errors.As(err, &claimErr) {
		t.Fatalf("commit of a taken claim: %v, want ClaimTakenError", err)
	}

	var hooks atomic.Int32
	versions, errs := make([]uint64, len(cs)), make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		c.Committed = readableHook(t, s, c.Stream, &hooks)
		wg.Go(func() { versions[i], errs[i] = s.Commit(c) })
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.combiner.mu.Lock()
		n := len(s.combiner.next)
		s.combiner.mu.Unlock()
		if n == len(cs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d commits gathered", n, len(cs))
		}
	}
	if hooks.Load() != 0 || keysWritten(s) != before {
		t.Fatal("a gathered commit was written before the write in flight ended")
	}
	s.handOff() // the write in flight ends
	wg.Wait()

	w.committed(rows, cs, versions, errs, &hooks)
	if got := keysWritten(s) - before; got != wantKeys {
		t.Fatalf("%d keys written, want %d (one batch, counter deltas summed)", got, wantKeys)
	}
	if rep := ckCheck(t, s, CheckOptions{}); !rep.OK() {
		t.Fatalf("after the combined write: %v", rep.Problems)
	}
	if got := counterValue(t, s, project, maskStatus, "new", ""); got != 21 {
		t.Fatalf("project's new invoices: counter %d, want 21", got)
	}
	if s.combiner.writing {
		t.Fatal("the combiner still writing with nothing gathered")
	}
}

// TestCombiner_ConcurrentCommitsMatchTheModel commits creates and changes
// from many goroutines at once, so that writes combine as they happen to,
// and checks every acknowledged commit, the counters and the store.
func TestCombiner_ConcurrentCommitsMatchTheModel(t *testing.T) {
	s := newStore(t)
	projects := []uuid.UUID{uuid.New(), uuid.New()}
	const writers, perWriter = 16, 30
	worlds := make([]*ckWorld, writers)
	var wg sync.WaitGroup
	for g := range writers {
		worlds[g] = newCkWorld(t, s)
		wg.Go(func() {
			w, rng := worlds[g], rand.New(rand.NewPCG(uint64(g), 9))
			var ids []uuid.UUID
			for i := range perWriter {
				if i%3 == 2 {
					id := ids[rng.IntN(len(ids))]
					old := w.rows[id]
					next := ckRandomRow(rng, old.ProjectID, id, "")
					next.Currency, next.CreatedAt = old.Currency, old.CreatedAt
					if err := w.put(next); err != nil {
						t.Error(err)
					}
					continue
				}
				id := uuid.New()
				ids = append(ids, id)
				if err := w.put(ckRandomRow(rng, projects[i%2], id, ""), OrderIDClaim(projects[i%2], id.String(), id[:])); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	all := map[uuid.UUID]*IndexRow{}
	for _, w := range worlds {
		for id, r := range w.rows {
			all[id] = r
			if _, v, _, err := s.Load(id); err != nil || v != w.ver[id] {
				t.Fatalf("%s: version %d, %v; acknowledged %d", id, v, err, w.ver[id])
			}
		}
	}
	if rep := ckCheck(t, s, CheckOptions{}); !rep.OK() {
		t.Fatalf("after concurrent commits: %v", rep.Problems)
	}
	checkStatusCounters(t, s, all, projects...)
}

// checkStatusCounters checks the projects' status counters against rows.
func checkStatusCounters(t *testing.T, s *Store, rows map[uuid.UUID]*IndexRow, projects ...uuid.UUID) {
	t.Helper()
	for _, p := range projects {
		for _, st := range ckStatuses {
			_, want := listModel(rows).query(Query{ProjectID: p, Status: st})
			if got := counterValue(t, s, p, maskStatus, st, ""); got != int64(want) {
				t.Fatalf("project %s status %s: counter %d, want %d", p, st, got, want)
			}
		}
	}
}

// TestCombiner_HandOffCapsTheBatch: the gathered batches are handed on in
// arrival order, as many as fit in maxCombinedBytes, at least one; the
// rest wait for the batch after.
func TestCombiner_HandOffCapsTheBatch(t *testing.T) {
	const k = 1 << 10
	cases := []struct {
		sizes []int // value bytes of each gathered batch
		want  []int // joiners per batch handed on
	}{
		{[]int{1 * k}, []int{1}},
		{[]int{1 * k, 1 * k, 1 * k}, []int{3}},
		{[]int{600 * k, 600 * k, 100 * k}, []int{1, 2}},
		{[]int{2048 * k, 1 * k}, []int{1, 1}},
		{[]int{1 * k, 2048 * k, 1 * k}, []int{1, 1, 1}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.sizes), func(t *testing.T) {
			s := newStore(t)
			c := &s.combiner
			c.writing = true
			for _, n := range tc.sizes {
				b := s.db.NewBatch()
				defer b.Close()
				if err := b.Set([]byte("k"), make([]byte, n), nil); err != nil {
					t.Fatal(err)
				}
				j := &joiner{b: b}
				j.ready.Lock()
				c.next = append(c.next, j)
			}
			var got []int
			for c.writing {
				first := c.next
				s.handOff()
				if c.writing {
					if !first[0].ready.TryLock() {
						t.Fatal("the next leader was not released")
					}
					got = append(got, len(first[0].lead))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("batches of %v joiners, want %v", got, tc.want)
			}
		})
	}
}
