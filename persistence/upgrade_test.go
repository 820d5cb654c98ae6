package persistence

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// TestOpen_UpgradesIndexLayout: a store with the first index layout (all
// sixteen families, created_at alone in the values) is upgraded when
// opened: it then checks clean, currency filters on every sort work, and
// the upgrade is not repeated.
func TestOpen_UpgradesIndexLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := populateCk(t, s, 3, 40)
	// Rewrite the indexes the way layout 1 stored them.
	b := s.db.NewBatch()
	for _, r := range w.rows {
		for f := range byte(numFamilies) {
			sort, mask := SortField(f>>2), f&(numMasks-1)
			k := indexPrefix(sort, mask, r.ProjectID, r.Status, r.Currency)
			full, err := familyEntry(r, family(sort, 0))
			if err != nil {
				t.Fatal(err)
			}
			// The sort value and id follow the family's own prefix.
			base := indexPrefix(sort, 0, r.ProjectID, r.Status, r.Currency)
			k = append(k, full.key[len(base):]...)
			var v []byte
			if sort != SortCreatedAt {
				v = full.value[:8]
			}
			if err := b.Set(k, v, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := b.Delete(metaKey(metaIndexLayout), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(syncWrite); err != nil {
		t.Fatal(err)
	}
	if rep := ckCheck(t, s, CheckOptions{}); rep.OK() {
		t.Fatal("the layout-1 indexes check clean: the test did not write them")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	if rep := ckCheck(t, s, CheckOptions{}); !rep.OK() || rep.IndexKeys != 10*len(w.rows) {
		t.Fatalf("after the upgrade: %d index keys for %d invoices, problems %v", rep.IndexKeys, len(w.rows), rep.Problems)
	}
	projects := map[uuid.UUID]int{}
	for _, r := range w.rows {
		if r.Currency == "BTC" && r.CreatedAt > 1 {
			projects[r.ProjectID]++
		}
	}
	for _, sort := range []SortField{SortUpdatedAt, SortFiatAmount, SortCryptoAmount} {
		for p, want := range projects {
			q := Query{ProjectID: p, Currency: "BTC", SortBy: sort, CreatedAfter: 1, Limit: 100}
			states, total, err := s.List(q)
			if err != nil || total != want || len(states) != want {
				t.Fatalf("list %s: %d of %d, want %d: %v", describe(q), len(states), total, want, err)
			}
			for _, st := range states {
				var r IndexRow
				if err := json.Unmarshal(st.Snapshot, &r); err != nil || r.Currency != "BTC" {
					t.Fatalf("list %s returned %+v (%v)", describe(q), r, err)
				}
			}
		}
	}
	v, err := s.get(metaKey(metaIndexLayout))
	if err != nil || len(v) != 8 || v[7] != indexLayout {
		t.Fatalf("layout record %x, %v", v, err)
	}
}

// TestOpen_BuildsCreatedCounters: a layout-2 store has no created counters;
// opening it builds them from the created_at families, so it checks clean
// and ranged totals are right, and a crash before the layout record is
// written (created counters half built) is redone at the next open.
func TestOpen_BuildsCreatedCounters(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := populateCk(t, s, 5, 60)
	var half []byte
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixCreated}, UpperBound: []byte{prefixCreated + 1}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n++; n == 10 {
			half = bytes.Clone(it.Key())
		}
	}
	if err := it.Close(); err != nil || half == nil {
		t.Fatalf("%d created counters, %v", n, err)
	}
	// Layout 2 with the first created counters of an interrupted build.
	b := s.db.NewBatch()
	if err := b.DeleteRange(half, []byte{prefixCreated + 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(metaKey(metaIndexLayout), binary.BigEndian.AppendUint64(nil, 2), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(syncWrite); err != nil {
		t.Fatal(err)
	}
	if rep := ckCheck(t, s, CheckOptions{}); rep.OK() {
		t.Fatal("half the created counters check clean: the test did not remove them")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	if rep := ckCheck(t, s, CheckOptions{}); !rep.OK() {
		t.Fatalf("after the upgrade: %v", rep.Problems)
	}
	m := listModel(w.rows)
	projects := map[uuid.UUID]bool{}
	for _, r := range w.rows {
		projects[r.ProjectID] = true
	}
	for p := range projects {
		for _, after := range []int64{0, 1e14, 3e14} {
			q := Query{ProjectID: p, Status: "new", CreatedAfter: after, CreatedBefore: 9e14}
			_, want := m.query(q)
			if _, total, err := s.List(q); err != nil || total != want {
				t.Fatalf("%s: total %d (%v), want %d", describe(q), total, err, want)
			}
		}
	}
}
