package actors

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
)

// Table finds or activates the virtual actor for a key and routes messages
// to it. Invoice actors (keyed by invoice id) and address watchers (keyed by
// currency and address) are both virtual: activated on demand, passivated
// when idle, so memory follows activity rather than the number of invoices.
//
// Invariants:
//
//  1. At most one live actor per key: Route creates an Entry only under
//     the key's shard lock, when the shard holds none.
//  2. An Entry's routed count (guarded by the shard lock) counts every
//     message Route handed out for it; its processed count (atomic, written
//     only by the actor, once per message it finished) never exceeds it.
//  3. An actor passivates only when routed == processed under the shard
//     lock (Retire): then no message is on its way to it, and any later
//     Route finds no Entry and activates a fresh actor, which reloads the
//     state from the store. protoactor silently drops messages still in a
//     stopped actor's mailbox, so stopping with one in flight would lose a
//     request; this invariant is what makes passivation lossless.
//  4. The shard lock guards only the map and the routed counts: who may
//     talk to which actor, never the actor's state, which the actor alone
//     owns.
type Table[K comparable] struct {
	root     *actor.RootContext
	workers  *mailboxWorkers
	seed     maphash.Seed
	timeout  time.Duration
	shards   [tableShards]tableShard[K]
	live     atomic.Int64 // entries in all shards
	activate prometheus.Counter
	passive  prometheus.Counter
}

const tableShards = 64

// tableShard is one slice of the key -> live actor map.
type tableShard[K comparable] struct {
	mu      sync.Mutex
	entries map[K]*Entry // guarded by mu
}

// Entry is a live actor of a Table.
type Entry struct {
	PID       *actor.PID
	routed    int64        // guarded by the shard's mu
	processed atomic.Int64 // written by the actor only
}

// Processed records that the actor finished one message routed to it; the
// actor calls it once per message, after replying.
func (e *Entry) Processed() { e.processed.Add(1) }

// NewTable returns an empty table of actors of kind (a metrics label:
// "invoice", "watcher") on s; requests to them time out after timeout.
func NewTable[K comparable](s *System, kind string, timeout time.Duration) *Table[K] {
	t := &Table[K]{
		root: s.Root(), workers: s.newWorkers(), seed: maphash.MakeSeed(), timeout: timeout,
		activate: s.activations.WithLabelValues(kind), passive: s.passivated.WithLabelValues(kind),
	}
	for i := range t.shards {
		t.shards[i].entries = make(map[K]*Entry)
	}
	return t
}

// Live is the number of actors in memory.
func (t *Table[K]) Live() int64 { return t.live.Load() }

func (t *Table[K]) shard(k K) *tableShard[K] {
	return &t.shards[maphash.Comparable(t.seed, k)%tableShards]
}

// Route returns the live actor for k, activating one with produce if
// needed, and counts the message the caller is about to send to it: the
// caller must send exactly one.
func (t *Table[K]) Route(k K, produce func(*Entry) actor.Actor) *Entry {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[k]
	if !ok {
		e = &Entry{}
		e.PID = t.root.Spawn(actor.PropsFromProducer(func() actor.Actor { return produce(e) }, actor.WithDispatcher(t.workers)))
		s.entries[k] = e
		t.live.Add(1)
		t.activate.Inc()
	}
	e.routed++
	return e
}

// Retire removes e if every message routed to it was processed; the actor
// stops itself only when this returns true.
func (t *Table[K]) Retire(k K, e *Entry) bool {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[k] != e {
		return true // already replaced
	}
	if e.routed != e.processed.Load() {
		return false
	}
	delete(s.entries, k)
	t.live.Add(-1)
	t.passive.Inc()
	return true
}

// Send sends msg to the actor for k, expecting no reply.
func (t *Table[K]) Send(k K, produce func(*Entry) actor.Actor, msg any) {
	t.root.Send(t.Route(k, produce).PID, msg)
}

// Request sends msg to the actor for k and returns a future for its reply,
// bounded by the table's timeout and ctx's deadline.
func (t *Table[K]) Request(ctx context.Context, k K, produce func(*Entry) actor.Actor, msg any) (*actor.Future, error) {
	timeout := t.timeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return nil, ctx.Err()
	}
	e := t.Route(k, produce)
	return t.root.RequestFuture(e.PID, msg, timeout), nil
}
