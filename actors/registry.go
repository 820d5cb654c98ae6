package actors

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
)

// Config is what the Registry needs; cmd builds it once.
type Config struct {
	Store   *persistence.Store
	Rules   *engine.Rules
	Deriver chain.Deriver
	Rates   rates.Source
	// Now is the clock; decisions get time from it, never from time.Now.
	Now func() time.Time
	// IdleTimeout is how long an invoice actor stays in memory without
	// messages before it passivates (default 2 minutes).
	IdleTimeout time.Duration
	// RequestTimeout bounds one request to an actor, fsync included
	// (default 10 s).
	RequestTimeout time.Duration
	// WatchGrace is how long a final invoice's address stays watched, so
	// late payments and reorgs are still recorded (default 24 h).
	WatchGrace time.Duration
	// StateCache is how many recently committed invoice states reads are
	// served from without touching the store (default 100,000: measured
	// at about 190 MB of RSS with 1,000,000 invoices on disk; negative =
	// none).
	StateCache int
	Logger     *slog.Logger
	// PublicURL is the base of the checkout links in webhook bodies
	// (checkout_url, qrcode), e.g. https://pay.example.com.
	PublicURL string
	// Metrics receives the actors' and chains' metrics (nil = none).
	Metrics prometheus.Registerer
}

// Registry finds or activates the actor that owns an invoice and routes
// commands to it.
type Registry struct {
	cfg       Config
	system    *actor.ActorSystem
	addresses *addressBook
	invoices  *table[uuid.UUID]
	watchers  *table[watchKey]
	watch     *watchlist
	states    *stateCache
	feed      *feed // checkout pages following their invoice's commits
	metrics   *metrics
	pool      *workers           // the mailboxes' goroutines
	stop      context.CancelFunc // ends the registry's background work

	// gate lets Shutdown wait for the ticking actors' rounds (monitors, the
	// expiry scan) in progress: a round holds it shared, Shutdown takes it
	// exclusively and closes it, so no round touches the store once the
	// registry is shut down.
	gate   sync.RWMutex
	closed bool
}

// DefaultStateCache is Config.StateCache's default.
const DefaultStateCache = 100_000

// actorWorkers is the number of long-lived goroutines running actor
// mailboxes: enough for the commits that wait on one fsync together in a
// busy chain round; beyond it, runs get fresh goroutines.
const actorWorkers = 512

// New starts the actor system and the registry.
func New(cfg Config) (*Registry, error) {
	if cfg.Store == nil || cfg.Rules == nil || cfg.Deriver == nil || cfg.Rates == nil {
		return nil, errors.New("actors: Store, Rules, Deriver and Rates are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.WatchGrace <= 0 {
		cfg.WatchGrace = 24 * time.Hour
	}
	if cfg.StateCache == 0 {
		cfg.StateCache = DefaultStateCache
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	logger := cfg.Logger.With("component", "protoactor")
	// protoactor's default logger prints coloured INFO lines to stderr; ours
	// is structured and quiet. Its Prometheus provider is never enabled (it
	// would listen on :2222 on every interface).
	system := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }),
	))
	pool := newWorkers(actorWorkers)
	r := &Registry{
		cfg: cfg, system: system, watch: newWatchlist(), pool: pool, states: newStateCache(cfg.StateCache), feed: newFeed(),
		invoices: newTable[uuid.UUID](system, pool, cfg.RequestTimeout),
		watchers: newTable[watchKey](system, pool, cfg.RequestTimeout),
	}
	r.metrics = newMetrics(cfg.Metrics, r)
	r.invoices.onActivate, r.invoices.onPassivate = r.metrics.activations.WithLabelValues("invoice").Inc, r.metrics.passivated.WithLabelValues("invoice").Inc
	r.watchers.onActivate, r.watchers.onPassivate = r.metrics.activations.WithLabelValues("watcher").Inc, r.metrics.passivated.WithLabelValues("watcher").Inc
	for _, c := range cfg.Rules.Currencies.All() {
		if _, err := r.watch.load(cfg.Store, c.Code); err != nil {
			system.Shutdown()
			pool.stop()
			return nil, err
		}
	}
	r.addresses = newAddressBook(cfg.Store, cfg.Deriver)
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go r.addresses.run(ctx)
	return r, nil
}

// Shutdown stops every actor. Call it after the HTTP server has drained, so
// no request is waiting on an actor.
func (r *Registry) Shutdown() {
	r.stop()
	r.gate.Lock()
	r.closed = true
	r.gate.Unlock()
	r.system.Shutdown()
	r.pool.stop()
}

// guarded wraps a ticking actor's round so Shutdown can wait for it.
func (r *Registry) guarded(work func(context.Context)) func(context.Context) {
	return func(ctx context.Context) {
		r.gate.RLock()
		defer r.gate.RUnlock()
		if r.closed || ctx.Err() != nil {
			return
		}
		work(ctx)
	}
}

// LiveActors is the number of invoice actors in memory.
func (r *Registry) LiveActors() int64 { return r.invoices.live.Load() }

// invoiceActorFor returns the producer of id's actor, which activates from
// the store.
func (r *Registry) invoiceActorFor(id uuid.UUID) func(*entry) actor.Actor {
	return func(e *entry) actor.Actor { return &invoiceActor{id: id, reg: r, entry: e} }
}

// ask sends msg to the actor for invoice id and waits for its reply.
func (r *Registry) ask(ctx context.Context, id uuid.UUID, msg any) (reply, error) {
	return r.invoices.ask(ctx, id, r.invoiceActorFor(id), msg)
}
