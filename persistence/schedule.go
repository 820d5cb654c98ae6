package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// The expiry schedule and the watch list are derived from each commit's
// IndexRow, like the list indexes, so they change in the same synced batch
// as the events that justify them: an invoice is never scheduled to expire
// after it was paid, and never unwatched while it can still be paid.

func expiryKey(at int64, id uuid.UUID) []byte {
	k := make([]byte, 0, expiryKeyLen)
	k = append(k, prefixExpiry)
	k = binary.BigEndian.AppendUint64(k, uint64(clampNanos(at)))
	return append(k, id[:]...)
}

// expiryKeyLen is the length of an expiry key: prefix, time, invoice.
const expiryKeyLen = 1 + 8 + 16

// parseExpiryKey is expiryKey's inverse; ok is false for a key of the
// wrong length.
func parseExpiryKey(k []byte) (due ExpiryDue, ok bool) {
	if len(k) != expiryKeyLen {
		return ExpiryDue{}, false
	}
	return ExpiryDue{At: int64(binary.BigEndian.Uint64(k[1:9])), Invoice: uuid.UUID(k[9:])}, true
}

func watchKey(currency, address string) []byte {
	k := make([]byte, 0, 2+len(currency)+len(address))
	k = appendStr(append(k, prefixWatch), currency)
	return append(k, address...)
}

// scheduleWrites adds the expiry and watch changes of replacing old by new.
func scheduleWrites(w *pebble.Batch, old, new *IndexRow) error {
	var oldExp, newExp int64
	var oldWatch, newWatch *Watch
	if old != nil {
		oldExp, oldWatch = old.ExpiresAt, old.Watch
	}
	if new != nil {
		newExp, newWatch = new.ExpiresAt, new.Watch
	}
	if oldExp != newExp {
		if oldExp != 0 {
			if err := w.Delete(expiryKey(oldExp, old.InvoiceID), nil); err != nil {
				return err
			}
		}
		if newExp != 0 {
			if err := w.Set(expiryKey(newExp, new.InvoiceID), nil, nil); err != nil {
				return err
			}
		}
	}
	if sameWatch(oldWatch, newWatch) {
		return nil
	}
	if oldWatch != nil && (newWatch == nil || oldWatch.Currency != newWatch.Currency || oldWatch.Address != newWatch.Address) {
		if err := w.Delete(watchKey(oldWatch.Currency, oldWatch.Address), nil); err != nil {
			return err
		}
	}
	if newWatch != nil {
		if err := checkString("watch currency", newWatch.Currency); err != nil {
			return err
		}
		v := make([]byte, 0, 24)
		v = append(v, new.InvoiceID[:]...)
		v = binary.BigEndian.AppendUint64(v, uint64(clampNanos(newWatch.Until)))
		if err := w.Set(watchKey(newWatch.Currency, newWatch.Address), v, nil); err != nil {
			return err
		}
	}
	return nil
}

// ExpiryDue is one key of the expiry schedule: invoice Invoice expires at
// At (unix nanos).
type ExpiryDue struct {
	At      int64
	Invoice uuid.UUID
}

// DueExpiries returns up to limit keys of the schedule due at or before
// now (unix nanos), earliest first, starting after the key after (nil: from
// the first). A caller paging through one round passes the last key it got:
// the keys of invoices it has just expired are deleted, but Pebble still
// steps over their tombstones until a compaction drops them, and a mass
// expiry leaves tens of thousands below the live keys, which every read from
// the first key would walk again.
func (s *Store) DueExpiries(now int64, after *ExpiryDue, limit int) ([]ExpiryDue, error) {
	lower := []byte{prefixExpiry}
	if after != nil {
		lower = append(expiryKey(after.At, after.Invoice), 0)
	}
	upper := expiryKey(now, uuid.Max) // every key at <= now sorts below
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: append(upper, 0)})
	if err != nil {
		return nil, fmt.Errorf("due expiries: %w", err)
	}
	var out []ExpiryDue
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		due, ok := parseExpiryKey(it.Key())
		if !ok {
			return nil, errors.Join(fmt.Errorf("due expiries: key %x: %w", it.Key(), ErrCorrupt), it.Close())
		}
		out = append(out, due)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("due expiries: %w", err)
	}
	return out, nil
}

// NextExpiry returns the earliest scheduled expiry (unix nanos), ok=false
// when nothing is scheduled.
func (s *Store) NextExpiry() (int64, bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixExpiry}, UpperBound: []byte{prefixExpiry + 1}})
	if err != nil {
		return 0, false, fmt.Errorf("next expiry: %w", err)
	}
	defer it.Close()
	if !it.First() {
		return 0, false, it.Error()
	}
	return int64(binary.BigEndian.Uint64(it.Key()[1:9])), true, nil
}

// WatchEntry is one watched deposit address.
type WatchEntry struct {
	Address string
	Invoice uuid.UUID
	Until   int64 // unix nanos; 0 = while the invoice is open
}

// Watches calls fn for every watched address of currency, in address order.
func (s *Store) Watches(currency string, fn func(WatchEntry) error) error {
	if err := checkString("currency", currency); err != nil {
		return err
	}
	prefix := appendStr([]byte{prefixWatch}, currency)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("watches %s: %w", currency, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err == nil && len(v) != 24 {
			err = fmt.Errorf("watch record %x: %d bytes: %w", it.Key(), len(v), ErrCorrupt)
		}
		if err == nil {
			err = fn(WatchEntry{Address: string(it.Key()[len(prefix):]), Invoice: uuid.UUID(v[:16]), Until: int64(binary.BigEndian.Uint64(v[16:]))})
		}
		if err != nil {
			return errors.Join(fmt.Errorf("watches %s: %w", currency, err), it.Close())
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("watches %s: %w", currency, err)
	}
	return nil
}

// Unwatch removes a watched address whose watch period ended (synced).
func (s *Store) Unwatch(currency, address string) error {
	if err := s.db.Delete(watchKey(currency, address), syncWrite); err != nil {
		return fmt.Errorf("unwatch %s %s: %w", currency, address, err)
	}
	return nil
}

// PutChainState durably stores a chain monitor's state record for network.
func (s *Store) PutChainState(network string, state []byte) error {
	if err := s.db.Set(chainKey(network), state, syncWrite); err != nil {
		return fmt.Errorf("save %s chain state: %w", network, err)
	}
	return nil
}

// chainKey is the key of network's chain state.
func chainKey(network string) []byte { return append([]byte{prefixChain}, network...) }

// ChainState returns the state record stored for network (ErrNotFound).
func (s *Store) ChainState(network string) ([]byte, error) {
	v, err := s.get(chainKey(network))
	if err != nil {
		return nil, fmt.Errorf("load %s chain state: %w", network, err)
	}
	return v, nil
}
