package chainwatch

import (
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
type Watchlist struct {
	mu     sync.RWMutex
	byAddr map[string]map[string]watched // currency -> address -> watch; guarded by mu
}

type watched struct {
	invoice uuid.UUID
	until   int64 // unix nanos; 0 = while the invoice is open
}

// LoadWatchlist reads every watched address of currencies from the store.
func LoadWatchlist(store *persistence.Store, currencies []string) (*Watchlist, error) {
	w := &Watchlist{byAddr: map[string]map[string]watched{}}
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

// Set records the watch an invoice's commit stored; the invoice actors call
// it from inside the commit's critical section, so in version order.
func (w *Watchlist) Set(currency, address string, invoice uuid.UUID, until int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.byAddr[currency]
	if m == nil {
		m = map[string]watched{}
		w.byAddr[currency] = m
	}
	m[address] = watched{invoice: invoice, until: until}
}

func (w *Watchlist) lookup(currency, address string) (watched, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	v, ok := w.byAddr[currency][address]
	return v, ok
}

// expired returns the addresses of currency whose watch ended before now.
func (w *Watchlist) expired(currency string, now int64) []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var out []string
	for addr, v := range w.byAddr[currency] {
		if v.until != 0 && v.until < now {
			out = append(out, addr)
		}
	}
	return out
}

// remove drops address if its watch is still the one that ended (a commit
// may have reopened it meanwhile).
func (w *Watchlist) remove(currency, address string, now int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.byAddr[currency][address]
	if !ok || v.until == 0 || v.until >= now {
		return false
	}
	delete(w.byAddr[currency], address)
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
