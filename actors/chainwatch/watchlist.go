package chainwatch

import (
	"container/heap"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/persistence"
)

// Watchlist maps the deposit addresses the chain monitors must follow to
// their invoices, so matching a block's outputs is one map lookup each.
// It mirrors the store's watch list: loaded from it at start, then written
// by each commit that creates or changes a watch (the same row the commit
// stored, from inside the commit's critical section, so in version order),
// and pruned by the monitors when a watch period ends. Readers are the
// monitors.
//
// An address is kept by its key (addrKey), not its text: a map of
// fixed-size keys and values holds no pointer, so the garbage collector
// never scans it, and a watch costs about 45 bytes instead of 110 (the
// address text is kept only in ends, for watches in their grace period).
type Watchlist struct {
	mu     sync.RWMutex
	byAddr map[string]map[addrKey]watched // currency -> address key -> watch; guarded by mu
	// ends holds, per currency, the watches with an end, soonest first,
	// so a sweep costs what has ended rather than a scan of every watched
	// address (20 ms under the lock with a million, blocking every commit
	// that sets a watch). An entry is stale once its address is set again
	// or removed; expired skips those. Guarded by mu.
	ends map[string]*watchEnds
}

// addrKey identifies an address: the first 16 bytes of its SHA-256. Two
// addresses share a key with probability 2^-128 per pair, the odds the
// invoice ids (random UUIDs) already rest on.
type addrKey [16]byte

func keyOf(address string) addrKey {
	sum := sha256.Sum256([]byte(address))
	return addrKey(sum[:16])
}

// watchEnd is one watch's end in a currency's watchEnds; it keeps the
// address's text, which unwatching it in the store needs.
type watchEnd struct {
	until   int64
	address string
}

// watchEnds is a min-heap of watch ends (container/heap).
type watchEnds []watchEnd

func (h watchEnds) Len() int           { return len(h) }
func (h watchEnds) Less(i, j int) bool { return h[i].until < h[j].until }
func (h watchEnds) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *watchEnds) Push(x any)        { *h = append(*h, x.(watchEnd)) }
func (h *watchEnds) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type watched struct {
	invoice uuid.UUID
	until   int64 // unix nanos; 0 = while the invoice is open
}

// LoadWatchlist reads every watched address of currencies from the store.
func LoadWatchlist(store *persistence.Store, currencies []string) (*Watchlist, error) {
	w := newWatchlist()
	for _, cur := range currencies {
		err := store.Watches(cur, func(e persistence.WatchEntry) error {
			w.Set(cur, e.Address, e.Invoice, e.Until)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load %s watch list: %w", cur, err)
		}
	}
	return w, nil
}

func newWatchlist() *Watchlist {
	return &Watchlist{byAddr: map[string]map[addrKey]watched{}, ends: map[string]*watchEnds{}}
}

// Set records the watch an invoice's commit stored; the invoice actors call
// it from inside the commit's critical section, so in version order.
func (w *Watchlist) Set(currency, address string, invoice uuid.UUID, until int64) {
	// hashed before the lock: a chain round's commits set ten thousand
	// watches from every CPU at once
	k := keyOf(address)
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.byAddr[currency]
	if m == nil {
		m = map[addrKey]watched{}
		w.byAddr[currency] = m
	}
	m[k] = watched{invoice: invoice, until: until}
	if until != 0 {
		w.pushEnd(currency, watchEnd{until: until, address: address})
	}
}

// pushEnd adds e to currency's watch ends; the caller holds mu.
func (w *Watchlist) pushEnd(currency string, e watchEnd) {
	h := w.ends[currency]
	if h == nil {
		h = &watchEnds{}
		w.ends[currency] = h
	}
	heap.Push(h, e)
}

func (w *Watchlist) lookup(currency, address string) (watched, bool) {
	k := keyOf(address)
	w.mu.RLock()
	defer w.mu.RUnlock()
	v, ok := w.byAddr[currency][k]
	return v, ok
}

// expired returns the addresses of currency whose watch ended before now,
// each once, and forgets their ends: the caller removes each address or,
// if it cannot, hands the rest back with retry.
func (w *Watchlist) expired(currency string, now int64) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.ends[currency]
	if h == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for h.Len() > 0 && (*h)[0].until < now {
		e := heap.Pop(h).(watchEnd)
		if v, ok := w.byAddr[currency][keyOf(e.address)]; ok && v.until == e.until && !seen[e.address] {
			seen[e.address] = true
			out = append(out, e.address)
		}
	}
	return out
}

// retry hands back addresses expired returned that were not removed, so a
// later sweep finds them again.
func (w *Watchlist) retry(currency string, addresses []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range addresses {
		if v, ok := w.byAddr[currency][keyOf(a)]; ok && v.until != 0 {
			w.pushEnd(currency, watchEnd{until: v.until, address: a})
		}
	}
}

// remove drops address if its watch is still the one that ended (a commit
// may have reopened it meanwhile).
func (w *Watchlist) remove(currency, address string, now int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := keyOf(address)
	v, ok := w.byAddr[currency][k]
	if !ok || v.until == 0 || v.until >= now {
		return false
	}
	delete(w.byAddr[currency], k)
	return true
}

func (w *Watchlist) size() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	n := 0
	for _, m := range w.byAddr {
		n += len(m)
	}
	return n
}
