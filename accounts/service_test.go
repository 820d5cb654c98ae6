package accounts

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
)

// fixture is a service over a real store in dir, an account and a project.
type fixture struct {
	t          *testing.T
	dir        string
	clock      *clock.Test // the injected clock tests move; nothing here sleeps
	store      *persistence.Store
	svc        *Service
	account    persistence.Account
	accountKey string
	by         Actor
	project    persistence.Project
	key        string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), clock: clock.NewTest(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))}
	f.open()
	t.Cleanup(func() { f.store.Close() })
	var err error
	if f.accountKey, f.account, err = f.svc.CreateAccount(); err != nil {
		t.Fatal(err)
	}
	f.by = Actor{KeyID: f.account.Keys[0].ID, IP: netip.MustParseAddr("192.0.2.7")}
	if f.project, f.key, err = f.svc.CreateProject(f.account.ID, NewProject{Name: "shop"}, f.by); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	s, err := persistence.Open(f.dir, persistence.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.store = s
	if f.svc, err = New(s, f.clock, nil); err != nil {
		f.t.Fatal(err)
	}
}

// restart is a process restart: the store closed and opened, a new service.
func (f *fixture) restart() {
	f.t.Helper()
	if err := f.svc.Flush(); err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

// works reports whether key authenticates as the fixture's project.
func (f *fixture) works(key string) bool {
	p, err := f.svc.Project(key, netip.Addr{})
	return err == nil && p.ID == f.project.ID
}

// storedLastUse is the last use the store holds for the project's first key.
func (f *fixture) storedLastUse() time.Time {
	f.t.Helper()
	ps, err := f.store.Projects()
	if err != nil || len(ps) != 1 {
		f.t.Fatalf("%v %v", ps, err)
	}
	return ps[0].Keys[0].LastUsedAt
}

func (f *fixture) roll(d time.Duration) Rolled {
	f.t.Helper()
	_, r, err := f.svc.RollProjectKey(f.account.ID, f.project.ID, d, f.by)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) eventTypes() []string {
	f.t.Helper()
	evs, err := f.svc.ProjectEvents(f.account.ID, f.project.ID, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestRoll_OverlapThenOldKeyExpires(t *testing.T) {
	f := newFixture(t)
	r := f.roll(24 * time.Hour)
	if !f.works(f.key) || !f.works(r.Key) {
		t.Fatal("both keys must work during the overlap")
	}
	if got := f.svc.SigningKeys(f.project.ID); len(got) != 2 || got[0] != HashKey(r.Key) || got[1] != HashKey(f.key) {
		t.Fatalf("signing keys during the overlap: %x", got)
	}
	f.clock.Add(24*time.Hour - time.Nanosecond)
	if !f.works(f.key) {
		t.Fatal("old key stopped before its expiry")
	}
	f.clock.Add(time.Nanosecond)
	if f.works(f.key) || !f.works(r.Key) {
		t.Fatal("at expiry the old key must stop and the new one work")
	}
	if got := f.svc.SigningKeys(f.project.ID); len(got) != 1 || got[0] != HashKey(r.Key) {
		t.Fatalf("signing keys after expiry: %x", got)
	}
	if err := f.svc.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := f.eventTypes(); !slices.Equal(got, []string{EventKeyCreated, EventKeyRolled, EventKeyExpired}) {
		t.Fatalf("events %v", got)
	}
	evs, _ := f.svc.ProjectEvents(f.account.ID, f.project.ID, 100)
	rolled, expired := evs[1], evs[2]
	if rolled.KeyID != r.KeyID || rolled.ActorKeyID != f.by.KeyID || rolled.ClientIP != "192.0.2.7" ||
		!rolled.ExpiresAt.Equal(f.clock.Now()) {
		t.Errorf("rolled event %+v", rolled)
	}
	if expired.KeyID != f.project.Keys[0].ID || !expired.At.Equal(f.clock.Now()) || expired.ActorKeyID != uuid.Nil {
		t.Errorf("expired event %+v", expired)
	}
	if ps := f.svc.Projects(f.account.ID); len(ps) != 1 || len(ps[0].Keys) != 1 || ps[0].Keys[0].ID != r.KeyID {
		t.Fatalf("after the sweep: %+v", ps)
	}
}

func TestRoll_AtMostTwoLiveKeys(t *testing.T) {
	f := newFixture(t)
	r1 := f.roll(time.Hour)
	r2 := f.roll(time.Hour)
	if f.works(f.key) {
		t.Fatal("a third roll must stop the oldest key at once")
	}
	if !f.works(r1.Key) || !f.works(r2.Key) {
		t.Fatal("the two newest keys must work")
	}
	if ps := f.svc.Projects(f.account.ID); len(ps[0].Keys) != 2 {
		t.Fatalf("%d keys listed, want 2", len(ps[0].Keys))
	}
	// A later roll never extends an expiry already set.
	f.clock.Add(30 * time.Minute)
	r3 := f.roll(0)
	if f.works(r1.Key) || f.works(r2.Key) || !f.works(r3.Key) {
		t.Fatal("expire_old_in 0 must stop every old key now")
	}
	want := []string{EventKeyCreated, EventKeyRolled, EventKeyExpired, EventKeyRolled, EventKeyExpired, EventKeyExpired, EventKeyRolled}
	if got := f.eventTypes(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestRoll_RefusedChangesNothing(t *testing.T) {
	f := newFixture(t)
	other, _, err := f.svc.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	otherAcct, _, _ := f.svc.Account(other)
	cases := []struct {
		name    string
		account uuid.UUID
		project uuid.UUID
		d       time.Duration
		want    error
	}{
		{"negative", f.account.ID, f.project.ID, -time.Second, ErrExpireOldIn},
		{"over seven days", f.account.ID, f.project.ID, MaxExpireOldIn + time.Nanosecond, ErrExpireOldIn},
		{"unknown project", f.account.ID, uuid.New(), time.Hour, ErrProjectNotFound},
		{"another account's project", otherAcct.ID, f.project.ID, time.Hour, ErrProjectNotFound},
	}
	for _, tc := range cases {
		if _, _, err := f.svc.RollProjectKey(tc.account, tc.project, tc.d, f.by); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := f.eventTypes(); !slices.Equal(got, []string{EventKeyCreated}) {
		t.Fatalf("events after refusals: %v", got)
	}
	if ps := f.svc.Projects(f.account.ID); len(ps[0].Keys) != 1 || !f.works(f.key) {
		t.Fatal("a refused roll changed the keys")
	}
	if _, _, err := f.svc.RollProjectKey(f.account.ID, f.project.ID, MaxExpireOldIn, f.by); err != nil {
		t.Fatalf("exactly seven days: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	r := f.roll(time.Hour)
	if err := f.svc.RevokeProjectKey(f.account.ID, f.project.ID, f.project.Keys[0].ID, false, f.by); err != nil {
		t.Fatal(err)
	}
	if f.works(f.key) || !f.works(r.Key) {
		t.Fatal("the revoked key must stop at once and the other keep working")
	}
	for _, tc := range []struct {
		name    string
		project uuid.UUID
		key     uuid.UUID
		want    error
	}{
		{"already revoked", f.project.ID, f.project.Keys[0].ID, ErrKeyNotFound},
		{"unknown key", f.project.ID, uuid.New(), ErrKeyNotFound},
		{"unknown project", uuid.New(), r.KeyID, ErrProjectNotFound},
		{"last live key", f.project.ID, r.KeyID, ErrLastKey},
	} {
		if err := f.svc.RevokeProjectKey(f.account.ID, tc.project, tc.key, false, f.by); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if !f.works(r.Key) {
		t.Fatal("a refused revoke stopped the key")
	}
	if err := f.svc.RevokeProjectKey(f.account.ID, f.project.ID, r.KeyID, true, f.by); err != nil {
		t.Fatal(err)
	}
	if f.works(r.Key) || len(f.svc.SigningKeys(f.project.ID)) != 0 {
		t.Fatal("a forced revoke of the last key must leave no live key")
	}
	// A roll of a project without keys gives it one again.
	r2 := f.roll(0)
	if !f.works(r2.Key) {
		t.Fatal("roll after revoking every key")
	}
	want := []string{EventKeyCreated, EventKeyRolled, EventKeyRevoked, EventKeyRevoked, EventKeyRolled}
	if got := f.eventTypes(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestRestart_MidOverlap: the expiry set by a roll is stored, so after a
// restart both keys still work until it, and only the new one after.
func TestRestart_MidOverlap(t *testing.T) {
	f := newFixture(t)
	r := f.roll(2 * time.Hour)
	f.clock.Add(time.Hour)
	f.restart()
	if !f.works(f.key) || !f.works(r.Key) {
		t.Fatal("both keys must work after a restart in the overlap")
	}
	f.clock.Add(time.Hour)
	if f.works(f.key) || !f.works(r.Key) {
		t.Fatal("the old key must stop at its stored expiry")
	}
}

// TestLastUsed_KeptInMemoryWrittenByFlush: authenticating writes nothing;
// the list shows the live value and Flush stores it.
func TestLastUsed_KeptInMemoryWrittenByFlush(t *testing.T) {
	f := newFixture(t)
	f.clock.Add(time.Minute)
	used := f.clock.Now()
	if !f.works(f.key) {
		t.Fatal("key")
	}
	stored := f.storedLastUse
	if !stored().IsZero() {
		t.Fatal("a request wrote its last use")
	}
	if got := f.svc.Projects(f.account.ID)[0].Keys[0].LastUsedAt; !got.Equal(used) {
		t.Fatalf("listed last use %v, want %v", got, used)
	}
	f.restart() // flushes, as the server's shutdown does
	if !stored().Equal(used) {
		t.Fatalf("stored last use %v, want %v", stored(), used)
	}
	if got := f.svc.Projects(f.account.ID)[0].Keys[0].LastUsedAt; !got.Equal(used) {
		t.Fatalf("last use after restart %v", got)
	}
}

// TestRun_FlushesEachIntervalOfTheClock: Run writes last-use times once
// the injected clock passes FlushInterval, with no request and no sleep.
func TestRun_FlushesEachIntervalOfTheClock(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if d := <-f.clock.Waits(); d != FlushInterval {
		t.Fatalf("Run waits %s, want %s", d, FlushInterval)
	}
	used := f.clock.Now()
	if !f.works(f.key) {
		t.Fatal("key")
	}
	stored := f.storedLastUse
	f.clock.Add(FlushInterval - time.Nanosecond)
	if !stored().IsZero() {
		t.Fatal("flushed before the interval")
	}
	f.clock.Add(time.Nanosecond)
	<-f.clock.Waits() // the next round's wait: the flush is done
	if !stored().Equal(used) {
		t.Fatalf("stored last use %v, want %v", stored(), used)
	}
}

func TestUpdateProject(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.svc.CreateProject(f.account.ID, NewProject{Name: "taken"}, f.by); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	rate := func(r float64) *float64 { return &r }
	refused := []struct {
		name   string
		change ProjectChange
		field  string
		want   error
	}{
		{"empty", ProjectChange{}, "body", nil},
		{"blank name", ProjectChange{Name: str("  ")}, "name", nil},
		{"bad ips", ProjectChange{Description: str("ok"), AllowedIPs: str("10.0.0.0/33")}, "api_allowed_ips", nil},
		{"negative rate", ProjectChange{RateLimit: rate(-1)}, "rate_limit", nil},
		{"huge rate", ProjectChange{RateLimit: rate(MaxRateLimit + 1)}, "rate_limit", nil},
		{"name of another project", ProjectChange{Name: str("taken")}, "", ErrNameTaken},
	}
	for _, tc := range refused {
		_, err := f.svc.UpdateProject(f.account.ID, f.project.ID, tc.change, f.by)
		var ve *engine.ValidationError
		switch {
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		case tc.want == nil && (!errors.As(err, &ve) || ve.Fields[0].Field != tc.field):
			t.Errorf("%s: %v, want a validation error on %s", tc.name, err, tc.field)
		}
	}
	if got := f.eventTypes(); !slices.Equal(got, []string{EventKeyCreated}) {
		t.Fatalf("refused changes wrote events: %v", got)
	}
	p, err := f.svc.UpdateProject(f.account.ID, f.project.ID, ProjectChange{Name: str(" shop 2 "), AllowedIPs: str("10.0.0.0/8"), RateLimit: rate(3)}, f.by)
	if err != nil || p.Name != "shop 2" || p.AllowedIPs != "10.0.0.0/8" || p.RateLimit != 3 {
		t.Fatalf("update: %+v %v", p, err)
	}
	if _, err := f.svc.Project(f.key, netip.MustParseAddr("192.0.2.1")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("allow-list must hold on the next request: %v", err)
	}
	if got, err := f.svc.Project(f.key, netip.MustParseAddr("10.1.2.3")); err != nil || got.RateLimit != 3 {
		t.Fatalf("allowed address: %+v %v", got, err)
	}
	evs, _ := f.svc.ProjectEvents(f.account.ID, f.project.ID, 10)
	if last := evs[len(evs)-1]; last.Type != EventProjectChanged || !slices.Equal(last.Fields, []string{"name", "api_allowed_ips", "rate_limit"}) {
		t.Fatalf("change event %+v", last)
	}
	if _, err := f.svc.UpdateProject(uuid.New(), f.project.ID, ProjectChange{Description: str("x")}, f.by); !errors.Is(err, ErrProjectNotFound) {
		t.Fatalf("another account: %v", err)
	}
}

// TestAccountKeyRoll: the account key rolls like a project key, and a
// retired bootstrap key is refused rather than made a new account.
func TestAccountKeyRoll(t *testing.T) {
	f := newFixture(t)
	r, err := f.svc.RollAccountKey(f.account.ID, time.Hour, f.by)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{f.accountKey, r.Key} {
		if a, _, ok := f.svc.Account(k); !ok || a.ID != f.account.ID {
			t.Fatal("both account keys must work during the overlap")
		}
	}
	if _, err := f.svc.EnsureAccount(f.accountKey); err != nil {
		t.Fatalf("bootstrap with the old key during the overlap: %v", err)
	}
	f.clock.Add(time.Hour)
	if _, _, ok := f.svc.Account(f.accountKey); ok {
		t.Fatal("old account key works after its expiry")
	}
	f.restart()
	if _, err := f.svc.EnsureAccount(f.accountKey); !errors.Is(err, ErrKeyRetired) {
		t.Fatalf("bootstrap with a retired key: %v, want ErrKeyRetired", err)
	}
	if a, _, ok := f.svc.Account(r.Key); !ok || a.ID != f.account.ID {
		t.Fatal("new account key after restart")
	}
	if _, err := f.svc.RollAccountKey(f.account.ID, MaxExpireOldIn+1, f.by); !errors.Is(err, ErrExpireOldIn) {
		t.Fatalf("out of range: %v", err)
	}
}

// TestProjectKeyIsNotAnAccountKey keeps the two kinds apart after rolls.
func TestProjectKeyIsNotAnAccountKey(t *testing.T) {
	f := newFixture(t)
	r := f.roll(time.Hour)
	for _, k := range []string{f.key, r.Key} {
		if _, _, ok := f.svc.Account(k); ok {
			t.Fatal("a project key authenticated as an account")
		}
	}
	if _, err := f.svc.Project(f.accountKey, netip.Addr{}); !errors.Is(err, ErrUnauthorized) {
		t.Fatal("an account key authenticated as a project")
	}
}

// BenchmarkProject is the authentication every project request makes:
// hash, look up, check the expiry, mark the key used.
func BenchmarkProject(b *testing.B) {
	dir := b.TempDir()
	s, err := persistence.Open(dir, persistence.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	svc, err := New(s, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, acct, err := svc.CreateAccount()
	if err != nil {
		b.Fatal(err)
	}
	_, key, err := svc.CreateProject(acct.ID, NewProject{Name: "bench"}, Actor{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.Project(key, netip.Addr{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestOwner_FromTheStoredProject: a project's owner (an invoice's user_id)
// is known at once and again after a restart, from the project record
// alone.
func TestOwner_FromTheStoredProject(t *testing.T) {
	f := newFixture(t)
	if got := f.svc.Owner(f.project.ID); got != f.account.ID {
		t.Errorf("Owner = %s, want the account %s", got, f.account.ID)
	}
	f.restart()
	if got := f.svc.Owner(f.project.ID); got != f.account.ID {
		t.Errorf("after a restart Owner = %s, want %s", got, f.account.ID)
	}
	if got := f.svc.Owner(uuid.New()); got != uuid.Nil {
		t.Errorf("an unknown project's owner = %s, want the nil UUID", got)
	}
}

// TestAccountEvents_OwnKeysOnlyAndSurviveARestart: an account's trail is
// its key events (not its projects'), read back after a restart; an
// account that does not exist reads nothing.
func TestAccountEvents_OwnKeysOnlyAndSurviveARestart(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.RollAccountKey(f.account.ID, 0, f.by); err != nil {
		t.Fatal(err)
	}
	f.restart()
	evs, err := f.svc.AccountEvents(f.account.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Owner != f.account.ID {
			t.Fatalf("event %s of owner %s in the account's trail", e.Type, e.Owner)
		}
		got = append(got, e.Type)
	}
	// A roll with no overlap stops the old key in the same batch.
	if want := []string{EventKeyCreated, EventKeyExpired, EventKeyRolled}; !slices.Equal(got, want) {
		t.Fatalf("account events %v, want %v", got, want)
	}
	if _, err := f.svc.AccountEvents(uuid.New(), 100); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("an unknown account's events: %v, want ErrUnauthorized", err)
	}
}
