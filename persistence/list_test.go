package persistence

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
)

// listModel is the brute-force reference for List: the current index row of
// every invoice, filtered and sorted in memory.
type listModel map[uuid.UUID]*IndexRow

func (m listModel) query(q Query) (page []uuid.UUID, total int) {
	var rows []*IndexRow
	for _, r := range m {
		created := max(r.CreatedAt, 0)
		if r.ProjectID != q.ProjectID ||
			(q.Status != "" && r.Status != q.Status) ||
			(q.Currency != "" && r.Currency != q.Currency) ||
			(q.CreatedAfter > 0 && created <= q.CreatedAfter) ||
			(q.CreatedBefore > 0 && created >= q.CreatedBefore) {
			continue
		}
		rows = append(rows, r)
	}
	cmpAmount := func(a, b *big.Int) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		case b == nil:
			return 1
		}
		return a.Cmp(b)
	}
	slices.SortFunc(rows, func(a, b *IndexRow) int {
		var c int
		switch q.SortBy {
		case SortCreatedAt:
			c = cmpInt(max(a.CreatedAt, 0), max(b.CreatedAt, 0))
		case SortUpdatedAt:
			c = cmpInt(max(a.UpdatedAt, 0), max(b.UpdatedAt, 0))
		case SortFiatAmount:
			c = cmpAmount(a.Fiat, b.Fiat)
		case SortCryptoAmount:
			c = cmpAmount(a.Crypto, b.Crypto)
		}
		if c == 0 {
			c = bytes.Compare(a.InvoiceID[:], b.InvoiceID[:])
		}
		if q.Desc {
			c = -c
		}
		return c
	})
	for i := q.Offset; i < len(rows) && len(page) < q.Limit; i++ {
		page = append(page, rows[i].InvoiceID)
	}
	return page, len(rows)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var (
	testStatuses   = []string{"new", "pending", "completed"}
	testCurrencies = []string{"BTC", "BTCX", "ETH"}
)

// randomRow draws a row with deliberate collisions: few distinct created
// times (ties broken by id), a negative created time (clamped), absent
// fiat amounts, zero and beyond-64-bit crypto amounts.
func randomRow(rng *rand.Rand, project uuid.UUID) *IndexRow {
	created := int64(rng.IntN(12)) * 1_000_000_000
	if rng.IntN(25) == 0 {
		created = -5
	}
	r := &IndexRow{
		ProjectID: project,
		InvoiceID: uuid.New(),
		Status:    testStatuses[rng.IntN(len(testStatuses))],
		Currency:  testCurrencies[rng.IntN(len(testCurrencies))],
		CreatedAt: created,
		UpdatedAt: created + int64(rng.IntN(3))*1_000_000_000,
	}
	if rng.IntN(4) != 0 {
		r.Fiat = big.NewInt(int64(rng.IntN(5)) * 250)
	}
	crypto := new(big.Int).Lsh(big.NewInt(int64(rng.IntN(6))), uint(rng.IntN(3)*40))
	r.Crypto = crypto
	return r
}

// checkAgainstModel compares List with the model for every sort field,
// direction, filter combination, created range and a set of pages.
func checkAgainstModel(t *testing.T, s *Store, m listModel, projects []uuid.UUID) {
	t.Helper()
	ranges := []struct{ after, before int64 }{
		{0, 0}, {3_000_000_000, 0}, {0, 7_000_000_000}, {2_000_000_000, 9_000_000_000},
		{5_000_000_000, 5_000_000_001}, {5_000_000_000, 5_000_000_000}, {-10, -1}, {1<<63 - 1, 0},
	}
	pages := []struct{ offset, limit int }{{0, 7}, {5, 7}, {0, 100}, {20, 10}, {3, 0}, {200, 5}}
	statuses := append([]string{""}, testStatuses...)
	currencies := append([]string{""}, testCurrencies...)
	n := 0
	for _, project := range projects {
		for sort := range SortField(4) {
			for _, desc := range []bool{false, true} {
				for _, st := range statuses {
					for _, cur := range currencies {
						for _, rg := range ranges {
							for _, pg := range pages {
								q := Query{
									ProjectID: project, Status: st, Currency: cur,
									CreatedAfter: rg.after, CreatedBefore: rg.before,
									SortBy: sort, Desc: desc, Offset: pg.offset, Limit: pg.limit,
								}
								wantPage, wantTotal := m.query(q)
								snaps, total, err := s.List(q)
								if err != nil {
									t.Fatalf("%+v: %v", q, err)
								}
								got := ids(t, snaps)
								if total != wantTotal || !slices.Equal(got, wantPage) {
									t.Fatalf("%s\n got total %d page %v\nwant total %d page %v", describe(q), total, got, wantTotal, wantPage)
								}
								n++
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d queries match the model", n)
}

func describe(q Query) string {
	return fmt.Sprintf("sort=%d desc=%v status=%q currency=%q created=(%d,%d) offset=%d limit=%d",
		q.SortBy, q.Desc, q.Status, q.Currency, q.CreatedAfter, q.CreatedBefore, q.Offset, q.Limit)
}

// skipAlways makes every created_at page with an offset skip by the
// created counters, so the model tests check that path too.
func skipAlways(t *testing.T) {
	old := skipFrom
	skipFrom = 0
	t.Cleanup(func() { skipFrom = old })
}

func TestList_MatchesModel(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip=%v", skip), func(t *testing.T) {
			old := skipFrom
			skipFrom = math.MaxInt // every offset walked
			if skip {
				skipFrom = 0
			}
			t.Cleanup(func() { skipFrom = old })
			testListMatchesModel(t)
		})
	}
}

func testListMatchesModel(t *testing.T) {
	s := newStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	projects := []uuid.UUID{uuid.New(), uuid.New()}
	m := listModel{}
	for i := range 50 {
		r := randomRow(rng, projects[i%2])
		if i < 4 {
			// a pre-1970 time in each project: stored and filtered as 0
			r.CreatedAt, r.UpdatedAt = -5, -7
		}
		create(t, s, r)
		m[r.InvoiceID] = r
	}
	checkAgainstModel(t, s, m, projects)

	// Move rows between families: status changes (counters move), amount
	// and update time changes (counters stay), and removals.
	version := map[uuid.UUID]uint64{}
	i := 0
	for id, old := range m {
		next := *old
		switch i % 4 {
		case 0:
			next.Status = testStatuses[(slices.Index(testStatuses, old.Status)+1)%len(testStatuses)]
		case 1:
			next.Currency = "ETH"
			next.UpdatedAt += 1_000_000_000
		case 2:
			next.Fiat = nil
			next.Crypto = new(big.Int).Add(old.Crypto, big.NewInt(1))
		case 3:
			// unchanged row: must write no index keys
		}
		var newRow *IndexRow = &next
		if i%10 == 9 {
			newRow = nil
		}
		v, err := s.Commit(Commit{Stream: id, ExpectedVersion: 1 + version[id], Events: evs(1), Snapshot: id[:], Old: old, New: newRow})
		if err != nil {
			t.Fatal(err)
		}
		version[id] = v - 1
		if newRow == nil {
			delete(m, id)
		} else {
			m[id] = newRow
		}
		i++
	}
	checkAgainstModel(t, s, m, projects)
}

// TestList_CountersFollowStatusChange checks the counters themselves, not
// only List's totals, through a status change and a removal.
func TestList_CountersFollowStatusChange(t *testing.T) {
	s := newStore(t)
	p := uuid.New()
	a, b := uuid.New(), uuid.New()
	ra, rb := row(p, a, "new", "BTC", 1, 1), row(p, b, "new", "ETH", 2, 2)
	create(t, s, ra)
	create(t, s, rb)
	moved := *ra
	moved.Status = "pending"
	if _, err := s.Commit(Commit{Stream: a, ExpectedVersion: 1, Events: evs(1), Snapshot: a[:], Old: ra, New: &moved}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(Commit{Stream: b, ExpectedVersion: 1, Events: evs(1), Old: rb}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mask             byte
		status, currency string
		want             int64
	}{
		{0, "", "", 1},
		{maskStatus, "new", "", 0},
		{maskStatus, "pending", "", 1},
		{maskCurrency, "", "BTC", 1},
		{maskCurrency, "", "ETH", 0},
		{maskStatus | maskCurrency, "new", "BTC", 0},
		{maskStatus | maskCurrency, "pending", "BTC", 1},
		{maskStatus | maskCurrency, "new", "ETH", 0},
	}
	for _, tc := range cases {
		if got := counterValue(t, s, p, tc.mask, tc.status, tc.currency); got != tc.want {
			t.Errorf("counter %q/%q = %d, want %d", tc.status, tc.currency, got, tc.want)
		}
	}
	snaps, total, err := s.List(Query{ProjectID: p, Status: "new", Limit: 10})
	if err != nil || total != 0 || len(snaps) != 0 {
		t.Fatalf("status new after move: %d items total %d %v", len(snaps), total, err)
	}
}

func TestList_ProjectIsolation(t *testing.T) {
	s := newStore(t)
	p1, p2 := uuid.New(), uuid.New()
	for i := range 5 {
		create(t, s, row(p1, uuid.New(), "new", "BTC", int64(i), 1))
	}
	only := uuid.New()
	create(t, s, row(p2, only, "new", "BTC", 1, 1))
	snaps, total, err := s.List(Query{ProjectID: p2, Limit: 100})
	if err != nil || total != 1 || len(snaps) != 1 || uuid.UUID(snaps[0].Snapshot) != only {
		t.Fatalf("project 2 sees %d items total %d %v", len(snaps), total, err)
	}
	if snaps, total, err := s.List(Query{ProjectID: uuid.New(), Limit: 100}); err != nil || total != 0 || len(snaps) != 0 {
		t.Fatalf("unknown project sees %d items total %d %v", len(snaps), total, err)
	}
}

func TestList_InvalidQuery(t *testing.T) {
	s := newStore(t)
	cases := []Query{
		{SortBy: 4, Limit: 1},
		{Offset: -1, Limit: 1},
		{Status: string(bytes.Repeat([]byte("s"), 256)), Limit: 1},
	}
	for _, q := range cases {
		if _, _, err := s.List(q); !errorsIsInvalid(err) {
			t.Errorf("%s: %v, want ErrInvalidArgument", describe(q), err)
		}
	}
}

// TestList_StreamWithoutSnapshot: a stream committed without a snapshot (a
// create) is listed with its events, and with its snapshot once a later
// commit writes one.
func TestList_StreamWithoutSnapshot(t *testing.T) {
	s := newStore(t)
	p, id := uuid.New(), uuid.New()
	r := row(p, id, "new", "BTC", 1, 1)
	if _, err := s.Commit(Commit{Stream: id, Events: [][]byte{[]byte("created")}, New: r}); err != nil {
		t.Fatal(err)
	}
	states, total, err := s.List(Query{ProjectID: p, Limit: 10})
	if err != nil || total != 1 || len(states) != 1 {
		t.Fatalf("list: %d items total %d %v", len(states), total, err)
	}
	if st := states[0]; st.Snapshot != nil || len(st.Events) != 1 || string(st.Events[0]) != "created" {
		t.Fatalf("state of a stream without snapshot: %q %q", st.Snapshot, st.Events)
	}
	paid := row(p, id, "pending", "BTC", 1, 2)
	if _, err := s.Commit(Commit{Stream: id, ExpectedVersion: 1, Events: [][]byte{[]byte("paid")}, Snapshot: []byte("state 2"), Old: r, New: paid}); err != nil {
		t.Fatal(err)
	}
	states, _, err = s.List(Query{ProjectID: p, Limit: 10})
	if err != nil || len(states) != 1 || string(states[0].Snapshot) != "state 2" || states[0].Events != nil {
		t.Fatalf("state after a snapshot: %+v %v", states, err)
	}
}

// TestListKnown_ReadsHeadsAndSkipsKnown: ListKnown asks once per page
// invoice, in page order, with the version of its head; a known invoice
// comes back with its id and version only, the others with their state.
func TestListKnown_ReadsHeadsAndSkipsKnown(t *testing.T) {
	s := newStore(t)
	p := uuid.New()
	var rows []*IndexRow
	for i := range 4 {
		r := row(p, uuid.New(), "new", "BTC", int64(i+1), 1)
		create(t, s, r)
		rows = append(rows, r)
	}
	// the second invoice moves to version 3
	next := *rows[1]
	next.UpdatedAt = 10
	if _, err := s.Commit(Commit{Stream: next.InvoiceID, ExpectedVersion: 1, Events: evs(2), Old: rows[1], New: &next}); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id      uuid.UUID
		version uint64
	}{{rows[3].InvoiceID, 1}, {rows[2].InvoiceID, 1}, {rows[1].InvoiceID, 3}, {rows[0].InvoiceID, 1}} // created desc
	var asked []uuid.UUID
	states, total, err := s.ListKnown(Query{ProjectID: p, SortBy: SortCreatedAt, Desc: true, Limit: 10}, func(id uuid.UUID, version uint64) bool {
		asked = append(asked, id)
		return version == 3 || id == rows[0].InvoiceID
	})
	if err != nil || total != 4 || len(states) != 4 || len(asked) != 4 {
		t.Fatalf("list: %d states, total %d, asked %d times, %v", len(states), total, len(asked), err)
	}
	for i, w := range want {
		st := states[i]
		if asked[i] != w.id || st.ID != w.id || st.Version != w.version {
			t.Errorf("item %d: asked about %s, got %s at version %d, want %s at %d", i, asked[i], st.ID, st.Version, w.id, w.version)
		}
		known := w.version == 3 || w.id == rows[0].InvoiceID
		if read := st.Snapshot != nil || st.Events != nil; read == known {
			t.Errorf("item %d (known %v): snapshot %q, %d events", i, known, st.Snapshot, len(st.Events))
		}
	}
}

// createdTime draws a created time that lands on, next to or between the
// bucket edges of every created shift, or far from any.
func createdTime(rng *rand.Rand) int64 {
	shift := createdShifts[rng.IntN(len(createdShifts))]
	edge := int64(rng.IntN(9)) << shift
	switch rng.IntN(4) {
	case 0:
		return edge
	case 1:
		return edge + int64(rng.IntN(3)) - 1
	case 2:
		return edge + rng.Int64N(1<<shift)
	}
	return rng.Int64N(1 << 52)
}

// TestList_CreatedRangeTotals checks the totals of created ranges, which
// come from the created counters of every shift and the index keys of the
// partial finest buckets, against the model: ranges with ends on, beside
// and between bucket edges, every filter, before and after status changes
// and removals move rows between counters.
func TestList_CreatedRangeTotals(t *testing.T) {
	skipAlways(t)
	s := newStore(t)
	rng := rand.New(rand.NewPCG(7, 8))
	project := uuid.New()
	m := listModel{}
	for range 300 {
		r := randomRow(rng, project)
		r.CreatedAt = createdTime(rng)
		create(t, s, r)
		m[r.InvoiceID] = r
	}
	check := func() {
		t.Helper()
		for range 400 {
			q := Query{ProjectID: project, CreatedAfter: createdTime(rng), CreatedBefore: createdTime(rng)}
			switch rng.IntN(3) {
			case 0:
				q.CreatedBefore = 0
			case 1:
				q.CreatedAfter = 0
			}
			if rng.IntN(2) == 0 {
				q.Status = testStatuses[rng.IntN(len(testStatuses))]
			}
			if rng.IntN(2) == 0 {
				q.Currency = testCurrencies[rng.IntN(len(testCurrencies))]
			}
			_, want := m.query(q)
			if _, total, err := s.List(q); err != nil || total != want {
				t.Fatalf("%s: total %d (%v), want %d", describe(q), total, err, want)
			}
			// The same range a page at a random offset, which skips
			// whole buckets by the counters.
			q.Desc, q.Offset, q.Limit = rng.IntN(2) == 0, rng.IntN(want+5), 1+rng.IntN(4)
			wantPage, _ := m.query(q)
			states, _, err := s.List(q)
			if got := ids(t, states); err != nil || !slices.Equal(got, wantPage) {
				t.Fatalf("%s: page %v (%v), want %v", describe(q), got, err, wantPage)
			}
		}
	}
	check()
	i := 0
	for id, old := range m {
		next := *old
		next.Status = testStatuses[(slices.Index(testStatuses, old.Status)+1)%len(testStatuses)]
		newRow := &next
		if i%7 == 0 {
			newRow = nil
		}
		if _, err := s.Commit(Commit{Stream: id, ExpectedVersion: 1, Events: evs(1), Snapshot: id[:], Old: old, New: newRow}); err != nil {
			t.Fatal(err)
		}
		if newRow == nil {
			delete(m, id)
		} else {
			m[id] = newRow
		}
		i++
	}
	check()
}
