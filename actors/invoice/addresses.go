package invoice

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/persistence"
)

// poolSize is how many addresses per currency are derived ahead; fillChunk
// how many a refill derives before publishing them.
const (
	poolSize  = 256
	fillChunk = 32
)

// addressBook hands out derivation indexes, one per invoice, never the same
// index twice and strictly in order, so a merchant's wallet with the usual
// gap limit sees every payment. A BIP32 child derivation costs an
// elliptic-curve multiplication (~60 µs), so addresses for the next indexes
// are derived ahead in the background: the pool is only a cache of
// (index, address) for next, next+1, ...; allocation always takes index
// next and uses the cached address when there is one.
//
// next starts above the highest index recorded in the store (each create
// commits its index with its events), so a crash can cause no reuse. The
// pool is kept in memory only: its addresses were never shown to anyone.
// An index whose create failed goes back to a free list and is handed out
// again first, so refused creates leave no gap either.
type addressBook struct {
	store   *persistence.Store
	deriver chain.Deriver
	refill  chan string

	mu      sync.Mutex // guards the maps below; held only for slice updates
	next    map[string]uint64
	pool    map[string][]derived // contiguous indexes starting at >= next
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
	if f := b.free[currency]; len(f) > 0 {
		d := f[0] // lowest first: released indexes are gaps until reused
		b.free[currency] = f[1:]
		b.mu.Unlock()
		return d.index, d.address, nil
	}
	idx := b.next[currency]
	b.next[currency]++
	addr := ""
	p := b.pool[currency]
	for len(p) > 0 && p[0].index < idx {
		p = p[1:]
	}
	if len(p) > 0 && p[0].index == idx {
		addr, p = p[0].address, p[1:]
	}
	b.pool[currency] = p
	wake := len(p) < poolSize/2 && !b.filling[currency]
	if wake {
		b.filling[currency] = true
	}
	b.mu.Unlock()
	if wake {
		select {
		case b.refill <- currency:
		default:
			b.mu.Lock()
			b.filling[currency] = false
			b.mu.Unlock()
		}
	}
	if addr != "" {
		return idx, addr, nil
	}
	// Nothing cached for this index (the first invoice, or a burst faster
	// than the refill): derive it here.
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
	b.next[currency] = 0
	if found {
		b.next[currency] = max + 1
	}
	return nil
}

// fill derives addresses for the indexes after the pool's tail until the
// pool is full, a chunk at a time, deriving outside the lock. Entries the
// allocator has already passed are dropped.
func (b *addressBook) fill(currency string) {
	defer func() {
		b.mu.Lock()
		b.filling[currency] = false
		b.mu.Unlock()
	}()
	for {
		b.mu.Lock()
		if err := b.initLocked(currency); err != nil {
			b.mu.Unlock()
			return
		}
		p := b.pool[currency]
		start := b.next[currency]
		if len(p) > 0 {
			start = p[len(p)-1].index + 1
		}
		n := min(poolSize-len(p), fillChunk)
		b.mu.Unlock()
		if n <= 0 {
			return
		}
		chunk := make([]derived, 0, n)
		for i := range uint64(n) {
			addr, err := b.deriver.Derive(currency, start+i)
			if err != nil {
				// Only an index beyond the deriver's range fails (2^31 for
				// BIP32); allocation derives inline and reports it.
				return
			}
			chunk = append(chunk, derived{start + i, addr})
		}
		b.mu.Lock()
		p = b.pool[currency]
		tail := b.next[currency]
		if len(p) > 0 {
			tail = p[len(p)-1].index + 1
		}
		for _, d := range chunk {
			if d.index == tail && d.index >= b.next[currency] {
				p = append(p, d)
				tail++
			}
		}
		b.pool[currency] = p
		b.mu.Unlock()
	}
}

// release returns an index whose invoice was not committed.
func (b *addressBook) release(currency string, idx uint64, address string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := append(b.free[currency], derived{idx, address})
	slices.SortFunc(f, func(a, b derived) int { return cmp.Compare(a.index, b.index) })
	b.free[currency] = f
}
