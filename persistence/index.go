package persistence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// IndexRow is what the list indexes know of an invoice. The caller passes
// the row it committed last as Commit.Old, so the index keys it wrote can
// be deleted exactly.
type IndexRow struct {
	ProjectID uuid.UUID
	InvoiceID uuid.UUID
	Status    string // e.g. "new"; short ASCII, at most 255 bytes
	Currency  string // e.g. "BTC"; short ASCII, at most 255 bytes
	// CreatedAt and UpdatedAt are unix nanoseconds; negative values are
	// stored, sorted and filtered as 0.
	CreatedAt int64
	UpdatedAt int64
	// Fiat is the fiat amount in cents; nil = no fiat amount (sorts before
	// every amount ascending). Non-negative.
	Fiat *big.Int
	// Crypto is the crypto amount scaled to 18 decimals, so different
	// currencies compare. Non-negative; nil sorts like an absent Fiat.
	Crypto *big.Int
	// ExpiresAt (unix nanos) schedules the invoice in the expiry index;
	// 0 = not scheduled (paid, final or never expiring).
	ExpiresAt int64
	// Watch, when set, keeps the invoice's deposit address in the watch
	// list the chain monitors load at start.
	Watch *Watch
}

// Watch is a deposit address the chain monitors must follow for an
// invoice, until Until (unix nanos; 0 = while the invoice is open).
type Watch struct {
	Currency string
	Address  string
	Until    int64
}

// sameRow reports whether a and b produce the same index keys and values.
func sameRow(a, b *IndexRow) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.ProjectID == b.ProjectID && a.InvoiceID == b.InvoiceID &&
		a.Status == b.Status && a.Currency == b.Currency &&
		clampNanos(a.CreatedAt) == clampNanos(b.CreatedAt) &&
		clampNanos(a.UpdatedAt) == clampNanos(b.UpdatedAt) &&
		sameAmount(a.Fiat, b.Fiat) && sameAmount(a.Crypto, b.Crypto) &&
		a.ExpiresAt == b.ExpiresAt && sameWatch(a.Watch, b.Watch)
}

func sameWatch(a, b *Watch) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func sameAmount(a, b *big.Int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Cmp(b) == 0
}

// indexEntry is one list index key and its value.
type indexEntry struct{ key, value []byte }

// indexEntries returns the row's key in each family, indexed by family
// number; families that do not exist (see hasFamily) are left zero. The
// row is checked and the shared value built once for all of them (this
// runs twice per commit that changes a row).
func indexEntries(r *IndexRow) ([numFamilies]indexEntry, error) {
	var out [numFamilies]indexEntry
	if err := checkRow(r); err != nil {
		return out, err
	}
	// Every family's key and the shared value are cut from one buffer:
	// one allocation per row instead of one per family, which was a tenth
	// of a chain round's allocated bytes. Each entry's slice is capped at
	// its own length, so appending to the buffer never reaches into an
	// entry; should the buffer be outgrown after all (a negative amount's
	// error, say), append moves on to a new array and the entries cut
	// so far keep the old one.
	buf := make([]byte, 0, indexValueLen(r.Currency)+indexKeysLen(r))
	buf = appendIndexValue(buf, clampNanos(r.CreatedAt), r.Currency)
	value := buf[:len(buf):len(buf)]
	for f := range byte(numFamilies) {
		if !hasFamily(f) {
			continue
		}
		var err error
		if out[f], buf, err = entryOf(buf, r, f, value); err != nil {
			return out, err
		}
	}
	return out, nil
}

// familyEntry is the row's key and value in family f.
func familyEntry(r *IndexRow, f byte) (indexEntry, error) {
	if err := checkRow(r); err != nil {
		return indexEntry{}, err
	}
	e, _, err := entryOf(nil, r, f, appendIndexValue(nil, clampNanos(r.CreatedAt), r.Currency))
	return e, err
}

// checkRow checks the row's strings fit the keyspace.
func checkRow(r *IndexRow) error {
	if err := checkString("status", r.Status); err != nil {
		return err
	}
	return checkString("currency", r.Currency)
}

// entryOf appends the key of a checked row in family f to dst and returns
// the entry (its key a slice of dst capped at its end) and dst; value is
// the row's index value (appendIndexValue), which only the non-created_at
// families carry.
func entryOf(dst []byte, r *IndexRow, f byte, value []byte) (indexEntry, []byte, error) {
	sort, mask := SortField(f>>2), f&(numMasks-1)
	start := len(dst)
	k := appendIndexPrefix(dst, sort, mask, r.ProjectID, r.Status, r.Currency)
	var err error
	switch sort {
	case SortCreatedAt:
		k = appendTime(k, r.CreatedAt)
	case SortUpdatedAt:
		k = appendTime(k, r.UpdatedAt)
	case SortFiatAmount:
		if k, err = appendAmount(k, r.Fiat); err != nil {
			return indexEntry{}, dst, fmt.Errorf("fiat: %w", err)
		}
	default:
		if k, err = appendAmount(k, r.Crypto); err != nil {
			return indexEntry{}, dst, fmt.Errorf("crypto: %w", err)
		}
	}
	k = append(k, r.InvoiceID[:]...)
	e := indexEntry{key: k[start:len(k):len(k)]}
	// The created_at families' keys already order by creation and carry
	// every filter; the others keep created_at and the currency in the
	// value, so a created range or a currency filter needs no snapshot.
	if sort != SortCreatedAt {
		e.value = value
	}
	return e, k, nil
}

// indexKeysLen is the length of r's keys in every family together.
func indexKeysLen(r *IndexRow) int {
	n := 0
	for f := range byte(numFamilies) {
		if !hasFamily(f) {
			continue
		}
		sort, mask := SortField(f>>2), f&(numMasks-1)
		n += 2 + 16 + 16 // prefix byte, family, project; invoice id
		if mask&maskStatus != 0 {
			n += 1 + len(r.Status)
		}
		if mask&maskCurrency != 0 {
			n += 1 + len(r.Currency)
		}
		switch sort {
		case SortCreatedAt, SortUpdatedAt:
			n += 8
		case SortFiatAmount:
			n += amountLen(r.Fiat)
		default:
			n += amountLen(r.Crypto)
		}
	}
	return n
}

// amountLen is the length appendAmount appends for a.
func amountLen(a *big.Int) int {
	if a == nil {
		return 1
	}
	return 2 + (a.BitLen()+7)/8
}

// indexValueLen is the length of a non-created_at family's value.
func indexValueLen(currency string) int { return 8 + 1 + len(currency) }

// appendIndexValue appends a non-created_at family's value: created_at
// (clamped unix nanos) and the currency; indexValue reads it.
func appendIndexValue(dst []byte, created int64, currency string) []byte {
	return appendStr(binary.BigEndian.AppendUint64(dst, uint64(created)), currency)
}

// indexValue splits a non-created_at family's value into created_at and
// currency.
func indexValue(v []byte) (created int64, currency []byte, err error) {
	if len(v) < 9 || int(v[8]) != len(v)-9 {
		return 0, nil, fmt.Errorf("corrupt index value of %d bytes", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), v[9:], nil
}

// indexWrites adds to w the index changes of replacing old by new: keys of
// old that new does not have are deleted, keys of new that differ are set.
// Identical rows write nothing.
func indexWrites(w *pebble.Batch, old, new *IndexRow) error {
	if sameRow(old, new) {
		return nil
	}
	if err := scheduleWrites(w, old, new); err != nil {
		return err
	}
	var olds, news [numFamilies]indexEntry
	var err error
	if old != nil {
		if olds, err = indexEntries(old); err != nil {
			return fmt.Errorf("old index row: %w", err)
		}
	}
	if new != nil {
		if news, err = indexEntries(new); err != nil {
			return fmt.Errorf("new index row: %w", err)
		}
	}
	for f := range numFamilies {
		o, n := olds[f], news[f] // both zero for a family that does not exist
		if o.key != nil && n.key != nil && bytes.Equal(o.key, n.key) && bytes.Equal(o.value, n.value) {
			continue
		}
		if o.key != nil {
			if err := w.Delete(o.key, nil); err != nil {
				return err
			}
		}
		if n.key != nil {
			if err := w.Set(n.key, n.value, nil); err != nil {
				return err
			}
		}
	}
	return nil
}
