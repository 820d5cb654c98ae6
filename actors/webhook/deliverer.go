package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/backoff"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/webhooks"
)

// sender makes one delivery attempt; webhooks.Sender is the real one.
type sender interface {
	Send(ctx context.Context, d webhooks.Delivery) (webhooks.Result, error)
}

// signingKeys are a project's webhook signing keys at send time: one per
// live API key (two during a key roll's overlap); accounts.Service is the
// real one.
type signingKeys interface {
	SigningKeys(project uuid.UUID) [][32]byte
}

// invoices answers whether a project owns an invoice (invoice.Service).
type invoices interface {
	Get(ctx context.Context, project, id uuid.UUID) (engine.Invoice, error)
}

// Config configures the Deliverer; zero fields take their defaults.
type Config struct {
	// System, Store and Invoices are required: the actor system the
	// Deliverer runs on, the store holding the outbox, and the invoices
	// whose ownership the listing and redelivery check.
	System   *actors.System
	Store    *persistence.Store
	Invoices invoices
	// Sender makes the attempts (required). One per process, so its
	// connections, SSRF guard and timeouts serve every delivery.
	Sender sender
	// Keys gives each attempt the signing keys of its project as they are
	// when it is sent, so a webhook owed before a key roll or revoke is
	// signed with the keys live after it (required).
	Keys signingKeys
	// Clock schedules retries and stamps attempts (nil = the wall clock);
	// only Now is read: the Deliverer polls its persisted schedule rather
	// than arming a timer per webhook.
	Clock  clock.Clock
	Logger *slog.Logger // nil = discard
	// RequestTimeout bounds a redelivery request to the actor (default 10 s).
	RequestTimeout time.Duration
	// Interval is how often the due schedule is scanned when nothing wakes
	// the Deliverer sooner (default 1 s). Commits with webhooks and
	// finished attempts wake it at once.
	Interval time.Duration
	// Workers bounds the attempts in flight (default 32).
	Workers int
	// PerHost bounds the attempts in flight to one host:port (default
	// DefaultPerHost). Keep it at most the Sender's own per-host cap, so a
	// worker never waits for a slot while other hosts' webhooks are due.
	PerHost int
	// Schedule is the wait after each failed attempt; after the last one
	// the record is dead-lettered (nil = DefaultRetrySchedule).
	Schedule []time.Duration
	// Rand returns jitter in [0, 1) (nil = math/rand/v2).
	Rand func() float64
	// Stamps is the clock that stamps new webhooks, the invoice Service's
	// (nil = the wall clock): the due schedule is read from the earlier of
	// it and Clock.
	Stamps clock.Clock
	// Breaker spaces out the attempts to a host that keeps failing.
	Breaker BreakerConfig
	// HostCache bounds how many invoices' callback hosts are remembered, so
	// the due webhooks of a host without room are passed over without
	// reading them (default 131,072, a few MB).
	HostCache int
	// LogInterval is how often failed attempts are summed up in the log,
	// one line per host (default 1 min).
	LogInterval time.Duration
	// scanBudget overrides maxDueScan (tests).
	scanBudget int
}

// DefaultPerHost is the default of Config.PerHost, and the per-host cap
// the server gives the Sender to match.
const DefaultPerHost = 8

// Deliverer delivers the webhook outbox: an actor that scans the persisted
// due schedule and starts each due webhook on a bounded pool of attempts,
// then records every result durably before acting on it.
//
// Invariants:
//
//  1. Per-invoice order: a webhook is attempted only when it is the first
//     pending one of its invoice (every earlier one delivered or dead), and
//     one invoice never has two attempts in flight (inflight).
//  2. A result is acted on only once it is durable: the next webhook of an
//     invoice starts in a round after the batch recording its predecessor's
//     outcome was synced (finish, then startDue).
//  3. At least once: nothing is written before an attempt, so a crash
//     mid-attempt leaves the webhook due and it is sent again after the
//     restart; receivers deduplicate on X-Webhook-Id.
//  4. Bounded: at most Workers attempts in flight, at most PerHost against
//     one host:port (hosts), so one slow or failing endpoint holds up only
//     its own invoices; a host that keeps failing gets one probe per
//     cooldown (breaker). Memory is bounded by the configuration, not the
//     backlog: the attempts in flight, the host cache and one held key per
//     host; the backlog stays on disk.
//  5. Once Stop returns nothing touches the store: rounds, redeliveries and
//     the metric and list reads hold mu's read lock and check stopped, and
//     Stop sets stopped under the write lock, so it waits for them.
//  6. Background work never holds up the API: a round holds only the read
//     lock, so the webhook list, a redelivery and a metrics scrape proceed
//     while a long round (a deep due schedule, a slow sync) runs.
//
// Locks: mu guards stopped only; inflight, hosts and urls are the
// actor's state, used only on its mailbox (the scrape reads the open
// circuits' count from the atomic failing, which each round sets);
// results and wake are channels.
type Deliverer struct {
	cfg     Config
	store   *persistence.Store
	clock   clock.Clock
	backoff backoff.Backoff
	log     *slog.Logger
	ctx     context.Context
	pid     *actor.PID
	ticker  *actors.Ticker
	metrics metrics

	wake chan struct{} // an attempt finished
	// results has room for one result per attempt in flight, so a finishing
	// attempt never blocks.
	results chan attemptResult

	mu      sync.RWMutex
	stopped bool         // guarded by mu
	failing atomic.Int64 // hosts with an open circuit, as of the last round

	// The actor's state, used only on its mailbox.
	inflight  map[uuid.UUID]bool   // invoices with an attempt in flight
	hosts     map[string]int       // attempts in flight per host:port
	hostCache map[uuid.UUID]string // callback host per invoice (see remember)
	urlHosts  map[string]string    // callback URL -> host
	breakers  *breakers
	failures  *failureLog
	span      time.Duration // the retry schedule's longest span, jitter included
	// Where the due schedule is read from (see scan).
	watermark  int64                            // unix nanos: keys due before were looked at
	resume     *persistence.OutboxDue           // where the last round's fresh part stopped
	catchup    *persistence.OutboxDue           // where the last round's catch-up part stopped
	held       map[string]persistence.OutboxDue // per host without room: its first due key
	scanned    int                              // due keys read, for tests
	recheck    []uuid.UUID                      // invoices whose attempt ended other than failed
	fullScan   time.Time                        // the next round that reads everything
	marginScan time.Time                        // the next round that reads below the watermark
}

const (
	// maxKeptAttempts bounds a record's attempt history (redeliveries can
	// add attempts forever); the oldest are dropped.
	maxKeptAttempts = 50
	// maxAttemptError bounds the error text kept per attempt.
	maxAttemptError = 500
)

// ErrWebhookNotFound: the invoice has no webhook with that id.
var ErrWebhookNotFound = errors.New("webhook not found")

// errStopped is returned once the server is shutting down.
var errStopped = errors.New("webhook delivery stopped")

// job is one attempt; attemptResult is how it went.
type job struct {
	invoice  uuid.UUID
	seq      uint64
	requeues int
	host     string
	delivery webhooks.Delivery
}

type attemptResult struct {
	job
	res webhooks.Result
	err error
}

// redeliverMsg asks the Deliverer actor to queue a webhook again.
type redeliverMsg struct {
	invoice uuid.UUID
	id      string
}

type redeliverReply struct {
	rec WebhookRecord
	err error
}

// Start starts the Deliverer. It runs until ctx ends; call Stop before
// closing the store.
func Start(ctx context.Context, cfg Config) (*Deliverer, error) {
	if cfg.Sender == nil || cfg.System == nil || cfg.Store == nil || cfg.Invoices == nil {
		return nil, errors.New("webhook: System, Store, Invoices and Sender are required")
	}
	if cfg.Keys == nil {
		return nil, errors.New("webhook: the deliverer needs signing Keys")
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.PerHost <= 0 {
		cfg.PerHost = DefaultPerHost
	}
	cfg.Stamps = clock.OrReal(cfg.Stamps)
	if cfg.HostCache <= 0 {
		cfg.HostCache = 1 << 17
	}
	if cfg.LogInterval <= 0 {
		cfg.LogInterval = time.Minute
	}
	log := cfg.Logger.With("component", "webhooks")
	d := &Deliverer{
		store: cfg.Store, cfg: cfg, clock: cfg.Clock, backoff: retryBackoff(cfg.Schedule, cfg.Rand), span: retrySpan(cfg.Schedule),
		log: log, ctx: ctx, metrics: newMetrics(),
		wake: make(chan struct{}, 1), results: make(chan attemptResult, cfg.Workers),
		inflight: map[uuid.UUID]bool{}, hosts: map[string]int{},
		hostCache: map[uuid.UUID]string{}, urlHosts: map[string]string{}, held: map[string]persistence.OutboxDue{},
		breakers: newBreakers(cfg.Breaker), failures: newFailureLog(log, cfg.LogInterval),
	}
	d.pid = cfg.System.Root().Spawn(actor.PropsFromProducer(func() actor.Actor { return &delivererActor{d: d} }))
	// Rounds come on the interval, after commits that wrote webhooks and
	// after finished attempts.
	d.ticker = actors.NewTicker(cfg.System, d.pid)
	d.ticker.Run(ctx, cfg.Interval, cfg.Store.OutboxSignal(), d.wake)
	return d, nil
}

// Stop waits for a round in progress and makes sure no other starts.
// Attempts in flight are cancelled with the context and their results
// dropped: those webhooks are still due and go out again after a restart.
func (d *Deliverer) Stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.cfg.System.Root().Stop(d.pid)
}

type delivererActor struct{ d *Deliverer }

func (a *delivererActor) Receive(c actor.Context) {
	switch msg := c.Message().(type) {
	case actors.Tick:
		a.d.ticker.Received()
		a.d.round()
	case redeliverMsg:
		rec, err := a.d.requeue(msg)
		c.Respond(redeliverReply{rec: rec, err: err})
		a.d.round()
	}
}

// round records the finished attempts, then starts the due ones.
func (d *Deliverer) round() {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.stopped || d.ctx.Err() != nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("webhook deliverer panic", slog.Any("panic", p))
		}
	}()
	now := d.clock.Now()
	d.finish(now)
	d.startDue(now)
	d.failures.flush(d.ctx, now)
	d.failing.Store(int64(d.breakers.openCount()))
}

// finish records every finished attempt in one synced batch: delivered,
// retried after the next backoff step, or dead-lettered. Only once that
// batch is durable are the next webhooks of those invoices started.
func (d *Deliverer) finish(now time.Time) {
	var done []attemptResult
drain:
	for {
		select {
		case r := <-d.results:
			done = append(done, r)
		default:
			break drain
		}
	}
	if len(done) == 0 {
		return
	}
	updates := make([]persistence.OutboxUpdate, 0, len(done))
	outcomes := make([]string, 0, len(done))
	kept := done[:0]
	for _, r := range done {
		delete(d.inflight, r.invoice)
		if d.hosts[r.host]--; d.hosts[r.host] <= 0 {
			delete(d.hosts, r.host)
		}
		if r.err != nil && d.ctx.Err() != nil {
			continue // cut off by the shutdown, not the receiver's doing: still due
		}
		t, b := d.breakers.record(r.host, r.err == nil, errText(r.err), now)
		d.failures.transition(d.ctx, r.host, t, b)
		e, err := d.entry(r.invoice, r.seq)
		if err != nil {
			d.log.Error("webhook result not recorded", slog.String("webhook_id", r.delivery.ID), slog.Any("err", err))
			continue
		}
		next, outcome := d.outcome(e.State, r, now)
		updates = append(updates, persistence.OutboxUpdate{Invoice: r.invoice, Seq: r.seq, Old: e.State, New: next})
		outcomes = append(outcomes, outcome)
		kept = append(kept, r)
	}
	if err := d.store.UpdateOutbox(updates); err != nil {
		// Still due as before: these webhooks are attempted again.
		d.log.Error("webhook results not recorded; they will be sent again", slog.Int("attempts", len(updates)), slog.Any("err", err))
		return
	}
	for i, r := range kept {
		if outcomes[i] != "" {
			d.metrics.deliveries.WithLabelValues(outcomes[i]).Inc()
		}
		d.metrics.duration.Observe(r.res.Duration.Seconds())
		if r.err != nil {
			d.log.DebugContext(d.ctx, "webhook attempt failed", slog.String("webhook_id", r.delivery.ID), slog.String("host", r.host), slog.String("outcome", outcomes[i]), slog.Any("err", r.err))
			d.failures.failed(r.host, errText(r.err), outcomes[i] == "dead", d.breakers.hosts[r.host] != nil && d.breakers.hosts[r.host].open)
		}
		if outcomes[i] != "failed" {
			// Its next webhook, if due, is behind the watermark: look again
			// before the round's scan.
			d.recheck = append(d.recheck, r.invoice)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return attemptError(err)
}

// outcome is the state after attempt r of a record in state old, and the
// deliveries metric's result label ("" when the attempt no longer decides).
func (d *Deliverer) outcome(old persistence.OutboxState, r attemptResult, now time.Time) (persistence.OutboxState, string) {
	next := old
	a := persistence.OutboxAttempt{At: r.delivery.Timestamp.UnixNano(), HTTPStatus: r.res.StatusCode, Duration: int64(r.res.Duration)}
	if r.err != nil {
		a.Error = attemptError(r.err)
	}
	next.Attempts = append(old.Attempts[:len(old.Attempts):len(old.Attempts)], a)
	if n := len(next.Attempts); n > maxKeptAttempts {
		next.Attempts = next.Attempts[n-maxKeptAttempts:]
	}
	if old.Status != persistence.OutboxPending || old.Requeues != r.requeues {
		// Redelivered while this attempt was in flight: the requested
		// attempt is still to come.
		return next, ""
	}
	if r.err == nil {
		next.Status, next.Next = persistence.OutboxDelivered, 0
		return next, "delivered"
	}
	next.Failures++
	wait, ok := d.backoff.Wait(next.Failures)
	if !ok || errors.Is(r.err, webhooks.ErrInvalidDelivery) {
		next.Status, next.Next = persistence.OutboxDead, 0
		return next, "dead"
	}
	next.Next = now.Add(wait).UnixNano()
	return next, "failed"
}

func attemptError(err error) string {
	s := err.Error()
	if len(s) > maxAttemptError {
		s = strings.ToValidUTF8(s[:maxAttemptError], "")
	}
	return s
}

// entry reads one record and its state.
func (d *Deliverer) entry(invoice uuid.UUID, seq uint64) (persistence.OutboxEntry, error) {
	q, err := d.store.OutboxQueue(invoice)
	if err != nil {
		return persistence.OutboxEntry{}, err
	}
	for _, e := range q {
		if e.Record.Seq == seq {
			return e, nil
		}
	}
	return persistence.OutboxEntry{}, fmt.Errorf("webhook %s seq %d: %w", invoice, seq, persistence.ErrNotFound)
}
