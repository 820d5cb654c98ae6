package actors

import (
	"context"
	"fmt"
	"sync"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/persistence"
)

// poolSize is how many addresses per currency are derived ahead.
const poolSize = 256

// addressBook hands out derivation indexes, one per invoice, never the same
// index twice, with their addresses derived ahead of time: a BIP32 child
// derivation costs an elliptic-curve multiplication (~60 µs), which stays
// off the create path.
//
// The next index per currency starts above the highest index recorded in
// the store (each create commits its index with its events), so a crash can
// cause no reuse. The pool is kept in memory only: its addresses were never
// shown to anyone, so after a restart deriving from max+1 again hands out
// exactly the same ones and leaves no gap for a wallet's gap limit. An index
// whose create failed goes back to a free list for the same reason.
type addressBook struct {
	store   *persistence.Store
	deriver chain.Deriver
	refill  chan string

	mu      sync.Mutex // guards the maps below; held only for slice updates
	next    map[string]uint64
	pool    map[string][]derived
	free    map[string][]derived
	filling map[string]bool
}

type derived struct {
	index   uint64
	address string
}

func newAddressBook(store *persistence.Store, deriver chain.Deriver) *addressBook {
	return &addressBook{
		store: store, deriver: deriver, refill: make(chan string, 16),
		next: map[string]uint64{}, pool: map[string][]derived{}, free: map[string][]derived{}, filling: map[string]bool{},
	}
}

// run refills pools in the background until ctx ends.
func (b *addressBook) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case cur := <-b.refill:
			b.fill(cur)
		}
	}
}

// allocate returns a fresh derivation index and its address for currency.
func (b *addressBook) allocate(currency string) (uint64, string, error) {
	b.mu.Lock()
	if err := b.initLocked(currency); err != nil {
		b.mu.Unlock()
		return 0, "", err
	}
	var d derived
	var ok bool
	if f := b.free[currency]; len(f) > 0 {
		d, b.free[currency], ok = f[len(f)-1], f[:len(f)-1], true
	} else if p := b.pool[currency]; len(p) > 0 {
		d, b.pool[currency], ok = p[0], p[1:], true
	}
	var idx uint64
	if !ok {
		idx = b.next[currency]
		b.next[currency]++
	}
	low := len(b.pool[currency]) < poolSize/2 && !b.filling[currency]
	if low {
		b.filling[currency] = true
	}
	b.mu.Unlock()
	if low {
		select {
		case b.refill <- currency:
		default:
			b.mu.Lock()
			b.filling[currency] = false
			b.mu.Unlock()
		}
	}
	if ok {
		return d.index, d.address, nil
	}
	// The pool ran dry (a burst, or the first invoice): derive inline.
	addr, err := b.deriver.Derive(currency, idx)
	if err != nil {
		return 0, "", fmt.Errorf("derive %s address %d: %w", currency, idx, err)
	}
	return idx, addr, nil
}

// initLocked starts a currency's counter above the highest index in use.
func (b *addressBook) initLocked(currency string) error {
	if _, ok := b.next[currency]; ok {
		return nil
	}
	max, found, err := b.store.MaxAddressIndex(currency)
	if err != nil {
		return fmt.Errorf("recover %s address index: %w", currency, err)
	}
	if found {
		b.next[currency] = max + 1
	} else {
		b.next[currency] = 0
	}
	return nil
}

// fill derives addresses until the currency's pool is full. Indexes are
// reserved under the lock and derived outside it.
func (b *addressBook) fill(currency string) {
	defer func() {
		b.mu.Lock()
		b.filling[currency] = false
		b.mu.Unlock()
	}()
	for {
		b.mu.Lock()
		if err := b.initLocked(currency); err != nil || len(b.pool[currency]) >= poolSize {
			b.mu.Unlock()
			return
		}
		n := poolSize - len(b.pool[currency])
		first := b.next[currency]
		b.next[currency] += uint64(n)
		b.mu.Unlock()

		batch := make([]derived, 0, n)
		var err error
		for i := range uint64(n) {
			var addr string
			if addr, err = b.deriver.Derive(currency, first+i); err != nil {
				// Only an index beyond the deriver's range fails (2^31 for
				// BIP32): every later one would fail too, so nothing is lost
				// by stopping; inline derivation reports the error.
				break
			}
			batch = append(batch, derived{first + i, addr})
		}
		b.mu.Lock()
		b.pool[currency] = append(b.pool[currency], batch...)
		b.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// release returns an index whose invoice was not committed.
func (b *addressBook) release(currency string, idx uint64, address string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free[currency] = append(b.free[currency], derived{idx, address})
}
