package actors

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

	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/webhooks"
)

// webhookSender makes one delivery attempt; webhooks.Sender is the real one.
type webhookSender interface {
	Send(ctx context.Context, d webhooks.Delivery) (webhooks.Result, error)
}

// signingKeys are a project's webhook signing keys at send time: one per
// live API key (two during a key roll's overlap); accounts.Service is the
// real one.
type signingKeys interface {
	SigningKeys(project uuid.UUID) [][32]byte
}

// DispatcherConfig configures the webhook dispatcher; zero fields take
// their defaults.
type DispatcherConfig struct {
	// Sender makes the attempts (required). One per process, so its
	// connections, SSRF guard and timeouts serve every delivery.
	Sender webhookSender
	// Keys gives each attempt the signing keys of its project as they are
	// when it is sent, so a webhook owed before a key roll or revoke is
	// signed with the keys live after it (required).
	Keys signingKeys
	// Clock schedules retries and stamps attempts (nil = the registry's);
	// only Now is read: the dispatcher polls its persisted schedule rather
	// than arming a timer per webhook.
	Clock clock.Clock
	// Interval is how often the due schedule is scanned when nothing wakes
	// the dispatcher sooner (default 1 s). Commits with webhooks and
	// finished attempts wake it at once.
	Interval time.Duration
	// Workers bounds the attempts in flight (default 32).
	Workers int
	// PerHost bounds the attempts in flight to one host:port (default 8).
	// Keep it at most the Sender's own per-host cap, so a worker never
	// waits for a slot while other hosts' webhooks are due.
	PerHost int
	// Schedule is the wait after each failed attempt; after the last one
	// the record is dead-lettered (nil = DefaultRetrySchedule).
	Schedule []time.Duration
	// Rand returns jitter in [0, 1) (nil = math/rand/v2).
	Rand func() float64
}

// Dispatcher delivers the webhook outbox: an actor that scans the persisted
// due schedule and starts each due webhook on a bounded pool of attempts,
// then records every result durably before acting on it.
//
// Order per invoice: a webhook is attempted only when it is the first
// pending one of its invoice (every earlier one delivered or dead), and one
// invoice never has two attempts in flight. Invoices proceed concurrently,
// at most PerHost of them against one host, so one slow or failing endpoint
// holds up only its own invoices. Delivery is at least once: nothing is
// written before an attempt, so a crash mid-attempt leaves the webhook due
// and it is sent again after the restart; receivers deduplicate on
// X-Webhook-Id.
type Dispatcher struct {
	reg     *Registry
	store   *persistence.Store
	cfg     DispatcherConfig
	clock   clock.Clock
	backoff backoff
	log     *slog.Logger
	ctx     context.Context
	pid     *actor.PID
	metrics dispatcherMetrics

	pending atomic.Bool   // a tick waits in the actor's mailbox
	wake    chan struct{} // an attempt finished
	// results has room for one result per attempt in flight, so a finishing
	// attempt never blocks.
	results chan attemptResult

	// mu orders rounds and redeliveries against Stop and the metric and list
	// reads: once Stop returns nothing touches the store, which the server
	// closes next. It does not guard the actor state below.
	mu      sync.RWMutex
	stopped bool

	// The actor's state, used only on its mailbox.
	inflight map[uuid.UUID]bool   // invoices with an attempt in flight
	hosts    map[string]int       // attempts in flight per host:port
	urls     map[uuid.UUID]string // callback URL per invoice, to skip a full host without a read
}

const (
	// duePage is how many due keys one read returns, and maxDueScan how
	// many one round reads at most.
	duePage    = 256
	maxDueScan = 16384
	// maxKeptAttempts bounds a record's attempt history (redeliveries can
	// add attempts forever); the oldest are dropped.
	maxKeptAttempts = 50
	// maxAttemptError bounds the error text kept per attempt.
	maxAttemptError = 500
	// maxURLCache bounds the callback URL cache; it is emptied when full.
	maxURLCache = 1 << 16
)

// ErrWebhookNotFound: the invoice has no webhook with that id.
var ErrWebhookNotFound = errors.New("webhook not found")

// errDispatcherStopped is returned once the server is shutting down.
var errDispatcherStopped = errors.New("webhook dispatcher stopped")

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

// redeliverMsg asks the dispatcher actor to queue a webhook again.
type redeliverMsg struct {
	invoice uuid.UUID
	id      string
}

type redeliverReply struct {
	rec WebhookRecord
	err error
}

// StartDispatcher starts the webhook dispatcher. It runs until ctx ends;
// call Stop before closing the store.
func (r *Registry) StartDispatcher(ctx context.Context, cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Sender == nil {
		return nil, errors.New("actors: the dispatcher needs a Sender")
	}
	if cfg.Keys == nil {
		return nil, errors.New("actors: the dispatcher needs signing Keys")
	}
	if cfg.Clock == nil {
		cfg.Clock = r.cfg.Clock
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.PerHost <= 0 {
		cfg.PerHost = 8
	}
	d := &Dispatcher{
		reg: r, store: r.cfg.Store, cfg: cfg, clock: cfg.Clock, backoff: newBackoff(cfg.Schedule, cfg.Rand),
		log: r.cfg.Logger.With("component", "webhooks"), ctx: ctx, metrics: newDispatcherMetrics(),
		wake: make(chan struct{}, 1), results: make(chan attemptResult, cfg.Workers),
		inflight: map[uuid.UUID]bool{}, hosts: map[string]int{}, urls: map[uuid.UUID]string{},
	}
	d.pid = r.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &dispatcherActor{d: d} }))
	go d.loop(ctx)
	return d, nil
}

// Stop waits for a round in progress and makes sure no other starts.
// Attempts in flight are cancelled with the context and their results
// dropped: those webhooks are still due and go out again after a restart.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.reg.system.Root.Stop(d.pid)
}

// loop wakes the actor on its ticker, after commits that wrote webhooks
// and after finished attempts.
func (d *Dispatcher) loop(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	d.poke()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.store.OutboxSignal():
		case <-d.wake:
		}
		d.poke()
	}
}

// poke sends the actor a tick unless one is already waiting, so a burst of
// wake-ups costs one round.
func (d *Dispatcher) poke() {
	if d.pending.CompareAndSwap(false, true) {
		d.reg.system.Root.Send(d.pid, tick{})
	}
}

type dispatcherActor struct{ d *Dispatcher }

func (a *dispatcherActor) Receive(c actor.Context) {
	switch msg := c.Message().(type) {
	case tick:
		a.d.pending.Store(false)
		a.d.round()
	case redeliverMsg:
		rec, err := a.d.requeue(msg)
		c.Respond(redeliverReply{rec: rec, err: err})
		a.d.round()
	}
}

// round records the finished attempts, then starts the due ones.
func (d *Dispatcher) round() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped || d.ctx.Err() != nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("webhook dispatcher panic", slog.Any("panic", p))
		}
	}()
	now := d.clock.Now()
	d.finish(now)
	d.dispatchDue(now)
}

// finish records every finished attempt in one synced batch: delivered,
// retried after the next backoff step, or dead-lettered. Only once that
// batch is durable are the next webhooks of those invoices started.
func (d *Dispatcher) finish(now time.Time) {
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
			level := slog.LevelInfo
			if outcomes[i] == "dead" {
				level = slog.LevelWarn
			}
			d.log.Log(d.ctx, level, "webhook attempt failed", slog.String("webhook_id", r.delivery.ID), slog.String("outcome", outcomes[i]), slog.Any("err", r.err))
		}
	}
}

// outcome is the state after attempt r of a record in state old, and the
// deliveries metric's result label ("" when the attempt no longer decides).
func (d *Dispatcher) outcome(old persistence.OutboxState, r attemptResult, now time.Time) (persistence.OutboxState, string) {
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
	wait, ok := d.backoff.next(next.Failures)
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
func (d *Dispatcher) entry(invoice uuid.UUID, seq uint64) (persistence.OutboxEntry, error) {
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
