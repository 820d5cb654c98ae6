package engine

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The stored encoding of events and snapshots is one format byte followed
// by a JSON body. JSON keeps the log readable by tools and tolerant of added
// fields; the leading byte lets a later format (or a binary one) coexist
// with old records.
const (
	eventFormatJSON    = 1
	snapshotFormatJSON = 1
)

// ErrCorrupt marks a stored record that cannot be decoded.
var ErrCorrupt = errors.New("corrupt record")

// EncodeEvent encodes e for storage: [format][kind][json].
func EncodeEvent(e Event) ([]byte, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %T: %w", e, err)
	}
	out := make([]byte, 0, len(body)+2)
	out = append(out, eventFormatJSON, byte(e.Kind()))
	return append(out, body...), nil
}

// DecodeEvent is the inverse of EncodeEvent.
func DecodeEvent(b []byte) (Event, error) {
	if len(b) < 2 || b[0] != eventFormatJSON {
		return nil, fmt.Errorf("decode event: %w: unknown format", ErrCorrupt)
	}
	var (
		e   Event
		err error
	)
	body := b[2:]
	switch EventKind(b[1]) {
	case KindCreated:
		e, err = decodeAs[Created](body)
	case KindStatusChanged:
		e, err = decodeAs[StatusChanged](body)
	case KindPaymentSeen:
		e, err = decodeAs[PaymentSeen](body)
	case KindPaymentUpdated:
		e, err = decodeAs[PaymentUpdated](body)
	case KindPaymentReverted:
		e, err = decodeAs[PaymentReverted](body)
	default:
		return nil, fmt.Errorf("decode event: %w: unknown kind %d", ErrCorrupt, b[1])
	}
	if err != nil {
		return nil, fmt.Errorf("decode event kind %d: %w: %v", b[1], ErrCorrupt, err)
	}
	return e, nil
}

// decodeAs decodes one event of kind T.
func decodeAs[T Event](body []byte) (Event, error) {
	var v T
	err := json.Unmarshal(body, &v)
	return v, err
}

// EncodeSnapshot encodes the state of an invoice for storage.
func EncodeSnapshot(inv Invoice) ([]byte, error) {
	body, err := json.Marshal(inv)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot %s: %w", inv.ID, err)
	}
	return append([]byte{snapshotFormatJSON}, body...), nil
}

// DecodeSnapshot is the inverse of EncodeSnapshot.
func DecodeSnapshot(b []byte) (Invoice, error) {
	var inv Invoice
	if len(b) < 1 || b[0] != snapshotFormatJSON {
		return inv, fmt.Errorf("decode snapshot: %w: unknown format", ErrCorrupt)
	}
	if err := json.Unmarshal(b[1:], &inv); err != nil {
		return inv, fmt.Errorf("decode snapshot: %w: %v", ErrCorrupt, err)
	}
	return inv, nil
}
