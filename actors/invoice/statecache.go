package invoice

import (
	"unsafe"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// stateCache holds the latest committed state of recently written or read
// invoices, so a read of an invoice that is being paid or polled (a
// checkout page asks for its invoice every few seconds) costs a map lookup
// instead of a Pebble seek, a snapshot decode and an event replay.
//
// Commits fill it from inside the commit's critical section (see
// persistence.Commit.Committed), after their batch is durable, so the
// entries of one invoice arrive in version order. Reads that missed fill
// it too, without ever putting back a state older than the store: a
// state loaded from the store may be older than a commit that came and
// went from the cache while the read ran (put, then evicted), so a read
// notes its shard's count of commit puts before it loads (stamp) and
// inserts only if none came since (loaded, under the shard's lock). A
// commit that came later than the insert replaces it, as puts never go
// back a version. A failed commit wrote nothing, so it leaves the cache as
// it was. Invoices are values whose slices and amounts Apply never mutates
// in place, so an entry is shared with readers without copying.
//
// It is a clockCache, bounded by bytes: an entry's size is estimated from
// its strings and payments (entrySize). A burst of creates or expiries
// nobody reads again washes through it.
type stateCache struct{ *clockCache[*engine.Invoice] }

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

// newStateCache holds invoices up to about maxBytes of heap; none when
// maxBytes is below one entry.
func newStateCache(maxBytes int64) stateCache {
	return stateCache{newClockCache[*engine.Invoice](maxBytes, entryOverhead)}
}

// get returns the cached state of id.
func (c stateCache) get(id uuid.UUID) (engine.Invoice, bool) {
	inv, ok := c.ref(id)
	if !ok {
		return engine.Invoice{}, false
	}
	return *inv, true
}

// ref is get without the copy (an Invoice is a few hundred bytes): the
// caller must not change *inv.
func (c stateCache) ref(id uuid.UUID) (*engine.Invoice, bool) {
	inv, _, ok := c.clockCache.get(id, 0)
	return inv, ok
}

// committed records *inv as its invoice's latest committed state; the
// cache keeps the pointer, so the caller must not change *inv afterwards.
// Callers hold the invoice's commit lock, so calls for one invoice come in
// version order; an older version is ignored all the same.
func (c stateCache) committed(inv *engine.Invoice) {
	c.put(inv.ID, inv.Version, entrySize(inv), inv)
}

// loaded records *inv, read from the store after stamp (the clockCache's,
// which a read that missed calls before it loads) returned at, as its
// invoice's latest state, unless a commit reached the cache since (see
// stateCache); the cache keeps the pointer, so the caller must not change
// *inv afterwards.
func (c stateCache) loaded(at uint64, inv *engine.Invoice) {
	c.putSince(at, inv.ID, inv.Version, entrySize(inv), inv)
}
