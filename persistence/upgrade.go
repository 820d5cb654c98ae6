package persistence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// indexLayout is the list-index layout this build writes: 3 = layout 2
// with the created counters (prefixCreated) in place of its totals
// (prefixCounter). A build before layout 3 would read a layout-3 store's
// totals as zero. Layout 2 wrote ten families
// (see hasFamily) whose non-created_at values carry created_at and the
// currency. Layout 1 (no meta record) wrote all sixteen families with
// created_at alone in those values.
const indexLayout = 3

// metaIndexLayout names the meta record holding the store's index layout.
const metaIndexLayout byte = 0x01

func metaKey(kind byte) []byte { return []byte{prefixMeta, kind} }

// upgradeIndexes brings a store's list indexes to indexLayout once, at
// Open, so a store written by an earlier build lists and checks like a new
// one without an operator's `check -repair`. Each step is idempotent (a
// crash midway redoes it) and the layout record is written, synced, only
// after every step. Steps commit their chunks without a sync: Pebble's
// single WAL makes them durable with the layout record.
func upgradeIndexes(db *pebble.DB) error {
	layout := uint64(1)
	v, closer, err := db.Get(metaKey(metaIndexLayout))
	switch {
	case err == nil:
		layout = 0
		if len(v) == 8 {
			layout = binary.BigEndian.Uint64(v)
		}
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("read index layout: %w", err)
	}
	if layout >= indexLayout {
		return nil
	}
	if layout < 2 {
		err = upgradeFamilies(db)
	}
	if err == nil {
		err = buildCreatedCounters(db)
	}
	if err == nil {
		err = db.Set(metaKey(metaIndexLayout), binary.BigEndian.AppendUint64(nil, indexLayout), syncWrite)
	}
	if err != nil {
		return fmt.Errorf("upgrade indexes from layout %d: %w", layout, err)
	}
	return nil
}

// chunkedBatch commits a long rewrite in chunks of 10,000 operations,
// unsynced (see upgradeIndexes).
type chunkedBatch struct{ *pebble.Batch }

func (b chunkedBatch) maybeFlush() error {
	if b.Count() < 10_000 {
		return nil
	}
	return b.flush()
}

func (b chunkedBatch) flush() error {
	if b.Empty() {
		return nil
	}
	err := b.Commit(pebble.NoSync)
	b.Reset()
	return err
}

// upgradeFamilies is the step to layout 2: keys of families no longer
// written are deleted, and values without the currency get it. The
// currency of each invoice comes from its created_at+currency family key,
// which both layouts write.
func upgradeFamilies(db *pebble.DB) error {
	currency, err := indexCurrencies(db)
	if err != nil {
		return err
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixIndex}, UpperBound: []byte{prefixIndex + 1}})
	if err != nil {
		return err
	}
	b := chunkedBatch{db.NewBatch()}
	defer b.Close()
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		k := it.Key()
		if len(k) < 2+16+16 {
			continue // malformed; the check reports it
		}
		f := k[1]
		switch {
		case f >= numFamilies:
		case !hasFamily(f):
			err = b.Delete(k, nil)
		case SortField(f>>2) != SortCreatedAt:
			var val []byte
			if val, err = it.ValueAndErr(); err != nil || len(val) != 8 {
				break
			}
			cur, known := currency[invoiceFromIndexKey(k)]
			if !known {
				break // the check reports an invoice without its created_at keys
			}
			err = b.Set(k, appendIndexValue(nil, int64(binary.BigEndian.Uint64(val)), cur), nil)
		}
		if err == nil {
			err = b.maybeFlush()
		}
	}
	err = errors.Join(err, it.Error(), it.Close())
	if err == nil {
		err = b.flush()
	}
	return err
}

// buildCreatedCounters is the step to layout 3: it deletes the totals of
// layout 2 and (re)writes every created counter from the created_at
// families, whose keys come in
// project, filter and time order, so each shift's bucket is counted in one
// run and nothing is held in memory but the current run of each shift.
func buildCreatedCounters(db *pebble.DB) error {
	b := chunkedBatch{db.NewBatch()}
	defer b.Close()
	// The totals of layout 2 are now the sums of the coarsest buckets.
	if err := errors.Join(
		b.DeleteRange([]byte{prefixCounter}, []byte{prefixCounter + 1}, nil),
		b.DeleteRange([]byte{prefixCreated}, []byte{prefixCreated + 1}, nil),
	); err != nil {
		return err
	}
	for mask := range byte(numMasks) {
		if err := countFamily(db, b, mask); err != nil {
			return fmt.Errorf("created counters of mask %d: %w", mask, err)
		}
	}
	return b.flush()
}

// countFamily writes the created counters of the created_at family of mask.
func countFamily(db *pebble.DB, b chunkedBatch, mask byte) error {
	prefix := []byte{prefixIndex, family(SortCreatedAt, mask)}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	// One run per shift: the counter key (without its bucket) and count.
	type run struct {
		key []byte
		n   int64
	}
	var runs [len(createdShifts)]run
	emit := func(r *run) error {
		if r.n == 0 {
			return nil
		}
		err := b.Set(r.key, encodeCount(r.n), nil)
		if err == nil {
			err = b.maybeFlush()
		}
		r.n = 0
		return err
	}
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		k := it.Key() // 0x04 family project(16) filters time(8) invoice(16)
		if len(k) < 2+16+8+16 {
			continue // malformed; the check reports it
		}
		created := binary.BigEndian.Uint64(k[len(k)-24:]) ^ 1<<63
		for i, shift := range createdShifts {
			key := make([]byte, 0, 1+len(k)-2-24+1+1+8)
			key = append(key, prefixCreated)
			key = append(key, k[2:18]...)
			key = append(key, mask)
			key = append(key, k[18:len(k)-24]...)
			key = append(key, shift)
			key = binary.BigEndian.AppendUint64(key, created>>shift)
			if r := &runs[i]; !bytes.Equal(r.key, key) {
				if err = emit(r); err != nil {
					break
				}
				r.key = key
			}
			runs[i].n++
		}
	}
	for i := range runs {
		if err == nil {
			err = emit(&runs[i])
		}
	}
	return errors.Join(err, it.Error(), it.Close())
}

// indexCurrencies maps every indexed invoice to its currency, read from
// the keys of the created_at family filtered by currency.
func indexCurrencies(db *pebble.DB) (map[uuid.UUID]string, error) {
	prefix := []byte{prefixIndex, family(SortCreatedAt, maskCurrency)}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	out := map[uuid.UUID]string{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key() // 0x04 family project(16) str(currency) sortvalue invoice(16)
		if len(k) < 2+16+1 || len(k) < 2+16+1+int(k[18])+16 {
			continue
		}
		out[invoiceFromIndexKey(k)] = string(k[19 : 19+int(k[18])])
	}
	return out, errors.Join(it.Error(), it.Close())
}
