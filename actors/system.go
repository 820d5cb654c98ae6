package actors

import (
	"context"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/internal/clock"
)

// System is the actor system every actor kind runs on: protoactor's
// system, the mailbox workers, and the gate that lets Shutdown wait for the
// ticking actors' rounds.
type System struct {
	actors *actor.ActorSystem
	// workers run the mailboxes of table actors, a pool per table, so
	// the runs of one kind blocked together (invoice actors waiting for a
	// chain round's group commit) leave the other kind's workers idle
	// rather than sending its runs to fresh goroutines.
	workersMu sync.Mutex
	workers   []*mailboxWorkers // guarded by workersMu

	// gate lets Shutdown wait for the ticking actors' rounds in progress (a
	// chain monitor's, the expiry scan's): a round holds it shared, Shutdown
	// takes it exclusively and sets closed, so no round touches the store
	// once the system is shut down.
	gate   sync.RWMutex
	closed bool // guarded by gate

	// clock schedules the Tickers' intervals.
	clock clock.Clock

	activations *prometheus.CounterVec // kind
	passivated  *prometheus.CounterVec // kind
}

// workerCount is the number of long-lived goroutines running a table's
// actor mailboxes: enough for the commits that wait on one fsync together in a
// busy chain round; beyond it, runs get fresh goroutines.
const workerCount = 512

// NewSystem starts an actor system logging to logger (nil = discard),
// registering its metrics with reg (nil = none) and ticking on clk (nil =
// the wall clock).
func NewSystem(logger *slog.Logger, reg prometheus.Registerer, clk clock.Clock) *System {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "protoactor")
	// protoactor's default logger prints coloured INFO lines to stderr; ours
	// is structured and quiet. Its Prometheus provider is never enabled (it
	// would listen on :2222 on every interface).
	s := &System{
		clock: clock.OrReal(clk),
		actors: actor.NewActorSystemWithConfig(actor.Configure(
			actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }),
		)),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_actor_activations_total", Help: "Virtual actors activated, by kind (invoice, watcher).",
		}, []string{"kind"}),
		passivated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_actor_passivations_total", Help: "Virtual actors passivated after their idle time, by kind.",
		}, []string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(s.activations, s.passivated)
	}
	return s
}

// Root is the context actors are spawned and messaged from outside any
// actor.
func (s *System) Root() *actor.RootContext { return s.actors.Root }

// Shutdown waits for the ticking rounds in progress, stops every actor and
// the mailbox workers. Call it after the HTTP server has drained, so no
// request is waiting on an actor. Calling it again does nothing.
func (s *System) Shutdown() {
	s.gate.Lock()
	already := s.closed
	s.closed = true
	s.gate.Unlock()
	if already {
		return
	}
	s.actors.Shutdown()
	s.workersMu.Lock()
	defer s.workersMu.Unlock()
	for _, w := range s.workers {
		w.stop()
	}
}

// newWorkers starts a pool of mailbox workers that Shutdown stops.
func (s *System) newWorkers() *mailboxWorkers {
	w := newMailboxWorkers(workerCount, mailboxQueue)
	s.workersMu.Lock()
	defer s.workersMu.Unlock()
	s.workers = append(s.workers, w)
	return w
}

// guarded wraps a ticking actor's round so Shutdown can wait for it, and
// skips it once the system is shut down or ctx has ended.
func (s *System) guarded(work func(context.Context)) func(context.Context) {
	return func(ctx context.Context) {
		s.gate.RLock()
		defer s.gate.RUnlock()
		if s.closed || ctx.Err() != nil {
			return
		}
		work(ctx)
	}
}
