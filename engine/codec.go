package engine

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/invoiced/invoiced/internal/binenc"
)

// The stored encoding of events and snapshots is one format byte followed
// by the body: 2 is the binary form (binary.go), written since it replaced
// 1, a JSON body, which stays readable so stores written before keep
// working. The format byte lets a later format coexist the same way.
const (
	formatJSON   = 1
	formatBinary = 2
)

// ErrCorrupt marks a stored record that cannot be decoded.
var ErrCorrupt = errors.New("corrupt record")

// EncodeEvent encodes e for storage: [format][kind][body].
func EncodeEvent(e Event) ([]byte, error) {
	enc := encoder{b: make([]byte, 0, eventSizeHint(e))}
	enc.b = append(enc.b, formatBinary, byte(e.Kind()))
	if err := enc.event(e); err != nil {
		return nil, fmt.Errorf("encode event %T: %w", e, err)
	}
	return enc.b, nil
}

// eventSizeHint is room for e's encoding, so the buffer is allocated once:
// a creation event is about 240 bytes beside its variable strings, and
// starting every event at 256 bytes grew it (an allocation and a copy) as
// soon as an order carried a callback URL.
func eventSizeHint(e Event) int {
	c, ok := e.(Created)
	if !ok {
		return 256
	}
	inv := c.Invoice
	return 256 + len(inv.OrderID) + len(inv.OrderName) + len(inv.CallbackURL) + len(inv.RedirectURL) + len(inv.Address)
}

// DecodeEvent is the inverse of EncodeEvent, for either format.
func DecodeEvent(b []byte) (Event, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("decode event: %w: too short", ErrCorrupt)
	}
	kind, body := EventKind(b[1]), b[2:]
	switch b[0] {
	case formatBinary:
		d := decoder{Reader: binenc.NewReader(body)}
		e := d.event(kind)
		if err := d.end(); err != nil {
			return nil, fmt.Errorf("decode event kind %d: %w: %v", kind, ErrCorrupt, err)
		}
		return e, nil
	case formatJSON:
		return decodeJSONEvent(kind, body)
	default:
		return nil, fmt.Errorf("decode event: %w: unknown format %d", ErrCorrupt, b[0])
	}
}

func decodeJSONEvent(kind EventKind, body []byte) (Event, error) {
	var (
		e   Event
		err error
	)
	switch kind {
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
		return nil, fmt.Errorf("decode event: %w: unknown kind %d", ErrCorrupt, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("decode event kind %d: %w: %v", kind, ErrCorrupt, err)
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
func EncodeSnapshot(inv Invoice) []byte {
	enc := encoder{b: make([]byte, 0, 256)}
	enc.b = append(enc.b, formatBinary)
	enc.invoice(inv)
	return enc.b
}

// DecodeSnapshot is the inverse of EncodeSnapshot, for either format.
func DecodeSnapshot(b []byte) (Invoice, error) {
	if len(b) < 1 {
		return Invoice{}, fmt.Errorf("decode snapshot: %w: empty", ErrCorrupt)
	}
	switch b[0] {
	case formatBinary:
		d := decoder{Reader: binenc.NewReader(b[1:])}
		inv := d.invoice()
		if err := d.end(); err != nil {
			return Invoice{}, fmt.Errorf("decode snapshot: %w: %v", ErrCorrupt, err)
		}
		return inv, nil
	case formatJSON:
		var inv Invoice
		if err := json.Unmarshal(b[1:], &inv); err != nil {
			return Invoice{}, fmt.Errorf("decode snapshot: %w: %v", ErrCorrupt, err)
		}
		return inv, nil
	default:
		return Invoice{}, fmt.Errorf("decode snapshot: %w: unknown format %d", ErrCorrupt, b[0])
	}
}
