package persistence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/internal/clock"
)

// groupCommit is the commit that moves w's stream of row.InvoiceID to row,
// as ckWorld.put builds it.
func (w *ckWorld) groupCommit(row *IndexRow, claims ...Claim) Commit {
	snap, err := json.Marshal(row)
	if err != nil {
		w.t.Fatal(err)
	}
	return Commit{
		Stream: row.InvoiceID, ExpectedVersion: w.ver[row.InvoiceID], Events: [][]byte{fmt.Appendf(nil, "e%d", w.ver[row.InvoiceID]+1)},
		Snapshot: snap, Old: w.rows[row.InvoiceID], New: row, Claims: claims,
	}
}

// readableHook is a Committed hook that checks stream is readable from s
// when it runs, and counts itself in hooks.
func readableHook(t testing.TB, s *Store, stream uuid.UUID, hooks *atomic.Int32) func() {
	return func() {
		if _, _, _, err := s.Load(stream); err != nil {
			t.Errorf("Committed ran before %s was readable: %v", stream, err)
		}
		hooks.Add(1)
	}
}

// committed checks that each of cs (moving to rows) committed at its next
// version and ran its Committed hook (counted in hooks), and records rows
// as w's state.
func (w *ckWorld) committed(rows []*IndexRow, cs []Commit, versions []uint64, errs []error, hooks *atomic.Int32) {
	w.t.Helper()
	for i, r := range rows {
		if errs[i] != nil || versions[i] != cs[i].ExpectedVersion+1 {
			w.t.Fatalf("commit %d: version %d, %v", i, versions[i], errs[i])
		}
		w.rows[r.InvoiceID], w.ver[r.InvoiceID] = r, versions[i]
	}
	if int(hooks.Load()) != len(cs) {
		w.t.Fatalf("%d Committed hooks ran for %d commits", hooks.Load(), len(cs))
	}
}

// runGroup commits cs as the members of one group, concurrently, and
// returns each one's version and error.
func runGroup(g *Group, cs []Commit) ([]uint64, []error) {
	versions, errs := make([]uint64, len(cs)), make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { versions[i], errs[i] = g.Commit(c) })
	}
	wg.Wait()
	return versions, errs
}

// TestGroup_CommitsLikeSeparateCommits: a group's members, new invoices
// and status changes of existing ones across two projects, end up exactly
// as separate commits would leave them: the check (which recounts every
// index key and counter, summed deltas included) is clean, each member
// gets its version and its Committed hook runs once, after the batch is
// durable. With events of 160 KB the group's batch passes Pebble's
// large-batch threshold (half the 16 MiB memtable) and is committed as a
// flushable batch, as a chain round's is; the records are then in key
// order before Pebble sees them (groupbatch.go). The group is a chain
// round's: its batch also holds the chain state it was given. The store,
// reopened after a simulated power cut (only synced data kept), replays the
// batch from its WAL to the same state.
func TestGroup_CommitsLikeSeparateCommits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event int // bytes of each member's event
	}{
		{"memtable", 2},
		{"flushable batch", 160 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			s, err := Open("db", Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			w := populateCk(t, s, 11, 40)
			rng := rand.New(rand.NewPCG(11, 2))
			var cs []Commit
			var rows []*IndexRow
			for id, old := range w.rows {
				next := ckRandomRow(rng, old.ProjectID, id, "")
				next.Currency, next.CreatedAt, next.Watch = old.Currency, old.CreatedAt, old.Watch
				rows = append(rows, next)
			}
			for i := range 20 {
				rows = append(rows, ckRandomRow(rng, uuid.New(), uuid.New(), fmt.Sprintf("new-addr-%d", i)))
			}
			var hooks atomic.Int32
			for _, r := range rows {
				c := w.groupCommit(r)
				c.Events[0] = append(c.Events[0], bytes.Repeat([]byte{'.'}, tc.event-len(c.Events[0]))...)
				c.Committed = readableHook(t, s, r.InvoiceID, &hooks)
				cs = append(cs, c)
			}
			if tc.event > 2 && tc.event*len(cs) < 8<<20 {
				t.Fatalf("%d members of %d bytes stay below the large-batch threshold", len(cs), tc.event)
			}
			state := []byte("write-ahead " + tc.name)
			versions, errs := runGroup(s.NewChainGroup(len(cs), time.Minute, "testnet", state), cs)
			w.committed(rows, cs, versions, errs, &hooks)
			for _, when := range []string{"after the group", "after a power cut"} {
				if when == "after a power cut" {
					s = powerLoss(t, fs, s)
				}
				if rep := ckCheck(t, s, CheckOptions{}); !rep.OK() {
					t.Fatalf("%s: %v", when, rep.Problems)
				}
				checkStatusCounters(t, s, w.rows, rows[0].ProjectID, rows[len(rows)-1].ProjectID)
				if got, err := s.ChainState("testnet"); err != nil || !bytes.Equal(got, state) {
					t.Fatalf("%s: chain state %q, %v; want %q", when, got, err, state)
				}
				for i, c := range cs {
					if got := mustGet(t, s.DB(), eventKey(c.Stream, versions[i])); !bytes.Equal(got, c.Events[0]) {
						t.Fatalf("%s: member %d: event of %d bytes stored, want its %d", when, i, len(got), len(c.Events[0]))
					}
				}
			}
		})
	}
}

// TestGroup_MemberChecks: a member whose version is stale, or whose claim
// is taken in the store or by an earlier member of the same batch, fails
// alone with the error Commit gives; the others are written.
func TestGroup_MemberChecks(t *testing.T) {
	s := newStore(t)
	w := newCkWorld(t, s)
	project := uuid.New()
	rng := rand.New(rand.NewPCG(3, 4))
	taken := OrderIDClaim(project, "taken", []byte("earlier"))
	w.mustPut(ckRandomRow(rng, project, uuid.New(), ""), taken)
	existing := ckRandomRow(rng, project, uuid.New(), "")
	w.mustPut(existing)

	stale := w.groupCommit(ckRandomRow(rng, project, existing.InvoiceID, ""))
	stale.ExpectedVersion = 0
	good := w.groupCommit(ckRandomRow(rng, project, uuid.New(), ""), OrderIDClaim(project, "fresh", []byte("first")))
	sameClaim := w.groupCommit(ckRandomRow(rng, project, uuid.New(), ""), OrderIDClaim(project, "fresh", []byte("second")))
	storeClaim := w.groupCommit(ckRandomRow(rng, project, uuid.New(), ""), OrderIDClaim(project, "taken", []byte("third")))

	g := s.NewGroup(4, time.Minute)
	// good must come before sameClaim in the batch: commit it first.
	goodDone := make(chan error, 1)
	go func() {
		_, err := g.Commit(good)
		goodDone <- err
	}()
	for g.arrivedForTest() < 1 {
		time.Sleep(time.Millisecond)
	}
	_, errs := runGroup(g, []Commit{stale, sameClaim, storeClaim})
	if goodErr := <-goodDone; goodErr != nil {
		t.Fatalf("good member: %v", goodErr)
	}
	if !errors.Is(errs[0], ErrVersionConflict) {
		t.Fatalf("stale member: %v, want a version conflict", errs[0])
	}
	var ct *ClaimTakenError
	if !errors.As(errs[1], &ct) || string(ct.Existing) != "first" {
		t.Fatalf("claim taken in the batch: %v", errs[1])
	}
	if !errors.As(errs[2], &ct) || string(ct.Existing) != "earlier" {
		t.Fatalf("claim taken in the store: %v", errs[2])
	}
	w.rows[good.Stream], w.ver[good.Stream] = good.New, 1
	if rep := ckCheck(t, s, CheckOptions{}); !rep.OK() {
		t.Fatalf("after the group: %v", rep.Problems)
	}
}

// TestGroup_WaitBoundsAMissingMember: members that leave count as
// arrived; a member that never comes holds the others up only until the
// group's wait runs out on the store's clock, and one arriving after that
// commits alone. A chain round's group writes its chain state with the
// members that came, before the late one.
func TestGroup_WaitBoundsAMissingMember(t *testing.T) {
	for _, chain := range []bool{false, true} {
		t.Run(fmt.Sprintf("chain round %v", chain), func(t *testing.T) {
			clk := clock.NewTest(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			s, err := Open(t.TempDir(), Options{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			w := newCkWorld(t, s)
			rng := rand.New(rand.NewPCG(5, 6))
			project := uuid.New()
			early := w.groupCommit(ckRandomRow(rng, project, uuid.New(), ""))
			late := w.groupCommit(ckRandomRow(rng, project, uuid.New(), ""))

			var g *Group
			if chain {
				g = s.NewChainGroup(3, time.Hour, "testnet", []byte("write-ahead"))
			} else {
				g = s.NewGroup(3, time.Hour)
			}
			if d := <-clk.Waits(); d != time.Hour {
				t.Fatalf("the group waits %s on the clock, want 1h", d)
			}
			g.Leave()
			type result struct {
				v   uint64
				err error
			}
			done := make(chan result, 1)
			g.Add(early, func(v uint64, err error) { done <- result{v, err} })
			clk.Add(time.Hour - time.Nanosecond)
			if g.sealedForTest() {
				t.Fatal("the group committed before its wait ran out, without its third member")
			}
			clk.Add(time.Nanosecond)
			if r := <-done; r.err != nil || r.v != 1 {
				t.Fatalf("early member: %d, %v", r.v, r.err)
			}
			if _, _, _, err := s.Load(early.Stream); err != nil {
				t.Fatalf("early member not written: %v", err)
			}
			if got, err := s.ChainState("testnet"); chain && (err != nil || string(got) != "write-ahead") {
				t.Fatalf("chain state with the early member: %q, %v", got, err)
			}
			if v, err := g.Commit(late); err != nil || v != 1 {
				t.Fatalf("late member: %d, %v", v, err)
			}
			g.Leave() // after the group committed: nothing to do
			w.rows[early.Stream], w.ver[early.Stream] = early.New, 1
			w.rows[late.Stream], w.ver[late.Stream] = late.New, 1
			if rep := ckCheck(t, s, CheckOptions{}); !rep.OK() {
				t.Fatalf("after the group: %v", rep.Problems)
			}
		})
	}
}

// TestGroup_ChainStateWithoutMembers: a chain round's group whose members
// all leave or fail their checks still writes its chain state, which a
// late member may rely on; a group of no members writes nothing.
func TestGroup_ChainStateWithoutMembers(t *testing.T) {
	s := newStore(t)
	w := newCkWorld(t, s)
	existing := ckRandomRow(rand.New(rand.NewPCG(7, 8)), uuid.New(), uuid.New(), "")
	w.mustPut(existing)
	stale := w.groupCommit(existing)
	stale.ExpectedVersion = 0

	s.NewChainGroup(0, time.Minute, "none", []byte("never"))
	g := s.NewChainGroup(2, time.Minute, "testnet", []byte("write-ahead"))
	g.Leave()
	if _, err := g.Commit(stale); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("stale member: %v, want a version conflict", err)
	}
	if got, err := s.ChainState("testnet"); err != nil || string(got) != "write-ahead" {
		t.Fatalf("chain state: %q, %v", got, err)
	}
	if _, err := s.ChainState("none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a group of no members wrote its chain state: %v", err)
	}
}

// sealedForTest reports whether g has committed or begun to.
func (g *Group) sealedForTest() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sealed
}

// arrivedForTest is how many members have joined g.
func (g *Group) arrivedForTest() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.members)
}
