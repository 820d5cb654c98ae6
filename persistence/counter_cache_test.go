package persistence

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

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
			b, err := s.commitBatch(c, 1, deltas)
			if err != nil {
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
