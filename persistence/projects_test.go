package persistence

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestPutAccount(t *testing.T) {
	s := newStore(t)
	a := Account{ID: uuid.New(), KeyHash: sha256.Sum256([]byte("a")), CreatedAt: time.Unix(1, 2)}
	if err := s.PutAccount(a); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		account Account
		wantErr error
	}{
		{"same account again is idempotent", a, nil},
		{"other account with the same key", Account{ID: uuid.New(), KeyHash: a.KeyHash}, ErrClaimTaken},
		{"same id with another key", Account{ID: a.ID, KeyHash: sha256.Sum256([]byte("b"))}, ErrClaimTaken},
		{"another account", Account{ID: uuid.New(), KeyHash: sha256.Sum256([]byte("c"))}, nil},
	}
	for _, tc := range cases {
		if err := s.PutAccount(tc.account); !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	got, err := s.AccountByKeyHash(a.KeyHash)
	if err != nil || got.ID != a.ID || got.KeyHash != a.KeyHash || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("account by hash: %+v %v", got, err)
	}
	if _, err := s.AccountByKeyHash(sha256.Sum256([]byte("b"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
}

func TestCreateProject(t *testing.T) {
	s := newStore(t)
	acct1 := Account{ID: uuid.New(), KeyHash: sha256.Sum256([]byte("a1"))}
	acct2 := Account{ID: uuid.New(), KeyHash: sha256.Sum256([]byte("a2"))}
	for _, a := range []Account{acct1, acct2} {
		if err := s.PutAccount(a); err != nil {
			t.Fatal(err)
		}
	}
	first := Project{ID: uuid.New(), AccountID: acct1.ID, Name: "shop", Description: "d", AllowedIPs: "10.0.0.0/8",
		KeyHash: sha256.Sum256([]byte("p1")), CreatedAt: time.Unix(5, 0)}
	if err := s.CreateProject(first); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		p        Project
		wantErr  error
		wantKind ClaimKind
	}{
		{"name taken in the account", Project{ID: uuid.New(), AccountID: acct1.ID, Name: "shop", KeyHash: sha256.Sum256([]byte("p2"))}, ErrClaimTaken, ClaimProjectName},
		{"same name in another account", Project{ID: uuid.New(), AccountID: acct2.ID, Name: "shop", KeyHash: sha256.Sum256([]byte("p3"))}, nil, 0},
		{"key hash reused", Project{ID: uuid.New(), AccountID: acct1.ID, Name: "other", KeyHash: first.KeyHash}, ErrClaimTaken, 0},
		{"id reused", Project{ID: first.ID, AccountID: acct1.ID, Name: "third", KeyHash: sha256.Sum256([]byte("p4"))}, ErrClaimTaken, 0},
		{"unknown account", Project{ID: uuid.New(), AccountID: uuid.New(), Name: "x", KeyHash: sha256.Sum256([]byte("p5"))}, ErrNotFound, 0},
	}
	for _, tc := range cases {
		before := dump(t, s)
		err := s.CreateProject(tc.p)
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
	got, err := s.ProjectByKeyHash(first.KeyHash)
	if err != nil || got.ID != first.ID || got.AccountID != acct1.ID || got.Name != "shop" || got.Description != "d" ||
		got.AllowedIPs != "10.0.0.0/8" || got.KeyHash != first.KeyHash || !got.CreatedAt.Equal(first.CreatedAt) {
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

func TestRecord_UnknownFormatRejected(t *testing.T) {
	var p projectRecord
	if err := decodeRecord([]byte{0x7f, '{', '}'}, &p); err == nil {
		t.Fatal("unknown format byte accepted")
	}
}
