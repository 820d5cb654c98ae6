package invoice

import (
	"sync"
	"sync/atomic"
	"unsafe"

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
// It is bounded by bytes, not entries: an entry's size is estimated from
// its strings and payments (entrySize), so a cache of invoices with long
// URLs or many payments holds fewer of them and the memory it takes is
// what the configuration says, whatever the invoices look like. Each shard
// evicts with the CLOCK algorithm (an entry read since the hand last
// passed gets a second chance), so invoices read often stay and a burst of
// creates or expiries nobody reads again washes through.
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
	free    []int // indexes of empty slots in ring
	hand    int
	bytes   int64 // sum of the entries' sizes
	max     int64
}

// cacheSlot points at its state, so the ring holds no large structs: the
// GC scans one pointer per slot, and eviction swaps a pointer. An empty
// slot (inv nil) was evicted to make room for a larger entry; it is
// reused before the ring grows.
type cacheSlot struct {
	inv  *engine.Invoice
	size int64
	ref  bool
}

// entryOverhead is what an entry costs beyond its strings and payments:
// the Invoice struct, its two big.Int amounts, the ring slot and the map
// entry, with the allocator's rounding. Measured: 712 bytes of heap per
// invoice created by the API and held in the cache, 234 of them its
// strings (docs/performance.md).
const entryOverhead = 480

// entrySize estimates the heap bytes *inv holds in the cache.
func entrySize(inv *engine.Invoice) int64 {
	n := entryOverhead + len(inv.OrderID) + len(inv.OrderName) + len(inv.Fingerprint) +
		len(inv.CallbackURL) + len(inv.RedirectURL) + len(inv.Address)
	if inv.Rate != nil {
		n += int(unsafe.Sizeof(*inv.Rate)) + len(inv.Rate.Value) + len(inv.Rate.Source)
	}
	if inv.FiatAmount != nil {
		n += 64
	}
	for _, tx := range inv.Transactions {
		n += int(unsafe.Sizeof(tx)) + 64 + len(tx.TxID) + len(tx.BlockHash)
	}
	return int64(n)
}

// newStateCache holds invoices up to about maxBytes of heap; nil (no
// cache) when maxBytes is below one entry.
func newStateCache(maxBytes int64) *stateCache {
	if maxBytes < entryOverhead {
		return nil
	}
	c := &stateCache{}
	per := max(entryOverhead, maxBytes/stateCacheShards)
	for i := range c.shards {
		c.shards[i].entries = make(map[uuid.UUID]int)
		c.shards[i].max = per
		// Sized for entries of the usual size, so a fill rarely grows it:
		// growing the ring by appends was 4 % of a create's CPU.
		// Measurements: docs/performance.md.
		c.shards[i].ring = make([]cacheSlot, 0, per/entryOverhead)
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
	size, ref := entrySize(inv), false
	s := c.shard(inv.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.entries[inv.ID]; ok {
		if inv.Version <= s.ring[i].inv.Version {
			return
		}
		// Out with the old version, then in as a new entry: an invoice
		// that grew (a payment) makes room like any other.
		ref = s.ring[i].ref
		s.bytes -= s.ring[i].size
		s.ring[i] = cacheSlot{}
		s.free = append(s.free, i)
		delete(s.entries, inv.ID)
	}
	if size > s.max {
		return
	}
	for s.bytes+size > s.max {
		s.evict()
	}
	i := len(s.ring)
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
		s.ring[i] = cacheSlot{inv: inv, size: size, ref: ref}
	} else {
		s.ring = append(s.ring, cacheSlot{inv: inv, size: size, ref: ref})
	}
	s.entries[inv.ID] = i
	s.bytes += size
}

// evict drops the first entry under the hand not read since the hand last
// passed it. The shard must hold an entry.
func (s *cacheShard) evict() {
	for {
		slot := &s.ring[s.hand]
		i := s.hand
		s.hand = (s.hand + 1) % len(s.ring)
		switch {
		case slot.inv == nil:
		case slot.ref:
			slot.ref = false
		default:
			delete(s.entries, slot.inv.ID)
			s.bytes -= slot.size
			*slot = cacheSlot{}
			s.free = append(s.free, i)
			return
		}
	}
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
