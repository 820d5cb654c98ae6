package persistence

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// counterMerger sums int64 deltas, so commits add to a list counter with
// batch.Merge and never read-modify-write it: two concurrent commits
// changing the same counter need no lock and cannot lose an update.
//
// A stored full value (a Set, or the result of an earlier merge that
// compaction wrote back) and a delta operand have the same encoding, an
// 8-byte big-endian two's-complement int64, so the sum is correct whichever
// of them is the oldest operand and whether or not the merge includes the
// base (includesBase=false yields a partial sum, itself a valid operand).
// Addition is associative and commutative and wraps the same way on every
// machine, so the result is deterministic. The name is stored on disk by
// Pebble; renaming it makes old stores unopenable.
//
// The price is on the read side: a Get folds every operand not yet
// compacted, so reading a busy project's counter costs up to one step per
// commit still in the memtable (tens of microseconds at a few thousand);
// flushes and compactions fold the rest.
var counterMerger = &pebble.Merger{
	Name: "invoiced.counter.sum.v1",
	Merge: func(key, value []byte) (pebble.ValueMerger, error) {
		m := &counterSum{}
		if err := m.add(value); err != nil {
			return nil, err
		}
		return m, nil
	},
}

type counterSum struct{ sum int64 }

func (m *counterSum) add(v []byte) error {
	if len(v) != 8 {
		return fmt.Errorf("counter operand of %d bytes, want 8", len(v))
	}
	m.sum += int64(binary.BigEndian.Uint64(v))
	return nil
}

func (m *counterSum) MergeNewer(v []byte) error { return m.add(v) }
func (m *counterSum) MergeOlder(v []byte) error { return m.add(v) }

func (m *counterSum) Finish(bool) ([]byte, io.Closer, error) {
	return encodeCount(m.sum), nil, nil
}

func encodeCount(n int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(n))
}

func decodeCount(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("counter value of %d bytes, want 8", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// counterDelta is one counter key and the amount to add to it.
type counterDelta struct {
	key   []byte
	delta int64
}

// counterDeltas returns the counter changes of replacing the old index row
// by the new one: -1 on each of old's counters, +1 on each of new's, for
// the filter masks whose keys differ. A row whose project, status,
// currency and created time do not change touches no counter; a status
// change touches only the masks that carry the status. Each mask has one
// created counter per shift (see createdShifts).
func counterDeltas(old, new *IndexRow) []counterDelta {
	// Which masks change is found first, so that every key is cut from
	// one buffer: one allocation per commit instead of one per mask.
	var changed [numMasks]bool
	keys, size := 0, 0
	for mask := range byte(numMasks) {
		if old != nil && new != nil && sameCounters(old, new, mask) {
			continue
		}
		changed[mask] = true
		for _, r := range [2]*IndexRow{old, new} {
			if r != nil {
				keys += len(createdShifts)
				size += len(createdShifts) * createdKeyLen(r.Status, r.Currency)
			}
		}
	}
	if keys == 0 {
		return nil
	}
	ds := make([]counterDelta, 0, keys)
	buf := make([]byte, 0, size)
	for mask := range byte(numMasks) {
		if !changed[mask] {
			continue
		}
		if old != nil {
			ds, buf = appendCounters(ds, buf, old, mask, -1)
		}
		if new != nil {
			ds, buf = appendCounters(ds, buf, new, mask, +1)
		}
	}
	return ds
}

// sameCounters reports whether a and b count in the same counters of mask.
func sameCounters(a, b *IndexRow, mask byte) bool {
	return a.ProjectID == b.ProjectID && clampNanos(a.CreatedAt) == clampNanos(b.CreatedAt) &&
		(mask&maskStatus == 0 || a.Status == b.Status) &&
		(mask&maskCurrency == 0 || a.Currency == b.Currency)
}

// appendCounters appends d on r's counters of mask, one created bucket per
// shift, and returns ds and buf; the keys are cut from buf, each capped at
// its own length (see counterDeltas). The coarsest buckets also make the
// mask's total (see counterCache), so no separate total is written.
func appendCounters(ds []counterDelta, buf []byte, r *IndexRow, mask byte, d int64) ([]counterDelta, []byte) {
	created := uint64(clampNanos(r.CreatedAt))
	for _, shift := range createdShifts {
		start := len(buf)
		buf = appendCreatedPrefix(buf, r.ProjectID, mask, r.Status, r.Currency, shift)
		buf = binary.BigEndian.AppendUint64(buf, created>>shift)
		ds = append(ds, counterDelta{key: buf[start:len(buf):len(buf)], delta: d})
	}
	return ds, buf
}

// sumDeltas adds ds to sums, one entry per counter key: a delta whose key
// is already in sums (at maps a key to its index there) is added to that
// entry, any other is appended. A lookup by string(key) does not allocate,
// so a key is copied once per sum rather than once per delta (twelve
// times a payment in a chain round). A Group sums its members with it.
func sumDeltas(sums []counterDelta, at map[string]int, ds []counterDelta) []counterDelta {
	for _, d := range ds {
		if i, ok := at[string(d.key)]; ok {
			sums[i].delta += d.delta
			continue
		}
		at[string(d.key)] = len(sums)
		sums = append(sums, d)
	}
	return sums
}

// mergeCounts adds deltas' non-zero counter merges to b.
func mergeCounts(b *pebble.Batch, deltas []counterDelta) error {
	var v [8]byte // the batch copies it
	for _, d := range deltas {
		if d.delta == 0 {
			continue
		}
		binary.BigEndian.PutUint64(v[:], uint64(d.delta))
		if err := b.Merge(d.key, v[:], nil); err != nil {
			return err
		}
	}
	return nil
}
