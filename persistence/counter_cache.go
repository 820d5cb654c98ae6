package persistence

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// counterCache mirrors every list total in memory: per project and filter
// mask, the sum of its created counters of the coarsest shift (one per 3.3
// days of the project's life), keyed by counterKey. Counters are Pebble
// merge operands (so concurrent commits never read-modify-write them), but
// reading one folds every operand still in the memtable, about one per
// create since the last flush, which made each list page cost O(recent
// creates). The cache is loaded once when the store opens, before any
// commit can run, and every successful Commit applies its deltas to it, so
// reads never touch Pebble; Pebble stays the durable truth, reloaded at
// the next open. A list may see a count a commit or two behind its page,
// never one that drifts.
type counterCache struct {
	mu sync.Mutex
	v  map[string]int64
}

// load sums the coarsest created counters of db into the totals.
func (c *counterCache) load(db *pebble.DB) error {
	lower := []byte{prefixCreated}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("load counters: %w", err)
	}
	v := map[string]int64{}
	for ok := it.First(); ok; ok = it.Next() {
		total := totalOf(it.Key())
		if total == nil {
			continue
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(fmt.Errorf("load counters: %w", err), it.Close())
		}
		n, err := decodeCount(raw)
		if err != nil {
			return errors.Join(fmt.Errorf("load counter %x: %w", it.Key(), err), it.Close())
		}
		v[string(total)] += n
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("load counters: %w", err)
	}
	c.mu.Lock()
	c.v = v
	c.mu.Unlock()
	return nil
}

// apply adds a committed batch's deltas of the coarsest created counters
// to the totals; the finer ones are read from Pebble (see countCreated).
func (c *counterCache) apply(deltas []counterDelta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range deltas {
		if total := totalOf(d.key); total != nil {
			c.v[string(total)] += d.delta
		}
	}
}

func (c *counterCache) get(project uuid.UUID, mask byte, status, currency string) int64 {
	k := counterKey(project, mask, status, currency)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v[string(k)]
}
