package persistence

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// In these tests a stream's snapshot is the JSON of the IndexRow its commit
// wrote, so ckRows can derive the expected records from the stream alone,
// as the real RowFunc derives them from the invoice.

func ckRows(r StreamRecords) Derived {
	var row IndexRow
	if err := json.Unmarshal(r.Snapshot, &row); err != nil {
		return Derived{Problems: []string{fmt.Sprintf("snapshot is not a row: %v", err)}}
	}
	return Derived{Row: &row}
}

// ckWorld commits rows as streams and remembers the latest row of each.
type ckWorld struct {
	t    testing.TB
	s    *Store
	rows map[uuid.UUID]*IndexRow
	ver  map[uuid.UUID]uint64
}

func newCkWorld(t testing.TB, s *Store) *ckWorld {
	return &ckWorld{t: t, s: s, rows: map[uuid.UUID]*IndexRow{}, ver: map[uuid.UUID]uint64{}}
}

// put commits row as the stream's next state.
func (w *ckWorld) put(row *IndexRow, claims ...Claim) error {
	snap, err := json.Marshal(row)
	if err != nil {
		w.t.Fatal(err)
	}
	v, err := w.s.Commit(Commit{
		Stream: row.InvoiceID, ExpectedVersion: w.ver[row.InvoiceID], Events: [][]byte{fmt.Appendf(nil, "e%d", w.ver[row.InvoiceID]+1)},
		Snapshot: snap, Old: w.rows[row.InvoiceID], New: row, Claims: claims,
	})
	if err != nil {
		return err
	}
	w.rows[row.InvoiceID], w.ver[row.InvoiceID] = row, v
	return nil
}

func (w *ckWorld) mustPut(row *IndexRow, claims ...Claim) {
	w.t.Helper()
	if err := w.put(row, claims...); err != nil {
		w.t.Fatal(err)
	}
}

var ckStatuses = []string{"new", "paid_partial", "pending", "completed", "expired", "cancelled"}

// ckRandomRow is a plausible row: open invoices are scheduled to expire,
// invoices with an address are watched, final ones for a grace period.
func ckRandomRow(rng *rand.Rand, project, id uuid.UUID, addr string) *IndexRow {
	status := ckStatuses[rng.IntN(len(ckStatuses))]
	r := &IndexRow{
		ProjectID: project, InvoiceID: id, Status: status, Currency: []string{"BTC", "ETH", "LTC"}[rng.IntN(3)],
		CreatedAt: rng.Int64N(1e15), UpdatedAt: rng.Int64N(1e15), Crypto: big.NewInt(rng.Int64N(1e12)),
	}
	if rng.IntN(2) == 0 {
		r.Fiat = big.NewInt(rng.Int64N(1e6))
	}
	if status == "new" || status == "paid_partial" {
		r.ExpiresAt = 1 + rng.Int64N(1e15)
	}
	if addr != "" {
		r.Watch = &Watch{Currency: r.Currency, Address: addr}
		if status != "new" && status != "paid_partial" && status != "pending" {
			r.Watch.Until = 1 + rng.Int64N(2e15)
		}
	}
	return r
}

// populateCk writes n invoices across two projects, each changed a few
// times, and returns the world.
func populateCk(t testing.TB, s *Store, seed uint64, n int) *ckWorld {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := newCkWorld(t, s)
	projects := []uuid.UUID{uuid.New(), uuid.New()}
	for i := range n {
		id := uuid.New()
		p := projects[i%2]
		addr := ""
		if i%4 != 0 {
			addr = fmt.Sprintf("addr-%d", i)
		}
		for range 1 + rng.IntN(4) {
			r := ckRandomRow(rng, p, id, addr)
			if w.rows[id] != nil {
				r.Currency, r.CreatedAt = w.rows[id].Currency, w.rows[id].CreatedAt
				if r.Watch != nil {
					r.Watch.Currency = r.Currency
				}
			}
			w.mustPut(r)
		}
	}
	return w
}

func ckCheck(t testing.TB, s *Store, opts CheckOptions) CheckReport {
	t.Helper()
	rep, err := s.Check(ckRows, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func ckKinds(rep CheckReport) []string {
	var kinds []string
	for _, p := range rep.Problems {
		if !slices.Contains(kinds, p.Kind) {
			kinds = append(kinds, p.Kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

func TestCheck_CleanStoreHasNoProblems(t *testing.T) {
	s := newStore(t)
	w := populateCk(t, s, 1, 60)
	rep := ckCheck(t, s, CheckOptions{})
	if !rep.OK() {
		t.Fatalf("problems in a store written only by Commit: %v", rep.Problems)
	}
	if rep.Streams != len(w.rows) || rep.IndexKeys != 10*len(w.rows) || rep.Counters == 0 || rep.Watches == 0 || rep.Expiries == 0 {
		t.Fatalf("report %+v: not everything was checked", rep)
	}
}

// TestCheck_FindsAndRepairsDamage damages every derived record family in
// a different way and checks that Check names each, that Repair fixes them
// all, and that list queries then agree with a recount.
func TestCheck_FindsAndRepairsDamage(t *testing.T) {
	s := newStore(t)
	w := populateCk(t, s, 2, 40)
	var ids []uuid.UUID
	for id := range w.rows {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	var watched, scheduled *IndexRow
	for _, id := range ids {
		r := w.rows[id]
		if r.Watch != nil && r.Watch.Until == 0 && watched == nil {
			watched = r
		}
		if r.ExpiresAt != 0 && scheduled == nil {
			scheduled = r
		}
	}
	if watched == nil || scheduled == nil {
		t.Fatal("fixture has no open watched or scheduled invoice")
	}
	victim := w.rows[ids[0]]
	entries, err := indexEntries(victim)
	if err != nil {
		t.Fatal(err)
	}
	db := s.DB()
	damage := []struct {
		name string
		do   func() error
	}{
		{"index key deleted", func() error { return db.Delete(entries[5].key, syncWrite) }},
		{"stale index key", func() error {
			stale := *victim
			stale.Status = "bogus"
			e, _ := indexEntries(&stale)
			return db.Set(e[1].key, nil, syncWrite)
		}},
		{"orphan index key", func() error {
			e, _ := indexEntries(row(uuid.New(), uuid.New(), "new", "BTC", 5, 5))
			return db.Set(e[0].key, nil, syncWrite)
		}},
		{"counter off by one", func() error {
			shift := createdShifts[0]
			k := createdKey(victim.ProjectID, maskStatus, victim.Status, "", shift, uint64(clampNanos(victim.CreatedAt))>>shift)
			return db.Merge(k, encodeCount(1), syncWrite)
		}},
		{"expiry lost", func() error { return db.Delete(expiryKey(scheduled.ExpiresAt, scheduled.InvoiceID), syncWrite) }},
		{"orphan expiry", func() error { return db.Set(expiryKey(42, uuid.New()), nil, syncWrite) }},
		{"watch lost", func() error { return db.Delete(watchKey(watched.Watch.Currency, watched.Watch.Address), syncWrite) }},
		{"watch of a stranger", func() error {
			return db.Set(watchKey("BTC", "nobody"), watchValue(uuid.New(), 0), syncWrite)
		}},
		{"snapshot torn from its head", func() error {
			return db.Set(streamKey(ids[1], streamHead), encodeCount(99), syncWrite)
		}},
	}
	for _, d := range damage {
		if err := d.do(); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
	}
	rep := ckCheck(t, s, CheckOptions{})
	if got, want := ckKinds(rep), []string{"counter", "expiry", "index", "stream", "watch"}; !slices.Equal(got, want) {
		t.Fatalf("problem kinds %v, want %v:\n%v", got, want, rep.Problems)
	}
	if len(rep.Problems) < len(damage) {
		t.Fatalf("%d problems for %d kinds of damage: %v", len(rep.Problems), len(damage), rep.Problems)
	}
	// The torn stream is reported, not repaired (its truth is unknown).
	if err := db.Set(streamKey(ids[1], streamHead), encodeCount(int64(w.ver[ids[1]])), syncWrite); err != nil {
		t.Fatal(err)
	}
	rep = ckCheck(t, s, CheckOptions{Repair: true})
	if rep.Repaired == 0 {
		t.Fatalf("repair wrote nothing: %+v", rep)
	}
	if rep = ckCheck(t, s, CheckOptions{}); !rep.OK() {
		t.Fatalf("problems after repair: %v", rep.Problems)
	}
	// Every list total equals a recount of the rows.
	for _, p := range []uuid.UUID{victim.ProjectID} {
		for _, st := range append([]string{""}, ckStatuses...) {
			_, total, err := s.List(Query{ProjectID: p, Status: st})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, r := range w.rows {
				if r.ProjectID == p && (st == "" || r.Status == st) {
					want++
				}
			}
			if total != want {
				t.Errorf("project total status %q = %d, recount %d", st, total, want)
			}
		}
	}
}

func TestCheck_SweptWatchIsNotAProblem(t *testing.T) {
	s := newStore(t)
	w := newCkWorld(t, s)
	r := row(uuid.New(), uuid.New(), "completed", "BTC", 10, -1)
	r.Watch = &Watch{Currency: "BTC", Address: "a", Until: 1000}
	w.mustPut(r)
	if err := s.Unwatch("BTC", "a"); err != nil {
		t.Fatal(err)
	}
	if rep := ckCheck(t, s, CheckOptions{Now: 1000}); !rep.OK() {
		t.Fatalf("swept watch reported: %v", rep.Problems)
	}
	if rep := ckCheck(t, s, CheckOptions{Now: 999}); len(rep.Problems) != 1 || rep.Problems[0].Kind != "watch" {
		t.Fatalf("watch removed before its grace ended: %v", rep.Problems)
	}
}

// TestIndexEntries_Families: a row has a key in exactly the ten written
// families (all four filter masks for created_at, none and status for the
// other sorts), each in its own family range, and the values of the
// non-created families carry created_at (clamped) and the currency.
func TestIndexEntries_Families(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 200 {
		r := ckRandomRow(rng, uuid.New(), uuid.New(), "a")
		if i%3 == 0 {
			r.Crypto = nil
		}
		if i%5 == 0 {
			r.CreatedAt = -r.CreatedAt
		}
		all, err := indexEntries(r)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for f, e := range all {
			sort, mask := SortField(f>>2), byte(f)&(numMasks-1)
			want := sort == SortCreatedAt || mask&maskCurrency == 0
			if (e.key != nil) != want {
				t.Fatalf("family %d (sort %d, mask %d): key %x, want one: %v", f, sort, mask, e.key, want)
			}
			if e.key == nil {
				continue
			}
			n++
			if e.key[0] != prefixIndex || e.key[1] != byte(f) || invoiceFromIndexKey(e.key) != r.InvoiceID {
				t.Fatalf("family %d key %x", f, e.key)
			}
			if sort == SortCreatedAt {
				if e.value != nil {
					t.Fatalf("created_at family %d has a value %x", f, e.value)
				}
				continue
			}
			created, currency, err := indexValue(e.value)
			if err != nil || created != clampNanos(r.CreatedAt) || string(currency) != r.Currency {
				t.Fatalf("family %d value %x: %d %q %v", f, e.value, created, currency, err)
			}
		}
		if n != 10 {
			t.Fatalf("%d families written, want 10", n)
		}
	}
}
