package webhook

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors/internal/actortest"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/webhooks"
)

// gatedSender is the outside world: it answers 200 once its gate is open
// (nil = at once) and keeps count of what is in flight per host.
type gatedSender struct {
	mu                sync.Mutex
	gate              chan struct{}
	inflight, maxHost map[string]int
	total, maxTotal   int
	sent              []string
	keys              [][][32]byte // the signing keys of each attempt, in order
}

func newGatedSender(gate chan struct{}) *gatedSender {
	return &gatedSender{gate: gate, inflight: map[string]int{}, maxHost: map[string]int{}}
}

func (g *gatedSender) Send(ctx context.Context, d webhooks.Delivery) (webhooks.Result, error) {
	host := hostOf(d.URL)
	g.mu.Lock()
	g.inflight[host]++
	g.total++
	g.maxHost[host] = max(g.maxHost[host], g.inflight[host])
	g.maxTotal = max(g.maxTotal, g.total)
	g.sent = append(g.sent, d.ID)
	g.keys = append(g.keys, d.Keys)
	gate := g.gate
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inflight[host]--
		g.total--
		g.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return webhooks.Result{}, ctx.Err()
		}
	}
	return webhooks.Result{StatusCode: 200, Duration: time.Millisecond}, nil
}

func (g *gatedSender) snapshot() (total int, perHost map[string]int, sent []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total, maps.Clone(g.inflight), slices.Clone(g.sent)
}

// newTestInvoices is an invoice Service over a real store in a temp dir.
func newTestInvoices(t *testing.T) (*invoice.Service, *persistence.Store) {
	t.Helper()
	p := actortest.New(t)
	svc, err := invoice.New(invoice.Config{Store: p.Store, Rules: p.Rules, Deriver: p.Deriver, Rates: p.Rates})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Shutdown)
	return svc, p.Store
}

func startTestDeliverer(t *testing.T, svc *invoice.Service, store *persistence.Store, cfg Config) *Deliverer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.System, cfg.Store, cfg.Invoices = svc.System(), store, svc
	cfg.Interval = 10 * time.Millisecond
	if cfg.Keys == nil {
		accts, err := accounts.New(store, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Keys = accts
	}
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); d.Stop() }) // before the service's cleanup and the store's
	return d
}

// cancelledInvoice creates an invoice with callback url and cancels it:
// one webhook.
func cancelledInvoice(t *testing.T, r *invoice.Service, project uuid.UUID, url string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	inv, _, err := r.Create(ctx, project, engine.CreateRequest{OrderID: uuid.NewString(), Currency: "BTC", CryptoAmount: ptr("0.001"), CallbackURL: ptr(url)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ChangeStatus(ctx, project, inv.ID, engine.StatusCancelled, ""); err != nil {
		t.Fatal(err)
	}
	return inv.ID
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func createProject(t *testing.T, store *persistence.Store) uuid.UUID {
	t.Helper()
	p, _, _ := createProjectWith(t, store)
	return p
}

// createProjectWith creates an account and a project through the accounts
// service it returns, with the project's key.
func createProjectWith(t *testing.T, store *persistence.Store) (uuid.UUID, string, *accounts.Service) {
	t.Helper()
	accts, err := accounts.New(store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, acct, err := accts.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	p, key, err := accts.CreateProject(acct.ID, accounts.NewProject{Name: "shop"}, accounts.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	return p.ID, key, accts
}

// TestDeliverer_SignsWithTheKeysLiveAtSendTime: during a roll's overlap a
// webhook carries a signature per live key, newest first; after a revoke
// the next webhook (one owed before it included) is signed with the keys
// left.
func TestDeliverer_SignsWithTheKeysLiveAtSendTime(t *testing.T) {
	r, store := newTestInvoices(t)
	project, oldKey, accts := createProjectWith(t, store)
	p, err := accts.Project(oldKey, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	owner := p.AccountID
	_, rolled, err := accts.RollProjectKey(owner, project, time.Hour, accounts.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	sender := newGatedSender(nil)
	startTestDeliverer(t, r, store, Config{Sender: sender, Keys: accts})
	cancelledInvoice(t, r, project, "http://a.example/hook")
	eventually(t, "the first webhook", func() bool { n, _, sent := sender.snapshot(); return n == 0 && len(sent) == 1 })
	if err := accts.RevokeProjectKey(owner, project, p.Keys[0].ID, false, accounts.Actor{}); err != nil {
		t.Fatal(err)
	}
	cancelledInvoice(t, r, project, "http://a.example/hook")
	eventually(t, "the second webhook", func() bool { n, _, sent := sender.snapshot(); return n == 0 && len(sent) == 2 })
	sender.mu.Lock()
	defer sender.mu.Unlock()
	want := [][][32]byte{{accounts.HashKey(rolled.Key), accounts.HashKey(oldKey)}, {accounts.HashKey(rolled.Key)}}
	if !slices.EqualFunc(sender.keys, want, func(a, b [][32]byte) bool { return slices.Equal(a, b) }) {
		t.Fatalf("signing keys per attempt %x, want %x", sender.keys, want)
	}
}

func TestDeliverer_WorkersAndPerHostCap(t *testing.T) {
	r, store := newTestInvoices(t)
	project := createProject(t, store)
	for i := range 15 {
		host := "a.example"
		if i >= 12 {
			host = "b.example"
		}
		cancelledInvoice(t, r, project, "http://"+host+"/hook")
	}
	gate := make(chan struct{})
	sender := newGatedSender(gate)
	startTestDeliverer(t, r, store, Config{Sender: sender, Workers: 6, PerHost: 4})

	// Host a's twelve webhooks are due first but take only its four slots;
	// host b's go ahead with the workers left.
	eventually(t, "six attempts in flight", func() bool { n, _, _ := sender.snapshot(); return n == 6 })
	if _, perHost, _ := sender.snapshot(); perHost["a.example:80"] != 4 || perHost["b.example:80"] != 2 {
		t.Fatalf("in flight per host %v, want a:4 b:2", perHost)
	}
	close(gate)
	eventually(t, "every webhook delivered", func() bool { b, _, _ := store.OutboxCounts(); return b == 0 })
	_, _, sent := sender.snapshot()
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sent) != 15 || sender.maxTotal != 6 || sender.maxHost["a.example:80"] != 4 {
		t.Fatalf("%d sent, at most %d at once and %d to host a; want 15, 6, 4", len(sent), sender.maxTotal, sender.maxHost["a.example:80"])
	}
}

func TestDeliverer_RedeliverDuringAnAttemptSendsAgain(t *testing.T) {
	r, store := newTestInvoices(t)
	project := createProject(t, store)
	gate := make(chan struct{})
	sender := newGatedSender(gate)
	d := startTestDeliverer(t, r, store, Config{Sender: sender})
	id := cancelledInvoice(t, r, project, "http://a.example/hook")
	eventually(t, "the first attempt", func() bool { n, _, _ := sender.snapshot(); return n == 1 })

	whID := invoice.WebhookID(id, 2)
	rec, err := d.Redeliver(context.Background(), project, id, whID)
	if err != nil || rec.Status != "pending" {
		t.Fatalf("redeliver: %+v %v", rec, err)
	}
	if _, err := d.Redeliver(context.Background(), uuid.New(), id, whID); err == nil {
		t.Fatal("another project redelivered the webhook")
	}
	close(gate)
	// The attempt that began before the request does not satisfy it.
	var list []WebhookRecord
	eventually(t, "delivered by a second attempt", func() bool {
		list, err = d.Webhooks(context.Background(), project, id)
		return err == nil && len(list) == 1 && list[0].Status == "delivered"
	})
	if _, _, sent := sender.snapshot(); len(sent) != 2 || sent[0] != whID || sent[1] != whID || len(list[0].Attempts) != 2 {
		t.Fatalf("sent %v, attempts %+v", sent, list[0].Attempts)
	}
	if _, err := d.Redeliver(context.Background(), project, id, "wh_nope"); !errors.Is(err, ErrWebhookNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

// TestDeliverer_KeylessProjectWaitsForAKey: a project whose every key was
// revoked has nothing to sign with; its webhook is not sent unsigned but
// looked at again a minute later, and goes out once a roll gave the
// project a key.
func TestDeliverer_KeylessProjectWaitsForAKey(t *testing.T) {
	r, store := newTestInvoices(t)
	project, key, accts := createProjectWith(t, store)
	p, err := accts.Project(key, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if err := accts.RevokeProjectKey(p.AccountID, project, p.Keys[0].ID, true, accounts.Actor{}); err != nil {
		t.Fatal(err)
	}
	clock := clock.NewTest(time.Now().Add(time.Hour)) // every webhook written now is due
	sender := newGatedSender(nil)
	startTestDeliverer(t, r, store, Config{Sender: sender, Keys: accts, Clock: clock})
	inv := cancelledInvoice(t, r, project, "http://a.example/hook")
	eventually(t, "the webhook put off by a minute", func() bool {
		q, err := store.OutboxQueue(inv)
		return err == nil && len(q) == 1 && q[0].State.Next == clock.Now().Add(keylessWait).UnixNano()
	})
	if _, _, sent := sender.snapshot(); len(sent) != 0 {
		t.Fatalf("sent %v without a key", sent)
	}
	_, rolled, err := accts.RollProjectKey(p.AccountID, project, 0, accounts.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(keylessWait)
	eventually(t, "the webhook sent once the project has a key", func() bool { _, _, sent := sender.snapshot(); return len(sent) == 1 })
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.keys[0]) != 1 || sender.keys[0][0] != accounts.HashKey(rolled.Key) {
		t.Fatalf("signed with %x, want the rolled key's hash", sender.keys[0])
	}
}

func ptr[T any](v T) *T { return &v }

// blockingKeys holds the round that asks for signing keys until released.
type blockingKeys struct {
	inner   signingKeys
	entered chan struct{}
	release chan struct{}
}

func (b *blockingKeys) SigningKeys(project uuid.UUID) [][32]byte {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.inner.SigningKeys(project)
}

// TestDeliverer_RoundDoesNotHoldUpReaders: while a round is stuck in the
// middle of starting an attempt, the webhook list and a metrics scrape
// still answer, and Stop waits for the round.
func TestDeliverer_RoundDoesNotHoldUpReaders(t *testing.T) {
	r, store := newTestInvoices(t)
	project, _, accts := createProjectWith(t, store)
	keys := &blockingKeys{inner: accts, entered: make(chan struct{}, 1), release: make(chan struct{})}
	d := startTestDeliverer(t, r, store, Config{Sender: newGatedSender(nil), Keys: keys})
	id := cancelledInvoice(t, r, project, "http://a.example/hook")
	<-keys.entered // a round is now inside startDue

	listed := make(chan error, 1)
	go func() {
		_, err := d.Webhooks(context.Background(), project, id)
		listed <- err
	}()
	scraped := make(chan int, 1)
	go func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(d)
		mfs, _ := reg.Gather()
		scraped <- len(mfs)
	}()
	for _, wait := range []func() string{
		func() string {
			if err := <-listed; err != nil {
				return err.Error()
			}
			return ""
		},
		func() string {
			if n := <-scraped; n == 0 {
				return "scrape gathered nothing"
			}
			return ""
		},
	} {
		done := make(chan string, 1)
		go func() { done <- wait() }()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatal(msg)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a reader waited for the round in progress")
		}
	}

	stopped := make(chan struct{})
	go func() { d.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a round was still running")
	case <-time.After(50 * time.Millisecond):
	}
	close(keys.release)
	<-stopped
}
