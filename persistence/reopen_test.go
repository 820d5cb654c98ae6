package persistence

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"
)

// fixture is a small populated store and what a reader must find in it.
type fixture struct {
	project uuid.UUID
	a, b    uuid.UUID
	acct    Account
	proj    Project
}

func populate(t *testing.T, s *Store) fixture {
	t.Helper()
	f := fixture{project: uuid.New(), a: uuid.New(), b: uuid.New()}
	f.acct = Account{ID: uuid.New(), Keys: testKeys("acct"), CreatedAt: time.Unix(100, 5)}
	f.proj = Project{ID: f.project, AccountID: f.acct.ID, Name: "shop", Keys: testKeys("proj"), CreatedAt: time.Unix(200, 0)}
	if err := s.PutAccount(f.acct, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject(f.proj, nil); err != nil {
		t.Fatal(err)
	}
	ra := row(f.project, f.a, "new", "BTC", 10, 100)
	create(t, s, ra, OrderIDClaim(f.project, "o-a", f.a[:]), AddressClaim("BTC", 41, "bc1a", f.a))
	create(t, s, row(f.project, f.b, "new", "ETH", 20, -1), AddressClaim("ETH", 3, "0xb", f.b))
	moved := *ra
	moved.Status = "pending"
	if _, err := s.Commit(Commit{Stream: f.a, ExpectedVersion: 1, Events: [][]byte{[]byte("paid")}, Old: ra, New: &moved}); err != nil {
		t.Fatal(err)
	}
	return f
}

// verify checks everything populate wrote through the public API.
func verify(t *testing.T, s *Store, f fixture) {
	t.Helper()
	snap, v, events, err := s.Load(f.a)
	if err != nil || !bytes.Equal(snap, f.a[:]) || v != 1 || !slices.EqualFunc(events, [][]byte{[]byte("paid")}, bytes.Equal) {
		t.Fatalf("load a: %x@%d %q %v", snap, v, events, err)
	}
	snaps, total, err := s.List(Query{ProjectID: f.project, Status: "pending", Limit: 10})
	if err != nil || total != 1 || len(snaps) != 1 || !bytes.Equal(snaps[0].Snapshot, f.a[:]) {
		t.Fatalf("list pending: %d items total %d %v", len(snaps), total, err)
	}
	snaps, total, err = s.List(Query{ProjectID: f.project, SortBy: SortFiatAmount, Limit: 10})
	if err != nil || total != 2 || len(snaps) != 2 || !bytes.Equal(snaps[0].Snapshot, f.b[:]) {
		t.Fatalf("list by fiat: %d items total %d %v", len(snaps), total, err)
	}
	if idx, ok, err := s.MaxAddressIndex("BTC"); err != nil || !ok || idx != 41 {
		t.Fatalf("max BTC index %d %v %v", idx, ok, err)
	}
	if owner, err := s.AddressOwner("ETH", "0xb"); err != nil || owner != f.b {
		t.Fatalf("owner of 0xb: %s %v", owner, err)
	}
	var ct *ClaimTakenError
	_, err = s.Commit(Commit{Stream: uuid.New(), Events: evs(1), Claims: []Claim{OrderIDClaim(f.project, "o-a", nil)}})
	if !errors.As(err, &ct) {
		t.Fatalf("order id claim lost: %v", err)
	}
	ps, err := s.Projects()
	if err != nil || len(ps) != 1 || ps[0].ID != f.proj.ID || !ps[0].CreatedAt.Equal(f.proj.CreatedAt) {
		t.Fatalf("projects: %+v %v", ps, err)
	}
	if a, err := s.AccountByKeyHash(f.acct.Keys[0].Hash); err != nil || a.ID != f.acct.ID {
		t.Fatalf("account: %+v %v", a, err)
	}
	if p, err := s.ProjectByKeyHash(f.proj.Keys[0].Hash); err != nil || p.Name != "shop" {
		t.Fatalf("project: %+v %v", p, err)
	}
}

func TestStore_ReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := populate(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	verify(t, openStore(t, dir), f)
}

// TestStore_CrashKeepsSyncedCommits simulates power loss right after the
// writes returned: the clone keeps only what was fsynced, and must hold
// every acknowledged write.
func TestStore_CrashKeepsSyncedCommits(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	f := populate(t, s)
	// Control: an unsynced write must be lost, or the clone proves nothing.
	if err := s.DB().Set([]byte("\xffunsynced"), []byte("x"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	c := powerLoss(t, fs, s)
	if _, err := getFrom(c.db, []byte("\xffunsynced")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unsynced write survived the crash (%v): the crash clone keeps unsynced data", err)
	}
	verify(t, c, f)
}

// TestOpen_LockedStoreIsErrLocked: a store another Store (or process) holds
// is ErrLocked, so `invoiced backup` knows a server is running on it.
func TestOpen_LockedStoreIsErrLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}
