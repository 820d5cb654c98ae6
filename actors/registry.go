package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

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
	Logger         *slog.Logger
}

// Registry finds or activates the actor that owns an invoice and routes
// commands to it.
type Registry struct {
	cfg       Config
	system    *actor.ActorSystem
	addresses *addressBook
	shards    [registryShards]shard
	seed      maphash.Seed
	live      atomic.Int64
}

const registryShards = 64

// shard is one slice of the id -> live actor map. The mutex guards only the
// map and each entry's routed count: who may talk to which actor, never the
// invoice state itself, which the actor alone owns.
type shard struct {
	mu      sync.Mutex
	entries map[uuid.UUID]*entry
}

// entry is a live invoice actor. routed counts messages handed out for it
// (under the shard lock); processed counts messages it finished. The actor
// may passivate only when the two are equal under the shard lock: then no
// message is on its way, and any later one will find no entry and activate
// a fresh actor. (protoactor silently drops messages still in a stopped
// actor's mailbox, so stopping with one in flight would lose a request.)
type entry struct {
	pid       *actor.PID
	routed    int64
	processed atomic.Int64
}

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
	r := &Registry{cfg: cfg, system: system, seed: maphash.MakeSeed()}
	r.addresses = newAddressBook(cfg.Store, cfg.Deriver)
	for i := range r.shards {
		r.shards[i].entries = make(map[uuid.UUID]*entry)
	}
	return r, nil
}

// Shutdown stops every actor. Call it after the HTTP server has drained, so
// no request is waiting on an actor.
func (r *Registry) Shutdown() {
	r.system.Shutdown()
}

// LiveActors is the number of invoice actors in memory.
func (r *Registry) LiveActors() int64 { return r.live.Load() }

func (r *Registry) shard(id uuid.UUID) *shard {
	return &r.shards[maphash.Bytes(r.seed, id[:])%registryShards]
}

// route returns the live actor for id, activating one if needed, and counts
// the message about to be sent to it. fresh marks an invoice known not to
// exist yet, so activation skips the load.
func (r *Registry) route(id uuid.UUID, fresh bool) *entry {
	s := r.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		e = &entry{}
		props := actor.PropsFromProducer(func() actor.Actor {
			return &invoiceActor{id: id, fresh: fresh, reg: r, entry: e}
		})
		e.pid = r.system.Root.Spawn(props)
		s.entries[id] = e
		r.live.Add(1)
	}
	e.routed++
	return e
}

// retire removes e if nothing was routed to it beyond what it processed; the
// actor stops only when this returns true.
func (r *Registry) retire(id uuid.UUID, e *entry, force bool) bool {
	s := r.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[id] != e {
		return true // already replaced
	}
	if !force && e.routed != e.processed.Load() {
		return false
	}
	delete(s.entries, id)
	r.live.Add(-1)
	return true
}

// ask sends msg to the actor for id and waits for its reply.
func (r *Registry) ask(ctx context.Context, id uuid.UUID, fresh bool, msg any) (reply, error) {
	timeout := r.cfg.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return reply{}, ctx.Err()
	}
	e := r.route(id, fresh)
	res, err := r.system.Root.RequestFuture(e.pid, msg, timeout).Result()
	if err != nil {
		return reply{}, fmt.Errorf("invoice %s actor: %w", id, err)
	}
	rep, ok := res.(reply)
	if !ok {
		return reply{}, fmt.Errorf("invoice %s actor: unexpected reply %T", id, res)
	}
	return rep, nil
}
