package persistence

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestCounterSeries_MatchesMap adds random deltas to a series and compares
// its total and every bucket range, narrow and wide, across parents, with
// a plain map of the same deltas.
func TestCounterSeries_MatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var s counterSeries
	want := [len(createdShifts)]map[uint64]int64{{}, {}, {}}
	var total int64
	for range 5000 {
		created := uint64(rng.Int64N(1 << 52))
		if rng.IntN(3) == 0 { // crowd a few buckets, so counts fall back to zero
			created = uint64(rng.IntN(4)) << 40
		}
		d := int64(1)
		if rng.IntN(3) == 0 {
			d = -1
		}
		total += d
		for level, shift := range createdShifts {
			s.add(level, created>>shift, d)
			want[level][created>>shift] += d
		}
	}
	if s.total != total {
		t.Fatalf("total %d, want %d", s.total, total)
	}
	for level, shift := range createdShifts {
		for range 300 {
			first := uint64(rng.Int64N(1<<52)) >> shift
			end := first + uint64(rng.Int64N(1<<(52-int(shift))))
			if rng.IntN(4) == 0 {
				first, end = 0, 1<<(63-shift)
			}
			var exp []bucketCount
			for b, n := range want[level] {
				if b >= first && b < end && n != 0 {
					exp = append(exp, bucketCount{b, n})
				}
			}
			slices.SortFunc(exp, func(a, b bucketCount) int { return cmp.Compare(a.bucket, b.bucket) })
			if got := s.appendRange(nil, level, first, end); !slices.Equal(got, exp) {
				t.Fatalf("level %d [%d, %d): %d buckets, want %d", level, first, end, len(got), len(exp))
			}
		}
	}
}

// TestCounterCache_SnapshotHoldsWhatItCounts orders one create's steps
// (begin, write, done or abort) around a reader's snapshot (open) and its
// counts (read) in every way that matters: the total, a created range's
// count and a created_at skip agree with what the snapshot holds.
func TestCounterCache_SnapshotHoldsWhatItCounts(t *testing.T) {
	cases := []struct {
		steps string
		holds bool
	}{
		{"open begin write done read", false},
		{"open begin write read done", false},
		{"begin open write done read", false},
		{"begin open abort read", false},
		{"begin open read write done", false},
		{"begin write open read done", true},
		{"begin write open done read", true},
		{"begin write done open read", true},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.steps, " ", "_"), func(t *testing.T) {
			s := newStore(t)
			project := uuid.New()
			for i := range 3 {
				create(t, s, row(project, uuid.New(), "new", "BTC", int64(i+1)<<28, 10))
			}
			r := row(project, uuid.New(), "new", "BTC", 4<<28+5, 10)
			c := Commit{Stream: r.InvoiceID, Events: evs(1), Snapshot: r.InvoiceID[:], New: r}
			deltas := counterDeltas(nil, r)
			b, err := s.commitBatch(c, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := mergeCounts(b, deltas); err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			want := 3
			if tc.holds {
				want = 4
			}
			queries := []Query{
				{ProjectID: project, Limit: 100},
				{ProjectID: project, Status: "new", Limit: 100},
				{ProjectID: project, CreatedAfter: 1 << 28, Limit: 100},
				{ProjectID: project, CreatedBefore: 5 << 28, Desc: true, Offset: 1, Limit: 100},
			}
			var pending *counterCommit
			var reads []func()
			for _, step := range strings.Fields(tc.steps) {
				switch step {
				case "begin":
					pending = s.counts.begin(streamKey(r.InvoiceID, streamHead), 1, deltas)
				case "write":
					if err := s.commitSynced(b); err != nil {
						t.Fatal(err)
					}
				case "done":
					s.counts.done(pending)
				case "abort":
					s.counts.abort(pending)
				case "open":
					for _, q := range queries {
						view, read, err := s.counts.openRead(s.db, seriesKey(project, q.mask(), q.Status, q.Currency))
						if err != nil {
							t.Fatal(err)
						}
						reads = append(reads, func() {
							defer view.Close()
							ids, total, err := s.page(view, read, q)
							n := want
							if q.CreatedAfter > 0 {
								n-- // the first invoice is not after 1<<28
							}
							if err != nil || total != n || len(ids) != n-q.Offset {
								t.Errorf("%s: total %d, %d ids (%v), want %d", describe(q), total, len(ids), err, n)
							}
						})
					}
				case "read":
					for _, read := range reads {
						read()
					}
				}
			}
			if len(s.counts.folded) != 0 || len(s.counts.readers) != 0 || len(s.counts.pending) != 0 {
				t.Errorf("left %d folded, %d readers, %d pending", len(s.counts.folded), len(s.counts.readers), len(s.counts.pending))
			}
		})
	}
}

// TestList_TotalMatchesPageWhileCommitting lists while other goroutines
// create invoices and change their status: every answer's total is the
// number of matches in its own page's snapshot, with and without a
// created range and an offset skip.
func TestList_TotalMatchesPageWhileCommitting(t *testing.T) {
	s := newStore(t)
	project := uuid.New()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range 150 {
				r := row(project, uuid.New(), "new", "BTC", int64(rng.IntN(8))<<27, 10)
				if _, err := s.Commit(Commit{Stream: r.InvoiceID, Events: evs(1), New: r}); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					next := *r
					next.Status = "pending"
					if _, err := s.Commit(Commit{Stream: r.InvoiceID, ExpectedVersion: 1, Events: evs(1), Old: r, New: &next}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	queries := []Query{
		{ProjectID: project},
		{ProjectID: project, Status: "new"},
		{ProjectID: project, Status: "pending", Currency: "BTC", CreatedAfter: 2 << 27},
		{ProjectID: project, CreatedBefore: 5<<27 + 1, Offset: 3, Desc: true},
		{ProjectID: project, SortBy: SortUpdatedAt, CreatedAfter: 1},
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()
	defer func() { <-writing }() // the writers end before the store closes
	for i := 0; ; i++ {
		if i >= 20 { // at least 20 lists, however fast the writers are
			select {
			case <-writing:
				return
			default:
			}
		}
		q := queries[i%len(queries)]
		q.Limit = 1 << 20
		states, total, err := s.List(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != max(total-q.Offset, 0) {
			t.Fatalf("%s: total %d, page of %d", describe(q), total, len(states))
		}
	}
}

// BenchmarkCounterMirrorHeap reports the mirror's heap per invoice for a
// project whose invoices are created -spacing apart (every invoice then
// has finest buckets of its own, the mirror's worst case) in one of three
// statuses and currencies.
func BenchmarkCounterMirrorHeap(b *testing.B) {
	for _, spacing := range []time.Duration{time.Millisecond, 30 * time.Second} {
		b.Run(fmt.Sprintf("spacing=%s", spacing), func(b *testing.B) {
			const n = 200_000
			project := uuid.New()
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				c := counterCache{series: map[string]*counterSeries{}}
				for i := range n {
					r := &IndexRow{ProjectID: project, Status: testStatuses[i%3], Currency: testCurrencies[i/3%3], CreatedAt: int64(i) * int64(spacing)}
					c.apply(counterDeltas(nil, r))
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/invoice")
				runtime.KeepAlive(&c)
			}
		})
	}
}

// TestCounterCache_Horizon: the mirror keeps the finest counters of the
// newest two coarsest buckets only, at open and as creates move the
// horizon; counts and skips whose ends fall below it read the finest
// counters from the snapshot, and a read whose snapshot predates a
// horizon move starts over.
func TestCounterCache_Horizon(t *testing.T) {
	skipAlways(t)
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	project := uuid.New()
	rng := rand.New(rand.NewPCG(5, 6))
	m := listModel{}
	add := func(s *Store, coarse int64) {
		r := row(project, uuid.New(), testStatuses[rng.IntN(3)], "BTC", coarse<<48+rng.Int64N(1<<40), 10)
		create(t, s, r)
		m[r.InvoiceID] = r
	}
	for range 200 {
		add(s, rng.Int64N(6))
	}
	check := func(s *Store) {
		t.Helper()
		for range 300 {
			q := Query{ProjectID: project, CreatedAfter: rng.Int64N(8 << 48), CreatedBefore: rng.Int64N(8 << 48), Desc: rng.IntN(2) == 0, Limit: 3}
			if rng.IntN(3) == 0 {
				q.CreatedBefore = 0
			}
			if rng.IntN(2) == 0 {
				q.Status = testStatuses[rng.IntN(3)]
			}
			page, total := m.query(q)
			q.Offset = rng.IntN(total + 2)
			page, _ = m.query(q)
			states, got, err := s.List(q)
			if err != nil || got != total || !slices.Equal(ids(t, states), page) {
				t.Fatalf("%s: total %d, page %v (%v), want %d, %v", describe(q), got, ids(t, states), err, total, page)
			}
		}
	}
	// finestParents counts the mirror's parents of finest buckets, and
	// fails on any below the horizon
	finestParents := func(s *Store) (n int) {
		t.Helper()
		for _, series := range s.counts.series {
			for p := range series.levels[finest] {
				if coarseOf(p<<finestFanout) < s.counts.horizon {
					t.Fatalf("finest buckets of parent %d mirrored below horizon %d", p, s.counts.horizon)
				}
			}
			n += len(series.levels[finest])
		}
		return n
	}
	if s.counts.horizon != 4 {
		t.Fatalf("horizon %d, want 4", s.counts.horizon)
	}
	check(s)
	before := finestParents(s)

	// a read whose snapshot predates a horizon move starts over
	q := Query{ProjectID: project, CreatedAfter: 1 << 40, Limit: 5}
	view, read, err := s.counts.openRead(s.db, seriesKey(project, q.mask(), "", ""))
	if err != nil {
		t.Fatal(err)
	}
	add(s, 7)
	if _, _, err := s.page(view, read, q); !errors.Is(err, errHorizonMoved) {
		t.Fatalf("read across a horizon move: %v", err)
	}
	if err := view.Close(); err != nil {
		t.Fatal(err)
	}
	if s.counts.horizon != 6 || finestParents(s) >= before {
		t.Fatalf("horizon %d with %d finest parents (before %d)", s.counts.horizon, finestParents(s), before)
	}
	check(s)
	// status changes of invoices below the horizon mirror no finest bucket
	for id, old := range m {
		if old.CreatedAt>>48 >= 6 {
			continue
		}
		next := *old
		next.Status = testStatuses[(slices.Index(testStatuses, old.Status)+1)%len(testStatuses)]
		if _, err := s.Commit(Commit{Stream: id, ExpectedVersion: 1, Events: evs(1), Old: old, New: &next}); err != nil {
			t.Fatal(err)
		}
		m[id] = &next
	}
	finestParents(s)
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if s.counts.horizon != 6 {
		t.Fatalf("horizon at open %d, want 6", s.counts.horizon)
	}
	finestParents(s)
	check(s)
}

// TestStatusTotals sums the mirror's per-status totals across projects,
// through a status change and a removal.
func TestStatusTotals(t *testing.T) {
	s := newStore(t)
	p1, p2 := uuid.New(), uuid.New()
	rows := []*IndexRow{
		row(p1, uuid.New(), "new", "BTC", 1, 10), row(p1, uuid.New(), "new", "ETH", 2, 10),
		row(p2, uuid.New(), "new", "BTC", 3, 10), row(p2, uuid.New(), "paid", "BTC", 4, 10),
	}
	for _, r := range rows {
		create(t, s, r)
	}
	paid := *rows[0]
	paid.Status = "paid"
	steps := []struct {
		commit Commit
		want   map[string]int64
	}{
		{want: map[string]int64{"new": 3, "paid": 1}},
		{Commit{Stream: paid.InvoiceID, ExpectedVersion: 1, Events: evs(1), Old: rows[0], New: &paid}, map[string]int64{"new": 2, "paid": 2}},
		{Commit{Stream: rows[3].InvoiceID, ExpectedVersion: 1, Events: evs(1), Old: rows[3]}, map[string]int64{"new": 2, "paid": 1}},
	}
	for i, st := range steps {
		if st.commit.Events != nil {
			if _, err := s.Commit(st.commit); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.StatusTotals()
		if err != nil {
			t.Fatal(err)
		}
		for k, n := range got { // a status whose invoices all left may stay at 0
			if n == 0 {
				delete(got, k)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("step %d: %v, want %v", i, got, st.want)
		}
	}
}
