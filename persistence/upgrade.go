package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// indexLayout is the list-index layout this build writes: 2 = ten
// families (see hasFamily) whose non-created_at values carry created_at
// and the currency. Layout 1 (no meta record) wrote all sixteen families
// with created_at alone in those values.
const indexLayout = 2

// metaIndexLayout names the meta record holding the store's index layout.
const metaIndexLayout byte = 0x01

func metaKey(kind byte) []byte { return []byte{prefixMeta, kind} }

// upgradeIndexes brings a store's list indexes to indexLayout once, at
// Open, so a store written by an earlier build lists and checks like a new
// one without an operator's `check -repair`: keys of families no longer
// written are deleted, and values without the currency get it. The
// currency of each invoice comes from its created_at+currency family key,
// which both layouts write. It is idempotent (a crash midway redoes it)
// and the layout record is written, synced, only after the indexes are.
func upgradeIndexes(db *pebble.DB) error {
	v, closer, err := db.Get(metaKey(metaIndexLayout))
	switch {
	case err == nil:
		layout := uint64(0)
		if len(v) == 8 {
			layout = binary.BigEndian.Uint64(v)
		}
		closer.Close()
		if layout >= indexLayout {
			return nil
		}
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("read index layout: %w", err)
	}
	currency, err := indexCurrencies(db)
	if err != nil {
		return fmt.Errorf("upgrade indexes: %w", err)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixIndex}, UpperBound: []byte{prefixIndex + 1}})
	if err != nil {
		return fmt.Errorf("upgrade indexes: %w", err)
	}
	// Chunks are committed without a sync: the layout record below is
	// written with one, and Pebble's single WAL makes everything before it
	// durable with it. A crash before it redoes the (idempotent) upgrade.
	b := db.NewBatch()
	defer b.Close()
	flush := func() error {
		if b.Empty() {
			return nil
		}
		err := b.Commit(pebble.NoSync)
		b.Reset()
		return err
	}
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
		if err == nil && b.Count() >= 10_000 {
			err = flush()
		}
	}
	err = errors.Join(err, it.Error(), it.Close())
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = db.Set(metaKey(metaIndexLayout), binary.BigEndian.AppendUint64(nil, indexLayout), syncWrite)
	}
	if err != nil {
		return fmt.Errorf("upgrade indexes: %w", err)
	}
	return nil
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
