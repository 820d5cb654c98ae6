package persistence

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
)

func TestCommit_LoadRoundTrip(t *testing.T) {
	s := newStore(t)
	id := uuid.New()
	steps := []struct {
		name     string
		expected uint64
		events   [][]byte
		snapshot []byte
		// what Load must return afterwards
		wantSnap    []byte
		wantSnapVer uint64
		wantEvents  [][]byte
	}{
		{"create with snapshot", 0, [][]byte{[]byte("e1"), []byte("e2")}, []byte("s2"), []byte("s2"), 2, nil},
		{"append without snapshot", 2, [][]byte{[]byte("e3")}, nil, []byte("s2"), 2, [][]byte{[]byte("e3")}},
		{"append two more", 3, [][]byte{[]byte("e4"), []byte("e5")}, nil, []byte("s2"), 2, [][]byte{[]byte("e3"), []byte("e4"), []byte("e5")}},
		{"new snapshot", 5, [][]byte{[]byte("e6")}, []byte("s6"), []byte("s6"), 6, nil},
		{"empty snapshot is a snapshot", 6, [][]byte{[]byte("e7")}, []byte{}, []byte{}, 7, nil},
	}
	for _, st := range steps {
		v, err := s.Commit(Commit{Stream: id, ExpectedVersion: st.expected, Events: st.events, Snapshot: st.snapshot})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if want := st.expected + uint64(len(st.events)); v != want {
			t.Fatalf("%s: version %d, want %d", st.name, v, want)
		}
		snap, snapVer, events, err := s.Load(id)
		if err != nil {
			t.Fatalf("%s: load: %v", st.name, err)
		}
		if !bytes.Equal(snap, st.wantSnap) || (snap == nil) != (st.wantSnap == nil) || snapVer != st.wantSnapVer {
			t.Fatalf("%s: snapshot %q@%d, want %q@%d", st.name, snap, snapVer, st.wantSnap, st.wantSnapVer)
		}
		if !slices.EqualFunc(events, st.wantEvents, bytes.Equal) {
			t.Fatalf("%s: events %q, want %q", st.name, events, st.wantEvents)
		}
	}
	all, err := s.Events(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("e1"), []byte("e2"), []byte("e3"), []byte("e4"), []byte("e5"), []byte("e6"), []byte("e7")}
	if !slices.EqualFunc(all, want, bytes.Equal) {
		t.Fatalf("events %q, want %q", all, want)
	}
	tail, err := s.Events(id, 5)
	if err != nil || !slices.EqualFunc(tail, want[5:], bytes.Equal) {
		t.Fatalf("events after 5: %q, %v", tail, err)
	}
	if snap, v, err := s.Snapshot(id); err != nil || v != 7 || len(snap) != 0 {
		t.Fatalf("snapshot: %q@%d %v", snap, v, err)
	}
}

func TestCommit_NoSnapshotLoadsAllEvents(t *testing.T) {
	s := newStore(t)
	id := uuid.New()
	if _, err := s.Commit(Commit{Stream: id, Events: evs(3)}); err != nil {
		t.Fatal(err)
	}
	snap, v, events, err := s.Load(id)
	if err != nil || snap != nil || v != 0 || !slices.EqualFunc(events, evs(3), bytes.Equal) {
		t.Fatalf("load: %q@%d %q %v", snap, v, events, err)
	}
	if _, _, err := s.Snapshot(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("snapshot: %v, want ErrNotFound", err)
	}
}

func TestStream_NotFound(t *testing.T) {
	s := newStore(t)
	other := uuid.New()
	// a neighbouring stream must not be mistaken for the missing one
	if _, err := s.Commit(Commit{Stream: other, Events: evs(1), Snapshot: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if _, _, _, err := s.Load(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("load: %v", err)
	}
	if _, err := s.Events(id, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("events: %v", err)
	}
	if _, _, err := s.Snapshot(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("snapshot: %v", err)
	}
}

func TestCommit_VersionConflictWritesNothing(t *testing.T) {
	project := uuid.New()
	cases := []struct {
		name     string
		existing int // events already in the stream; 0 = no stream
		expected uint64
	}{
		{"create over existing stream", 2, 0},
		{"stale version", 3, 2},
		{"version from the future", 2, 5},
		{"append to missing stream", 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			id := uuid.New()
			r := row(project, id, "new", "BTC", 100, 500)
			if tc.existing > 0 {
				create(t, s, r, OrderIDClaim(project, "o-1", id[:]))
				if tc.existing > 1 {
					if _, err := s.Commit(Commit{Stream: id, ExpectedVersion: 1, Events: evs(tc.existing - 1)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			before := dump(t, s)
			moved := *r
			moved.Status = "pending"
			old := r
			if tc.existing == 0 {
				old = nil
			}
			_, err := s.Commit(Commit{
				Stream: id, ExpectedVersion: tc.expected, Events: evs(2), Snapshot: []byte("snap"),
				Old: old, New: &moved,
				Claims: []Claim{OrderIDClaim(project, "o-2", id[:]), AddressClaim("BTC", 7, "bc1q", id)},
			})
			if !errors.Is(err, ErrVersionConflict) {
				t.Fatalf("err %v, want ErrVersionConflict", err)
			}
			if after := dump(t, s); !sameDump(before, after) {
				t.Fatalf("conflicting commit wrote: %d records before, %d after", len(before), len(after))
			}
		})
	}
}

func TestCommit_ClaimTakenWritesNothing(t *testing.T) {
	project := uuid.New()
	first := uuid.New()
	cases := []struct {
		name     string
		claim    Claim // held by first
		conflict Claim // the second invoice's conflicting claim
		kind     ClaimKind
		existing []byte
	}{
		{"order id", OrderIDClaim(project, "order-1", []byte("first:hash")), OrderIDClaim(project, "order-1", []byte("second")), ClaimOrderID, []byte("first:hash")},
		{"idempotency key", IdempotencyClaim(project, "idem", []byte("resp")), IdempotencyClaim(project, "idem", []byte("other")), ClaimIdempotencyKey, []byte("resp")},
		{"address", AddressClaim("BTC", 1, "bc1qaddr", first), AddressClaim("BTC", 2, "bc1qaddr", uuid.New()), ClaimAddress, first[:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			create(t, s, row(project, first, "new", "BTC", 10, 100), tc.claim)
			before := dump(t, s)
			second := uuid.New()
			_, err := s.Commit(Commit{
				Stream: second, Events: evs(1), Snapshot: second[:],
				New: row(project, second, "new", "BTC", 20, 200),
				// the free claim listed first must not be written either
				Claims: []Claim{IdempotencyClaim(project, "free", nil), tc.conflict},
			})
			var ct *ClaimTakenError
			if !errors.As(err, &ct) || !errors.Is(err, ErrClaimTaken) {
				t.Fatalf("err %v, want *ClaimTakenError", err)
			}
			if ct.Kind != tc.kind || !bytes.Equal(ct.Existing, tc.existing) {
				t.Fatalf("claim error %v existing %q, want %v %q", ct.Kind, ct.Existing, tc.kind, tc.existing)
			}
			if after := dump(t, s); !sameDump(before, after) {
				t.Fatalf("failed commit wrote: %d records before, %d after", len(before), len(after))
			}
			if _, _, _, err := s.Load(second); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second stream exists: %v", err)
			}
			snaps, total, err := s.List(Query{ProjectID: project, Limit: 10})
			if err != nil || total != 1 || len(snaps) != 1 {
				t.Fatalf("list: %d items, total %d, %v", len(snaps), total, err)
			}
		})
	}
}

func TestCommit_ConcurrentSameOrderIDOneWins(t *testing.T) {
	s := newStore(t)
	project := uuid.New()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	streams := make([]uuid.UUID, n)
	for i := range n {
		streams[i] = uuid.New()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Commit(Commit{
				Stream: streams[i], Events: evs(1), Snapshot: streams[i][:],
				New:    row(project, streams[i], "new", "BTC", int64(i), 100),
				Claims: []Claim{OrderIDClaim(project, "same-order", streams[i][:])},
			})
		}()
	}
	wg.Wait()
	var winner uuid.UUID
	wins := 0
	for i, err := range errs {
		var ct *ClaimTakenError
		switch {
		case err == nil:
			wins++
			winner = streams[i]
		case errors.As(err, &ct) && ct.Kind == ClaimOrderID:
		default:
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d commits took the same order id, want 1", wins)
	}
	for _, err := range errs {
		var ct *ClaimTakenError
		if errors.As(err, &ct) && !bytes.Equal(ct.Existing, winner[:]) {
			t.Fatalf("loser saw existing %x, want the winner %s", ct.Existing, winner)
		}
	}
	if got := counterValue(t, s, project, 0, "", ""); got != 1 {
		t.Fatalf("counter %d, want 1", got)
	}
}

func TestCommit_ConcurrentAppendsSameVersionOneWins(t *testing.T) {
	s := newStore(t)
	id := uuid.New()
	if _, err := s.Commit(Commit{Stream: id, Events: evs(1)}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Commit(Commit{Stream: id, ExpectedVersion: 1, Events: [][]byte{{byte(i)}}})
		}()
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrVersionConflict):
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	events, err := s.Events(id, 0)
	if wins != 1 || err != nil || len(events) != 2 {
		t.Fatalf("%d winners, %d events, %v; want 1 winner, 2 events", wins, len(events), err)
	}
}

func TestCommit_InvalidArgumentWritesNothing(t *testing.T) {
	project := uuid.New()
	long := string(bytes.Repeat([]byte("x"), 256))
	id := uuid.New()
	cases := []struct {
		name string
		c    Commit
	}{
		{"no events", Commit{Stream: id}},
		{"status too long", Commit{Stream: id, Events: evs(1), New: row(project, id, long, "BTC", 1, 1)}},
		{"currency too long", Commit{Stream: id, Events: evs(1), New: row(project, id, "new", long, 1, 1)}},
		{"negative fiat", Commit{Stream: id, Events: evs(1), New: withFiat(row(project, id, "new", "BTC", 1, 1), -5)}},
		{"address currency too long", Commit{Stream: id, Events: evs(1), Claims: []Claim{AddressClaim(long, 1, "a", id)}}},
		{"zero claim", Commit{Stream: id, Events: evs(1), Claims: []Claim{{}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if _, err := s.Commit(tc.c); !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("err %v, want ErrInvalidArgument", err)
			}
			if d := dump(t, s); len(d) != 0 {
				t.Fatalf("wrote %d records", len(d))
			}
		})
	}
}

func TestAddressClaim_OwnerAndMaxIndex(t *testing.T) {
	s := newStore(t)
	project := uuid.New()
	type addr struct {
		currency string
		index    uint64
		address  string
	}
	addrs := []addr{{"BTC", 3, "b3"}, {"BTC", 1, "b1"}, {"BTC", 260, "b260"}, {"BTCX", 9000, "x9000"}, {"ETH", 0, "e0"}}
	owners := map[string]uuid.UUID{}
	for _, a := range addrs {
		id := uuid.New()
		owners[a.address] = id
		create(t, s, row(project, id, "new", a.currency, 1, 1), AddressClaim(a.currency, a.index, a.address, id))
	}
	maxCases := []struct {
		currency string
		want     uint64
		ok       bool
	}{{"BTC", 260, true}, {"BTCX", 9000, true}, {"ETH", 0, true}, {"BT", 0, false}, {"LTC", 0, false}}
	for _, tc := range maxCases {
		got, ok, err := s.MaxAddressIndex(tc.currency)
		if err != nil || got != tc.want || ok != tc.ok {
			t.Errorf("MaxAddressIndex(%s) = %d %v %v, want %d %v", tc.currency, got, ok, err, tc.want, tc.ok)
		}
	}
	for _, a := range addrs {
		got, err := s.AddressOwner(a.currency, a.address)
		if err != nil || got != owners[a.address] {
			t.Errorf("AddressOwner(%s, %s) = %s %v", a.currency, a.address, got, err)
		}
	}
	if _, err := s.AddressOwner("BTCX", "b1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("owner across currencies: %v, want ErrNotFound", err)
	}
}

// A Fresh commit skips only the head read: it still writes the head, so a
// later create of the same stream conflicts, and it is refused outright at
// any expected version but 0.
func TestCommit_Fresh(t *testing.T) {
	s := newStore(t)
	project, id := uuid.New(), uuid.New()
	r := row(project, id, "new", "BTC", 100, 500)
	if _, err := s.Commit(Commit{Stream: id, Fresh: true, Events: evs(1), New: r}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(Commit{Stream: id, Events: evs(1), New: r}); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("second create: err %v, want ErrVersionConflict", err)
	}
	before := dump(t, s)
	moved := *r
	moved.Status = "pending"
	if _, err := s.Commit(Commit{Stream: id, Fresh: true, ExpectedVersion: 1, Events: evs(1), Old: r, New: &moved}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("fresh append: err %v, want ErrInvalidArgument", err)
	}
	if after := dump(t, s); !sameDump(before, after) {
		t.Fatalf("refused fresh commit wrote: %d records before, %d after", len(before), len(after))
	}
}
