package invoice

import (
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// stateCache holds the latest committed state of recently written invoices,
// so a read of an invoice that is being paid or polled (a checkout page
// asks for its invoice every few seconds) costs a map lookup instead of a
// Pebble seek, a snapshot decode and an event replay.
//
// Only commits fill it, from inside the commit's critical section (see
// persistence.Commit.Committed), so the entries of one invoice arrive in
// version order and an entry is never older than the store: a read that
// missed never inserts what it loaded, because by the time it did, a newer
// commit might have come and gone from the cache. A failed commit wrote
// nothing, so it leaves the cache as it was. Invoices are values whose
// slices and amounts Apply never mutates in place, so an entry is shared
// with readers without copying.
//
// It is bounded: each shard evicts with the CLOCK algorithm (an entry read
// since the hand last passed gets a second chance), so invoices read often
// stay and a burst of creates nobody reads again washes through.
type stateCache struct {
	shards [stateCacheShards]cacheShard
	hits   atomic.Uint64
	misses atomic.Uint64
}

const stateCacheShards = 16

type cacheShard struct {
	mu      sync.Mutex
	entries map[uuid.UUID]int // index into ring
	ring    []cacheSlot
	hand    int
	max     int
}

// cacheSlot points at its state, so the ring holds no large structs: the
// GC scans 16 bytes per slot, and eviction swaps a pointer.
type cacheSlot struct {
	inv *engine.Invoice
	ref bool
}

// newStateCache holds up to capacity invoices; nil (no cache) when
// capacity < 1.
func newStateCache(capacity int) *stateCache {
	if capacity < 1 {
		return nil
	}
	c := &stateCache{}
	per := max(1, (capacity+stateCacheShards-1)/stateCacheShards)
	for i := range c.shards {
		c.shards[i].entries = make(map[uuid.UUID]int)
		c.shards[i].max = per
		// Slots are two words; allocated once, not grown by appends.
		// Measurements: docs/performance.md.
		c.shards[i].ring = make([]cacheSlot, 0, per)
	}
	return c
}

func (c *stateCache) shard(id uuid.UUID) *cacheShard {
	// UUIDv7's last bytes are random; the first are a timestamp.
	return &c.shards[id[15]%stateCacheShards]
}

// get returns the cached state of id.
func (c *stateCache) get(id uuid.UUID) (engine.Invoice, bool) {
	if c == nil {
		return engine.Invoice{}, false
	}
	s := c.shard(id)
	s.mu.Lock()
	i, ok := s.entries[id]
	var inv engine.Invoice
	if ok {
		s.ring[i].ref = true
		inv = *s.ring[i].inv
	}
	s.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return inv, ok
}

// committed records *inv as its invoice's latest committed state; the
// cache keeps the pointer, so the caller must not change *inv afterwards.
// Callers hold the invoice's commit lock, so calls for one invoice come in
// version order; an older version is ignored all the same.
func (c *stateCache) committed(inv *engine.Invoice) {
	if c == nil {
		return
	}
	s := c.shard(inv.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.entries[inv.ID]; ok {
		if inv.Version > s.ring[i].inv.Version {
			s.ring[i].inv = inv
		}
		return
	}
	if len(s.ring) < s.max {
		s.entries[inv.ID] = len(s.ring)
		s.ring = append(s.ring, cacheSlot{inv: inv})
		return
	}
	for s.ring[s.hand].ref {
		s.ring[s.hand].ref = false
		s.hand = (s.hand + 1) % len(s.ring)
	}
	delete(s.entries, s.ring[s.hand].inv.ID)
	s.ring[s.hand] = cacheSlot{inv: inv}
	s.entries[inv.ID] = s.hand
	s.hand = (s.hand + 1) % len(s.ring)
}

// len is the number of cached invoices.
func (c *stateCache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

func (c *stateCache) hitCount() uint64 {
	if c == nil {
		return 0
	}
	return c.hits.Load()
}

func (c *stateCache) missCount() uint64 {
	if c == nil {
		return 0
	}
	return c.misses.Load()
}
