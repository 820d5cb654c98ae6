// Package invoice owns the invoice actors: one virtual actor per invoice
// decides (engine.Decide), persists and applies that invoice's events, and
// the Service around them creates invoices, routes commands to them and
// serves reads (Get, AppendList, Lookup) from the state cache and the store
// without activating an actor.
//
// The address book (addresses.go) hands each new invoice its derivation
// index and the feed (feed.go) hands committed states to the checkout
// pages that Follow an invoice: both are fed only by this package's
// commits. The state cache (statecache.go) keeps the states recently
// committed or read, and the render cache (rendered.go) the API JSON of the
// states reads rendered.
package invoice

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
)

// Config is what the invoice Service needs; cmd builds it once.
type Config struct {
	// System runs the actors; nil = a system of the Service's own, shut
	// down with it.
	System  *actors.System
	Store   *persistence.Store
	Rules   *engine.Rules
	Deriver chain.Deriver
	Rates   rates.Source
	// Owner is the account owning a project: the user_id of webhook
	// bodies (nil: the nil UUID).
	Owner func(project uuid.UUID) uuid.UUID
	// Watches mirrors each committed watch (the chain watchers' watch
	// list); nil = none.
	Watches Watches
	// Clock is the time of every decision, never time.Now (nil = the wall
	// clock).
	Clock clock.Clock
	// IdleTimeout is how long an invoice actor stays in memory without
	// messages before it passivates (default 2 minutes).
	IdleTimeout time.Duration
	// RequestTimeout bounds one request to an actor, fsync included
	// (default 10 s).
	RequestTimeout time.Duration
	// WatchGrace is how long a completed or final invoice's address stays
	// watched, so
	// late payments and reorgs are still recorded (default 24 h).
	WatchGrace time.Duration
	// StateCacheBytes bounds the heap taken by the recently committed
	// invoice states reads are served from without touching the store
	// (each entry's size is estimated): 0 = none (measurements:
	// docs/performance.md). DefaultStateCacheBytes is the command line's
	// default.
	StateCacheBytes int64
	// RenderCacheBytes bounds the heap taken by the API JSON of recently
	// rendered invoices, which GETs and list pages copy instead of
	// rendering again (renderCache): 0 = none. DefaultRenderCacheBytes is
	// the command line's default.
	RenderCacheBytes int64
	Logger           *slog.Logger
	// PublicURL is the base of the checkout links in webhook bodies
	// (checkout_url, qrcode), e.g. https://pay.example.com.
	PublicURL string
	// Metrics receives the invoice actors' metrics (nil = none).
	Metrics prometheus.Registerer
}

// Watches is the in-memory watch list a commit updates (chainwatch's).
type Watches interface {
	Set(currency, address string, invoice uuid.UUID, until int64)
}

// DefaultStateCacheBytes is the default of INVOICED_STATE_CACHE_MB: about
// 47,000 invoices as the API creates them, twice that in RSS with the
// GC's headroom. A storm of background commits (expiries) washes through
// it without growing the process (docs/operations-storms.md).
const DefaultStateCacheBytes = 32 << 20

// Service finds or activates the actor that owns an invoice and routes
// commands to it; reads never touch an actor.
type Service struct {
	cfg       Config
	system    *actors.System
	ownSystem bool
	addresses *addressBook
	table     *actors.Table[uuid.UUID]
	states    stateCache
	rendered  renderCache
	feed      *feed // checkout pages following their invoice's commits
	metrics   *metrics
	stop      context.CancelFunc // ends the address book's refills
}

// New starts the invoice service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Rules == nil || cfg.Deriver == nil || cfg.Rates == nil {
		return nil, errors.New("invoice: Store, Rules, Deriver and Rates are required")
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.WatchGrace <= 0 {
		cfg.WatchGrace = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, system: cfg.System, states: newStateCache(cfg.StateCacheBytes), rendered: newRenderCache(cfg.RenderCacheBytes), feed: newFeed()}
	if s.system == nil {
		s.system, s.ownSystem = actors.NewSystem(cfg.Logger, cfg.Metrics, cfg.Clock), true
	}
	s.table = actors.NewTable[uuid.UUID](s.system, "invoice", cfg.RequestTimeout)
	s.metrics = newMetrics(cfg.Metrics, s)
	s.addresses = newAddressBook(cfg.Store, cfg.Deriver)
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.addresses.run(ctx)
	return s, nil
}

// Shutdown stops the background refills and, when the Service started its
// own actor system, the system. Call it after the HTTP server has drained.
func (s *Service) Shutdown() {
	s.stop()
	if s.ownSystem {
		s.system.Shutdown()
	}
}

// System is the actor system the invoice actors run on.
func (s *Service) System() *actors.System { return s.system }

// LiveActors is the number of invoice actors in memory.
func (s *Service) LiveActors() int64 { return s.table.Live() }

// actorFor returns the producer of id's actor, which activates from the
// store.
func (s *Service) actorFor(id uuid.UUID) func(*actors.Entry) actor.Actor {
	return func(e *actors.Entry) actor.Actor { return &invoiceActor{id: id, svc: s, entry: e} }
}

// ask sends msg to the actor for invoice id and waits for its reply.
func (s *Service) ask(ctx context.Context, id uuid.UUID, msg decideMsg) (Reply, error) {
	f, err := s.table.Request(ctx, id, s.actorFor(id), msg)
	if err != nil {
		return Reply{}, err
	}
	return AwaitReply(f, id)
}

// Apply decides and commits cmds, in order, for invoice id on behalf of
// invoiced itself (the expiry scheduler, tests): no project check. It
// returns the state after them. The actor it activates passivates right
// after: a mass expiry must not leave a hundred thousand idle actors in
// memory for the idle timeout.
func (s *Service) Apply(ctx context.Context, id uuid.UUID, cmds ...engine.Command) (engine.Invoice, error) {
	rep, err := s.ask(ctx, id, decideMsg{from: fromSystem, cmds: cmds, transient: true})
	if err != nil {
		return engine.Invoice{}, err
	}
	return rep.Invoice, rep.Err
}

// ApplyAll applies cmd to each invoice of ids on behalf of invoiced itself,
// as Apply does, with their commits made as one persistence.Group: a mass
// expiry pays for one synced batch, with the counter deltas of its
// members summed, instead of a synced commit and a dozen counter operands
// per invoice. Each invoice's actor still decides on its own state and
// passivates after. It returns each invoice's error, nil when its commit
// is durable or it had nothing to commit. ids must be distinct (a group
// takes one commit per stream).
func (s *Service) ApplyAll(ctx context.Context, ids []uuid.UUID, cmd engine.Command) []error {
	// A member that does not arrive (its actor busy) holds the others up
	// for at most half a request's time, as in a chain round.
	group := s.cfg.Store.NewGroup(len(ids), s.cfg.RequestTimeout/2)
	errs := make([]error, len(ids))
	futures := make([]*actor.Future, len(ids))
	for i, id := range ids {
		f, err := s.table.Request(ctx, id, s.actorFor(id), decideMsg{from: fromSystem, cmds: []engine.Command{cmd}, group: group, transient: true})
		if err != nil {
			group.Leave() // never sent: the actor will not leave for it
			errs[i] = err
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		rep, err := AwaitReply(f, ids[i])
		if err == nil {
			err = rep.Err
		}
		errs[i] = err
	}
	return errs
}

// Forward hands cmds for invoice id to its actor: the invoice actor calls
// answer with its Reply once it has durably applied them, committing as a
// member of group (the chain round's; see persistence.Group), which it
// leaves if it has nothing to commit. answer runs on the actor's
// goroutine and must not block. The chain's address watchers use it, so
// they are free again at once.
func (s *Service) Forward(id uuid.UUID, cmds []engine.Command, group *persistence.Group, answer func(Reply)) {
	e := s.table.Route(id, s.actorFor(id))
	s.system.Root().Send(e.PID, decideMsg{from: fromSystem, cmds: cmds, group: group, answer: answer})
}
