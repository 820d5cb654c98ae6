package actors

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// table finds or activates the virtual actor for a key and routes messages
// to it. Invoice actors (keyed by invoice id) and address watchers (keyed by
// currency and address) are both virtual: activated on demand, passivated
// when idle, so memory follows activity rather than the number of invoices.
type table[K comparable] struct {
	system     *actor.ActorSystem
	dispatcher actor.Dispatcher // runs the mailboxes (see workers)
	seed       maphash.Seed
	timeout    time.Duration
	shards     [tableShards]tableShard[K]
	live       atomic.Int64
	// onActivate and onPassivate count lifecycle events (metrics).
	onActivate, onPassivate func()
}

const tableShards = 64

// tableShard is one slice of the key -> live actor map. The mutex guards
// only the map and each entry's routed count: who may talk to which actor,
// never the actor's state, which the actor alone owns.
type tableShard[K comparable] struct {
	mu      sync.Mutex
	entries map[K]*entry
}

// entry is a live actor. routed counts messages handed out for it (under
// the shard lock); processed counts messages it finished. The actor may
// passivate only when the two are equal under the shard lock: then no
// message is on its way, and any later one finds no entry and activates a
// fresh actor. (protoactor silently drops messages still in a stopped
// actor's mailbox, so stopping with one in flight would lose a request.)
type entry struct {
	pid       *actor.PID
	routed    int64
	processed atomic.Int64
}

func newTable[K comparable](system *actor.ActorSystem, dispatcher actor.Dispatcher, timeout time.Duration) *table[K] {
	t := &table[K]{system: system, dispatcher: dispatcher, seed: maphash.MakeSeed(), timeout: timeout}
	for i := range t.shards {
		t.shards[i].entries = make(map[K]*entry)
	}
	return t
}

func (t *table[K]) shard(k K) *tableShard[K] {
	return &t.shards[maphash.Comparable(t.seed, k)%tableShards]
}

// route returns the live actor for k, activating one with produce if
// needed, and counts the message about to be sent to it.
func (t *table[K]) route(k K, produce func(*entry) actor.Actor) *entry {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[k]
	if !ok {
		e = &entry{}
		e.pid = t.system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return produce(e) }, actor.WithDispatcher(t.dispatcher)))
		s.entries[k] = e
		t.live.Add(1)
		if t.onActivate != nil {
			t.onActivate()
		}
	}
	e.routed++
	return e
}

// retire removes e if nothing was routed to it beyond what it processed (or
// unconditionally with force); the actor stops only when this returns true.
func (t *table[K]) retire(k K, e *entry, force bool) bool {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries[k] != e {
		return true // already replaced
	}
	if !force && e.routed != e.processed.Load() {
		return false
	}
	delete(s.entries, k)
	t.live.Add(-1)
	if t.onPassivate != nil {
		t.onPassivate()
	}
	return true
}

// request sends msg to the actor for k and returns a future for its reply.
func (t *table[K]) request(ctx context.Context, k K, produce func(*entry) actor.Actor, msg any) (*actor.Future, error) {
	timeout := t.timeout
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return nil, ctx.Err()
	}
	e := t.route(k, produce)
	return t.system.Root.RequestFuture(e.pid, msg, timeout), nil
}

// ask sends msg to the actor for k and waits for its reply.
func (t *table[K]) ask(ctx context.Context, k K, produce func(*entry) actor.Actor, msg any) (reply, error) {
	f, err := t.request(ctx, k, produce, msg)
	if err != nil {
		return reply{}, err
	}
	return waitReply(f, k)
}

func waitReply[K any](f *actor.Future, k K) (reply, error) {
	res, err := f.Result()
	if err != nil {
		return reply{}, fmt.Errorf("actor %v: %w", k, err)
	}
	rep, ok := res.(reply)
	if !ok {
		return reply{}, fmt.Errorf("actor %v: unexpected reply %T", k, res)
	}
	return rep, nil
}
