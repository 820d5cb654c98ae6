package persistence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// testKeys is one key per name, hashed as the accounts service hashes.
func testKeys(names ...string) []Key {
	var out []Key
	for _, n := range names {
		out = append(out, Key{ID: uuid.New(), Hash: sha256.Sum256([]byte(n)), Prefix: "abcdef01", CreatedAt: time.Unix(7, 0).UTC()})
	}
	return out
}

func TestPutAccount(t *testing.T) {
	s := newStore(t)
	a := Account{ID: uuid.New(), Keys: testKeys("a"), CreatedAt: time.Unix(1, 2)}
	if err := s.PutAccount(a, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		account Account
		wantErr error
	}{
		{"same account again is idempotent", a, nil},
		{"other account with the same key", Account{ID: uuid.New(), Keys: a.Keys}, ErrClaimTaken},
		{"same id with another key", Account{ID: a.ID, Keys: testKeys("b")}, ErrClaimTaken},
		{"no key", Account{ID: uuid.New()}, ErrInvalidArgument},
		{"another account", Account{ID: uuid.New(), Keys: testKeys("c")}, nil},
	}
	for _, tc := range cases {
		if err := s.PutAccount(tc.account, nil); !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	got, err := s.AccountByKeyHash(a.Keys[0].Hash)
	if err != nil || got.ID != a.ID || !slices.Equal(got.Keys, a.Keys) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("account by hash: %+v %v", got, err)
	}
	if _, err := s.AccountByKeyHash(sha256.Sum256([]byte("b"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	all, err := s.Accounts()
	if err != nil || len(all) != 2 {
		t.Fatalf("accounts: %d %v, want 2", len(all), err)
	}
}

func TestCreateProject(t *testing.T) {
	s := newStore(t)
	acct1 := Account{ID: uuid.New(), Keys: testKeys("a1")}
	acct2 := Account{ID: uuid.New(), Keys: testKeys("a2")}
	for _, a := range []Account{acct1, acct2} {
		if err := s.PutAccount(a, nil); err != nil {
			t.Fatal(err)
		}
	}
	first := Project{ID: uuid.New(), AccountID: acct1.ID, Name: "shop", Description: "d", AllowedIPs: "10.0.0.0/8",
		RateLimit: 2.5, Keys: testKeys("p1"), CreatedAt: time.Unix(5, 0)}
	if err := s.CreateProject(first, nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		p        Project
		wantErr  error
		wantKind ClaimKind
	}{
		{"name taken in the account", Project{ID: uuid.New(), AccountID: acct1.ID, Name: "shop", Keys: testKeys("p2")}, ErrClaimTaken, ClaimProjectName},
		{"same name in another account", Project{ID: uuid.New(), AccountID: acct2.ID, Name: "shop", Keys: testKeys("p3")}, nil, 0},
		{"key hash reused", Project{ID: uuid.New(), AccountID: acct1.ID, Name: "other", Keys: first.Keys}, ErrClaimTaken, 0},
		{"id reused", Project{ID: first.ID, AccountID: acct1.ID, Name: "third", Keys: testKeys("p4")}, ErrClaimTaken, 0},
		{"unknown account", Project{ID: uuid.New(), AccountID: uuid.New(), Name: "x", Keys: testKeys("p5")}, ErrNotFound, 0},
	}
	for _, tc := range cases {
		before := dump(t, s)
		err := s.CreateProject(tc.p, []AuditEvent{{ID: uuid.New(), Owner: tc.p.ID, Type: "project_created", At: time.Unix(9, 0)}})
		if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if err != nil && !sameDump(before, dump(t, s)) {
			t.Errorf("%s: failed create wrote records", tc.name)
		}
		if tc.wantKind != 0 {
			var ct *ClaimTakenError
			if !errors.As(err, &ct) || ct.Kind != tc.wantKind || !bytes.Equal(ct.Existing, first.ID[:]) {
				t.Errorf("%s: %v, want ClaimTakenError %v with the first project's id", tc.name, err, tc.wantKind)
			}
		}
	}
	got, err := s.ProjectByKeyHash(first.Keys[0].Hash)
	if err != nil || got.ID != first.ID || got.AccountID != acct1.ID || got.Name != "shop" || got.Description != "d" ||
		got.AllowedIPs != "10.0.0.0/8" || got.RateLimit != 2.5 || !slices.Equal(got.Keys, first.Keys) || !got.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("project by hash: %+v %v", got, err)
	}
	if _, err := s.ProjectByKeyHash(sha256.Sum256([]byte("nope"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	all, err := s.Projects()
	if err != nil || len(all) != 2 {
		t.Fatalf("projects: %d %v, want 2", len(all), err)
	}
}

// TestUpdateProject: a roll adds a key (indexed), a revoke drops one (its
// index stays, so the hash cannot come back), a rename moves the name
// claim, and a refused update writes nothing.
func TestUpdateProject(t *testing.T) {
	s := newStore(t)
	acct := Account{ID: uuid.New(), Keys: testKeys("acct")}
	if err := s.PutAccount(acct, nil); err != nil {
		t.Fatal(err)
	}
	p := Project{ID: uuid.New(), AccountID: acct.ID, Name: "shop", Keys: testKeys("k1"), CreatedAt: time.Unix(5, 0).UTC()}
	other := Project{ID: uuid.New(), AccountID: acct.ID, Name: "other", Keys: testKeys("o1"), CreatedAt: time.Unix(5, 0).UTC()}
	for _, x := range []Project{p, other} {
		if err := s.CreateProject(x, nil); err != nil {
			t.Fatal(err)
		}
	}
	rolled := p
	rolled.Keys = append(slices.Clone(p.Keys), testKeys("k2")...)
	rolled.Keys[0].ExpiresAt = time.Unix(100, 0).UTC()
	rolled.Name = "shop2"
	ev := AuditEvent{ID: uuid.New(), Owner: p.ID, Type: "key_rolled", At: time.Unix(50, 0).UTC(), KeyID: rolled.Keys[1].ID,
		ActorKeyID: acct.Keys[0].ID, ClientIP: "127.0.0.1", ExpiresAt: time.Unix(100, 0).UTC()}
	if err := s.UpdateProject(p, rolled, []AuditEvent{ev}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ProjectByKeyHash(rolled.Keys[1].Hash); err != nil || got.Name != "shop2" || !slices.Equal(got.Keys, rolled.Keys) {
		t.Fatalf("after roll: %+v %v", got, err)
	}
	if err := s.CreateProject(Project{ID: uuid.New(), AccountID: acct.ID, Name: "shop", Keys: testKeys("k9")}, nil); err != nil {
		t.Fatalf("old name not released by the rename: %v", err)
	}

	revoked := rolled
	revoked.Keys = rolled.Keys[1:]
	if err := s.UpdateProject(rolled, revoked, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ProjectByKeyHash(rolled.Keys[0].Hash); err != nil || got.ID != p.ID || len(got.Keys) != 1 {
		t.Fatalf("a dropped key's index must stay: %+v %v", got, err)
	}

	refused := []struct {
		name string
		next Project
		want error
	}{
		{"name of another project", func() Project { x := revoked; x.Name = "other"; return x }(), ErrClaimTaken},
		{"a dropped key again", func() Project { x := revoked; x.Keys = append(slices.Clone(x.Keys), rolled.Keys[0]); return x }(), ErrClaimTaken},
		{"another project's key", func() Project { x := revoked; x.Keys = append(slices.Clone(x.Keys), other.Keys[0]); return x }(), ErrClaimTaken},
		{"account changed", func() Project { x := revoked; x.AccountID = uuid.New(); return x }(), ErrInvalidArgument},
	}
	for _, tc := range refused {
		before := dump(t, s)
		if err := s.UpdateProject(revoked, tc.next, []AuditEvent{ev}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if !sameDump(before, dump(t, s)) {
			t.Errorf("%s: a refused update wrote records", tc.name)
		}
	}
	events, err := s.AuditEvents(p.ID, 10)
	if err != nil || len(events) != 1 || events[0].Type != "key_rolled" || events[0].KeyID != ev.KeyID ||
		events[0].ActorKeyID != ev.ActorKeyID || events[0].ClientIP != "127.0.0.1" || !events[0].ExpiresAt.Equal(ev.ExpiresAt) {
		t.Fatalf("audit events: %+v %v", events, err)
	}
}

func TestAuditEvents_NewestLimitOldestFirst(t *testing.T) {
	s := newStore(t)
	acct := Account{ID: uuid.New(), Keys: testKeys("acct")}
	var events []AuditEvent
	for i := range 5 {
		events = append(events, AuditEvent{ID: uuid.New(), Owner: acct.ID, Type: "key_created", At: time.Unix(int64(10-i), 0)})
	}
	events = append(events, AuditEvent{ID: uuid.New(), Owner: uuid.New(), Type: "key_created", At: time.Unix(1, 0)})
	if err := s.PutAccount(acct, events); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditEvents(acct.ID, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("%d events %v", len(got), err)
	}
	for i, want := range []int64{8, 9, 10} {
		if got[i].At.Unix() != want {
			t.Errorf("event %d at %d, want %d", i, got[i].At.Unix(), want)
		}
	}
}

// TestProject_LegacyRecordReads: a record written before keys had ids (a
// bare key_hash) reads as one unlimited key with a stable id.
func TestProject_LegacyRecordReads(t *testing.T) {
	s := newStore(t)
	h := sha256.Sum256([]byte("legacy"))
	id, acct := uuid.New(), uuid.New()
	rec, err := encodeRecord(map[string]any{"id": id, "account_id": acct, "name": "old", "description": "",
		"allowed_ips": "", "key_hash": hex.EncodeToString(h[:]), "created_at": time.Unix(3, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(projectKey(id), rec, syncWrite); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(projectHashKey(h), id[:], syncWrite); err != nil {
		t.Fatal(err)
	}
	p1, err := s.ProjectByKeyHash(h)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.ProjectByKeyHash(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Keys) != 1 || p1.Keys[0].Hash != h || p1.Keys[0].ID == uuid.Nil || p1.Keys[0].ID != p2.Keys[0].ID ||
		!p1.Keys[0].ExpiresAt.IsZero() || !p1.Keys[0].CreatedAt.Equal(time.Unix(3, 0)) || p1.Keys[0].Prefix != "" {
		t.Fatalf("legacy project: %+v / %+v", p1, p2)
	}
	// Rewritten, it is in the new format and still the same key.
	next := p1
	next.Description = "now"
	if err := s.UpdateProject(p1, next, nil); err != nil {
		t.Fatal(err)
	}
	if p3, err := s.ProjectByKeyHash(h); err != nil || p3.Description != "now" || !slices.Equal(p3.Keys, p1.Keys) {
		t.Fatalf("rewritten legacy project: %+v %v", p3, err)
	}
}

func TestRecord_UnknownFormatRejected(t *testing.T) {
	var p projectRecord
	if err := decodeRecord([]byte{0x7f, '{', '}'}, &p); err == nil {
		t.Fatal("unknown format byte accepted")
	}
}
