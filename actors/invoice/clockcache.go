package invoice

import (
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
)

// clockCache holds one value per invoice, at one version, bounded by the
// bytes its values take rather than by their number: the caller states
// each value's size, so invoices with long URLs or many payments take the
// room they take and the memory held is what the configuration says. Each
// shard evicts with the CLOCK algorithm (an entry read since the hand last
// passed gets a second chance), so invoices read often stay and a burst of
// writes nobody reads again washes through.
//
// A put never replaces a value with one of an older or equal version: the
// cache moves forward with each invoice. Values are shared with readers
// without copying, so they must not change once put.
//
// The state cache (statecache.go) and the rendered-JSON cache
// (rendered.go) are its two uses. A nil *clockCache holds nothing.
type clockCache[V any] struct {
	shards [cacheShards]clockShard[V]
	hits   atomic.Uint64
	misses atomic.Uint64
}

const cacheShards = 16

type clockShard[V any] struct {
	mu      sync.Mutex
	entries map[uuid.UUID]int // index into ring
	ring    []clockSlot[V]
	free    []int // indexes of empty slots in ring
	hand    int
	bytes   int64 // sum of the entries' sizes
	max     int64
	// puts counts the puts into the shard (changed under mu), so a
	// reader can tell whether one came while it loaded (see putSince).
	puts atomic.Uint64
}

// clockSlot is one entry; version 0 (no invoice has it) marks an empty
// slot, evicted to make room for a larger entry and reused before the ring
// grows. V should be a pointer or a slice, so the GC scans little per slot.
type clockSlot[V any] struct {
	id      uuid.UUID
	version uint64
	size    int64
	ref     bool
	val     V
}

// newClockCache holds values up to about maxBytes; typical is the usual
// size of one, which sizes the rings. nil (no cache) when maxBytes is
// below typical.
func newClockCache[V any](maxBytes, typical int64) *clockCache[V] {
	if maxBytes < typical || typical <= 0 {
		return nil
	}
	c := &clockCache[V]{}
	per := max(typical, maxBytes/cacheShards)
	for i := range c.shards {
		c.shards[i].entries = make(map[uuid.UUID]int)
		c.shards[i].max = per
		// Sized for entries of the usual size, so a fill rarely grows it:
		// growing the ring by appends was 4 % of a create's CPU.
		// Measurements: docs/performance.md.
		c.shards[i].ring = make([]clockSlot[V], 0, per/typical)
	}
	return c
}

func (c *clockCache[V]) shard(id uuid.UUID) *clockShard[V] {
	// UUIDv7's last bytes are random; the first are a timestamp.
	return &c.shards[id[15]%cacheShards]
}

// get returns id's value and its version; with version > 0, only the
// value of exactly that version (another counts as a miss).
func (c *clockCache[V]) get(id uuid.UUID, version uint64) (V, uint64, bool) {
	var val V
	if c == nil {
		return val, 0, false
	}
	s := c.shard(id)
	s.mu.Lock()
	i, ok := s.entries[id]
	var at uint64
	if ok {
		at = s.ring[i].version
		if ok = version == 0 || at == version; ok {
			s.ring[i].ref = true
			val = s.ring[i].val
		}
	}
	s.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return val, at, ok
}

// put records val, of size bytes, as id's value at version, unless the
// cache holds a newer or the same version of id already.
func (c *clockCache[V]) put(id uuid.UUID, version uint64, size int64, val V) {
	if c == nil {
		return
	}
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts.Add(1)
	s.insert(id, version, size, val)
}

// stamp is the number of puts into id's shard so far, for putSince.
func (c *clockCache[V]) stamp(id uuid.UUID) uint64 {
	if c == nil {
		return 0
	}
	return c.shard(id).puts.Load()
}

// putSince is put, unless a put reached id's shard since stamp returned
// at: a value read before that put may be older than what it put, which
// may already be evicted. It does not count as a put itself: values put
// this way are never newer than the puts they wait for.
func (c *clockCache[V]) putSince(at uint64, id uuid.UUID, version uint64, size int64, val V) {
	if c == nil {
		return
	}
	s := c.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.puts.Load() == at {
		s.insert(id, version, size, val)
	}
}

// insert is put under s.mu.
func (s *clockShard[V]) insert(id uuid.UUID, version uint64, size int64, val V) {
	ref := false
	if i, ok := s.entries[id]; ok {
		if version <= s.ring[i].version {
			return
		}
		// Out with the old version, then in as a new entry: an invoice
		// that grew (a payment) makes room like any other.
		ref = s.ring[i].ref
		s.bytes -= s.ring[i].size
		s.ring[i] = clockSlot[V]{}
		s.free = append(s.free, i)
		delete(s.entries, id)
	}
	if size > s.max {
		return
	}
	for s.bytes+size > s.max {
		s.evict()
	}
	slot := clockSlot[V]{id: id, version: version, size: size, ref: ref, val: val}
	i := len(s.ring)
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
		s.ring[i] = slot
	} else {
		s.ring = append(s.ring, slot)
	}
	s.entries[id] = i
	s.bytes += size
}

// evict drops the first entry under the hand not read since the hand last
// passed it. The shard must hold an entry.
func (s *clockShard[V]) evict() {
	for {
		slot := &s.ring[s.hand]
		i := s.hand
		s.hand = (s.hand + 1) % len(s.ring)
		switch {
		case slot.version == 0:
		case slot.ref:
			slot.ref = false
		default:
			delete(s.entries, slot.id)
			s.bytes -= slot.size
			*slot = clockSlot[V]{}
			s.free = append(s.free, i)
			return
		}
	}
}

// len is the number of cached invoices.
func (c *clockCache[V]) len() int {
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

// size is the sum of the cached values' sizes.
func (c *clockCache[V]) size() int64 {
	if c == nil {
		return 0
	}
	var n int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}

func (c *clockCache[V]) hitCount() uint64 {
	if c == nil {
		return 0
	}
	return c.hits.Load()
}

func (c *clockCache[V]) missCount() uint64 {
	if c == nil {
		return 0
	}
	return c.misses.Load()
}
