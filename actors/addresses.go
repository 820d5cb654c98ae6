package actors

import (
	"fmt"
	"sync"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/persistence"
)

// addressBook hands out derivation indexes, one per invoice, never the same
// index twice. The next index per currency starts above the highest index
// recorded in the store (each create commits its index with its events), so
// a crash cannot cause reuse. An index whose create failed was never shown
// to anyone and goes back to a free list, so refused creates (a duplicate
// order_id retry, say) leave no gap a wallet's gap limit would trip on.
type addressBook struct {
	store   *persistence.Store
	deriver chain.Deriver

	mu   sync.Mutex // guards next and free; held only for counter updates
	next map[string]uint64
	free map[string][]uint64
}

func newAddressBook(store *persistence.Store, deriver chain.Deriver) *addressBook {
	return &addressBook{store: store, deriver: deriver, next: map[string]uint64{}, free: map[string][]uint64{}}
}

// allocate returns a fresh derivation index and its address for currency.
func (b *addressBook) allocate(currency string) (uint64, string, error) {
	idx, err := b.take(currency)
	if err != nil {
		return 0, "", err
	}
	addr, err := b.deriver.Derive(currency, idx)
	if err != nil {
		b.release(currency, idx)
		return 0, "", fmt.Errorf("derive %s address %d: %w", currency, idx, err)
	}
	return idx, addr, nil
}

func (b *addressBook) take(currency string) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f := b.free[currency]; len(f) > 0 {
		idx := f[len(f)-1]
		b.free[currency] = f[:len(f)-1]
		return idx, nil
	}
	next, ok := b.next[currency]
	if !ok {
		max, found, err := b.store.MaxAddressIndex(currency)
		if err != nil {
			return 0, fmt.Errorf("recover %s address index: %w", currency, err)
		}
		if found {
			next = max + 1
		}
	}
	b.next[currency] = next + 1
	return next, nil
}

// release returns an index whose invoice was not committed.
func (b *addressBook) release(currency string, idx uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free[currency] = append(b.free[currency], idx)
}
