package persistence

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"
)

// TestClaimFilter_NeverAbsentForAnAddedKey: keys added from many goroutines
// at once, through several growths, are all "maybe" afterwards, and keys
// never added are mostly "absent" (else the filter saves no read).
func TestClaimFilter_NeverAbsentForAnAddedKey(t *testing.T) {
	f := newClaimFilter(maphash.MakeSeed(), 1<<16)
	const writers, perWriter = 8, 40_000 // 320,000 keys: segments of 64k, 128k, 256k
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				f.add(fmt.Appendf(nil, "claim-%d-%d", w, i))
			}
		})
	}
	wg.Wait()
	if n := len(*f.segs.Load()); n < 3 {
		t.Fatalf("%d segments after %d keys, want growth to at least 3", n, writers*perWriter)
	}
	for w := range writers {
		for i := range perWriter {
			if k := fmt.Appendf(nil, "claim-%d-%d", w, i); !f.mayHold(k) {
				t.Fatalf("added key %s is absent", k)
			}
		}
	}
	const probes = 200_000
	maybe := 0
	for i := range probes {
		if f.mayHold(fmt.Appendf(nil, "other-%d", i)) {
			maybe++
		}
	}
	// Each segment is at most full (~0.15 %), three of them add up.
	if rate := float64(maybe) / probes; rate > 0.01 {
		t.Fatalf("false maybe rate %.4f over %d segments, want <= 0.01", rate, len(*f.segs.Load()))
	}
}

// TestClaimFilter_FalseMaybeRate pins the rate of one full segment that
// the constants promise.
func TestClaimFilter_FalseMaybeRate(t *testing.T) {
	const n = 1 << 18
	f := newClaimFilter(maphash.MakeSeed(), n+1) // one segment, full
	for i := range n {
		f.add(fmt.Appendf(nil, "in-%d", i))
	}
	if segs := len(*f.segs.Load()); segs != 1 {
		t.Fatalf("%d segments", segs)
	}
	maybe := 0
	for i := range n {
		if f.mayHold(fmt.Appendf(nil, "out-%d", i)) {
			maybe++
		}
	}
	if rate := float64(maybe) / n; rate > 0.004 {
		t.Fatalf("false maybe rate of a full segment %.5f, want <= 0.004", rate)
	}
	if b := f.bytes(); b != n*filterBitsPerKey/8+filterBlockWords*8 {
		t.Fatalf("a segment of %d keys takes %d bytes", n, b)
	}
}

// TestClaims_TakenAfterEveryPath: a claim written through any path that
// writes claims (Commit, Group.Commit, Group.Add, CreateProject,
// UpdateProject) is refused as taken afterwards, in the same store, after
// a reopen (the filter rebuilt from disk) and after a power loss. A filter
// that missed any of them would answer "absent" and let the second claim
// through.
func TestClaims_TakenAfterEveryPath(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	project := uuid.New()
	acct := Account{ID: uuid.New(), Keys: testKeys("acct")}
	if err := s.PutAccount(acct, nil); err != nil {
		t.Fatal(err)
	}
	newRow := func() *IndexRow { return row(project, uuid.New(), "pending", "BTC", 1, 100) }
	commit := func(r *IndexRow, claims ...Claim) Commit {
		return Commit{Stream: r.InvoiceID, Events: evs(1), New: r, Claims: claims}
	}
	type taken struct {
		name  string
		claim Claim
	}
	var claims []taken
	// Commit: one of each kind a commit carries.
	for i, c := range []Claim{
		OrderIDClaim(project, "order-commit", []byte("v")),
		IdempotencyClaim(project, "idem-commit", []byte("v")),
		AddressClaim("BTC", 1, "addr-commit", uuid.New()),
	} {
		if _, err := s.Commit(commit(newRow(), c)); err != nil {
			t.Fatal(err)
		}
		claims = append(claims, taken{fmt.Sprintf("Commit %d", i), c})
	}
	// Group.Commit and Group.Add: a group of three, one member leaving.
	g := s.NewGroup(3, time.Minute)
	viaGroup := OrderIDClaim(project, "order-group", []byte("v"))
	viaAdd := AddressClaim("LTC", 2, "addr-group-add", uuid.New())
	added := make(chan error, 1)
	g.Add(commit(newRow(), viaAdd), func(_ uint64, err error) { added <- err })
	g.Leave()
	if _, err := g.Commit(commit(newRow(), viaGroup)); err != nil {
		t.Fatal(err)
	}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	claims = append(claims, taken{"Group.Commit", viaGroup}, taken{"Group.Add", viaAdd})

	// Project names: created, and renamed.
	first := Project{ID: uuid.New(), AccountID: acct.ID, Name: "created", Keys: testKeys("p1")}
	second := Project{ID: uuid.New(), AccountID: acct.ID, Name: "before", Keys: testKeys("p2")}
	for _, p := range []Project{first, second} {
		if err := s.CreateProject(p, nil); err != nil {
			t.Fatal(err)
		}
	}
	renamed := second
	renamed.Name = "renamed"
	if err := s.UpdateProject(second, renamed, nil); err != nil {
		t.Fatal(err)
	}
	names := []string{"created", "renamed"}

	refused := func(t *testing.T, s *Store) {
		t.Helper()
		for _, c := range claims {
			_, err := s.Commit(commit(newRow(), c.claim))
			var cte *ClaimTakenError
			if !errors.As(err, &cte) || cte.Kind != c.claim.kind {
				t.Errorf("%s: second %s claim: %v, want taken", c.name, c.claim.kind, err)
			}
		}
		for _, name := range names {
			err := s.CreateProject(Project{ID: uuid.New(), AccountID: acct.ID, Name: name, Keys: testKeys("x" + name)}, nil)
			var cte *ClaimTakenError
			if !errors.As(err, &cte) || cte.Kind != ClaimProjectName {
				t.Errorf("project name %q: %v, want taken", name, err)
			}
		}
	}
	t.Run("live", func(t *testing.T) {
		refused(t, s)
		// The renamed project's old name was freed (and stays "maybe" in
		// the filter, which costs a read): it can be taken again.
		if err := s.CreateProject(Project{ID: uuid.New(), AccountID: acct.ID, Name: "before", Keys: testKeys("p3")}, nil); err != nil {
			t.Fatalf("freed project name: %v", err)
		}
		names = append(names, "before")
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("reopened", func(t *testing.T) { refused(t, s) })
	s = powerLoss(t, fs, s)
	t.Run("after power loss", func(t *testing.T) { refused(t, s) })
}

// TestClaimFilter_OpenLoadsEveryClaim: Open adds exactly the claim keys on
// disk: every one is "maybe", and the filter is sized for them.
func TestClaimFilter_OpenLoadsEveryClaim(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	project := uuid.New()
	var keys [][]byte
	for i := range 300 {
		c := OrderIDClaim(project, fmt.Sprint("o", i), nil)
		create(t, s, row(project, uuid.New(), "pending", "BTC", int64(i), 1), c)
		keys = append(keys, c.key)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	for _, k := range keys {
		if !s.claims.mayHold(k) {
			t.Fatalf("claim %q absent after reopen", k)
		}
	}
	if s.claims.mayHold(OrderIDClaim(project, "never", nil).key) && s.claims.mayHold(OrderIDClaim(project, "nor this", nil).key) {
		t.Fatal("two unwritten claims both maybe in a nearly empty filter")
	}
}
