package persistence

import (
	"slices"
	"testing"

	"github.com/google/uuid"
)

func TestSchedule_ExpiryAndWatchFollowCommits(t *testing.T) {
	s := newStore(t)
	project := uuid.New()
	a, b := uuid.New(), uuid.New()
	rowA := &IndexRow{ProjectID: project, InvoiceID: a, Status: "new", Currency: "BTC", CreatedAt: 1, UpdatedAt: 1, ExpiresAt: 100,
		Watch: &Watch{Currency: "BTC", Address: "addr-a"}}
	rowB := &IndexRow{ProjectID: project, InvoiceID: b, Status: "new", Currency: "BTC", CreatedAt: 2, UpdatedAt: 2, ExpiresAt: 50,
		Watch: &Watch{Currency: "BTC", Address: "addr-b"}}
	for _, r := range []*IndexRow{rowA, rowB} {
		if _, err := s.Commit(Commit{Stream: r.InvoiceID, Events: [][]byte{{1}}, Snapshot: []byte{1}, New: r}); err != nil {
			t.Fatal(err)
		}
	}
	due := func(now int64) []uuid.UUID {
		keys, err := s.DueExpiries(now, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]uuid.UUID, len(keys))
		for i, k := range keys {
			ids[i] = k.Invoice
		}
		return ids
	}
	if got := due(49); len(got) != 0 {
		t.Fatalf("due at 49: %v", got)
	}
	if got := due(50); !slices.Equal(got, []uuid.UUID{b}) {
		t.Fatalf("due at 50: %v, want [b]", got)
	}
	if got := due(1000); !slices.Equal(got, []uuid.UUID{b, a}) {
		t.Fatalf("due at 1000: %v, want [b a] in expiry order", got)
	}
	if next, ok, err := s.NextExpiry(); err != nil || !ok || next != 50 {
		t.Fatalf("next expiry = %d, %v, %v", next, ok, err)
	}

	// b gets paid: unscheduled, watched until a deadline.
	paidB := *rowB
	paidB.Status, paidB.ExpiresAt, paidB.Watch = "completed", 0, &Watch{Currency: "BTC", Address: "addr-b", Until: 500}
	if _, err := s.Commit(Commit{Stream: b, ExpectedVersion: 1, Events: [][]byte{{2}}, Snapshot: []byte{2}, Old: rowB, New: &paidB}); err != nil {
		t.Fatal(err)
	}
	if got := due(1000); !slices.Equal(got, []uuid.UUID{a}) {
		t.Fatalf("after payment due = %v, want [a]", got)
	}
	var watches []WatchEntry
	if err := s.Watches("BTC", func(w WatchEntry) error { watches = append(watches, w); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []WatchEntry{{Address: "addr-a", Invoice: a}, {Address: "addr-b", Invoice: b, Until: 500}}
	if !slices.Equal(watches, want) {
		t.Fatalf("watches = %+v, want %+v", watches, want)
	}
	if err := s.Unwatch("BTC", "addr-b"); err != nil {
		t.Fatal(err)
	}
	watches = nil
	s.Watches("BTC", func(w WatchEntry) error { watches = append(watches, w); return nil })
	if len(watches) != 1 || watches[0].Invoice != a {
		t.Fatalf("after unwatch: %+v", watches)
	}
}

func TestChainState_RoundTrip(t *testing.T) {
	s := newStore(t)
	if _, err := s.ChainState("devchain-BTC"); err == nil {
		t.Fatal("missing state found")
	}
	if err := s.PutChainState("devchain-BTC", []byte("cursor")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.ChainState("devchain-BTC"); err != nil || string(v) != "cursor" {
		t.Fatalf("state = %q, %v", v, err)
	}
}

// DueExpiries pages: from after on (exclusive), up to now, earliest first,
// ties in invoice order, so a round that passes its last key neither reads
// a key twice nor skips one.
func TestSchedule_DueExpiriesPagesAfterAKey(t *testing.T) {
	s := newStore(t)
	project := uuid.New()
	ids := []uuid.UUID{
		uuid.MustParse("00000000-0000-0000-0000-000000000001"),
		uuid.MustParse("00000000-0000-0000-0000-000000000002"),
		uuid.MustParse("00000000-0000-0000-0000-000000000003"),
		uuid.MustParse("00000000-0000-0000-0000-000000000004"),
	}
	at := []int64{10, 20, 20, 30}
	for i, id := range ids {
		r := &IndexRow{ProjectID: project, InvoiceID: id, Status: "new", Currency: "BTC", CreatedAt: 1, UpdatedAt: 1, ExpiresAt: at[i]}
		if _, err := s.Commit(Commit{Stream: id, Events: [][]byte{{1}}, Snapshot: []byte{1}, New: r}); err != nil {
			t.Fatal(err)
		}
	}
	key := func(i int) ExpiryDue { return ExpiryDue{At: at[i], Invoice: ids[i]} }
	for _, tc := range []struct {
		name  string
		now   int64
		after *ExpiryDue
		limit int
		want  []ExpiryDue
	}{
		{"from the first", 100, nil, 2, []ExpiryDue{key(0), key(1)}},
		{"after a key, its twin at the same time next", 100, &ExpiryDue{At: 20, Invoice: ids[1]}, 10, []ExpiryDue{key(2), key(3)}},
		{"after a key, up to now", 25, &ExpiryDue{At: 10, Invoice: ids[0]}, 10, []ExpiryDue{key(1), key(2)}},
		{"after the last", 100, &ExpiryDue{At: 30, Invoice: ids[3]}, 10, nil},
		{"after a key no longer scheduled", 100, &ExpiryDue{At: 15, Invoice: uuid.Max}, 1, []ExpiryDue{key(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.DueExpiries(tc.now, tc.after, tc.limit)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("DueExpiries = %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
