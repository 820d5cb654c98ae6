package chainwatch

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/invoiced/invoiced/chain"
)

// The chain state record. A monitor writes its whole state twice in a
// round that finds payments (write-ahead, then with the new cursor), so
// with a 10,000-output block the record is rewritten at 10,000 payments
// each time: as JSON that was ~560 bytes per payment of the round's WAL
// (a third of it, beside the invoices' own commits) and ~15 ms of
// marshalling per save on the round's critical path. The binary form
// (format byte 2; JSON records, which start with '{', stay readable):
//
//	uvarint   height, counts, indexes
//	varint    signed integers
//	str       uvarint length, bytes
//	name      a string met before in the record is uvarint i+1 (its
//	          position in the record's list of names); a new one is 0
//	          then str, and joins the list (block hashes and currencies,
//	          which all of a block's payments repeat)
//	txid      byte 1 then str of the bytes of a lowercase hex id, or byte
//	          0 then str
//
// and the record: 2, uvarint height, name hash, uvarint n, n × name
// (recent), uvarint n, n × payment: name currency, txid, uvarint index,
// str address, byte sign (0 zero, 1 positive, 2 negative), str magnitude
// of the amount, byte flags (1 rbf, 2 sent), uvarint height, name hash,
// uvarint sent height, name sent hash, varint sent confirmations, varint
// missing. Every length and count is checked against what is left, so a
// corrupt record is an error, never a panic or a huge allocation.
const stateFormat = 2

// encodeState returns st's binary record.
func encodeState(st monitorState) []byte {
	e := stateEncoder{b: make([]byte, 0, 256+len(st.Pay)*96), names: map[string]uint64{}}
	e.b = append(e.b, stateFormat)
	e.uvarint(st.Height)
	e.name(st.Hash)
	e.uvarint(uint64(len(st.Recent)))
	for _, h := range st.Recent {
		e.name(h)
	}
	e.uvarint(uint64(len(st.Pay)))
	for _, t := range st.Pay {
		e.name(t.Currency)
		e.txid(t.TxID)
		e.uvarint(uint64(t.Index))
		e.str(t.Address)
		e.amount(t.Amount)
		var flags byte
		if t.RBF {
			flags |= 1
		}
		if t.Sent {
			flags |= 2
		}
		e.b = append(e.b, flags)
		e.uvarint(t.Height)
		e.name(t.Hash)
		e.uvarint(t.SentHeight)
		e.name(t.SentHash)
		e.b = binary.AppendVarint(e.b, int64(t.SentConf))
		e.b = binary.AppendVarint(e.b, int64(t.Missing))
	}
	return e.b
}

type stateEncoder struct {
	b     []byte
	names map[string]uint64
}

func (e *stateEncoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *stateEncoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *stateEncoder) raw(b []byte)     { e.uvarint(uint64(len(b))); e.b = append(e.b, b...) }

func (e *stateEncoder) name(s string) {
	if i, ok := e.names[s]; ok {
		e.uvarint(i)
		return
	}
	e.names[s] = uint64(len(e.names)) + 1
	e.uvarint(0)
	e.str(s)
}

func (e *stateEncoder) txid(s string) {
	if !lowerHex(s) {
		e.b = append(e.b, 0)
		e.str(s)
		return
	}
	e.b = append(e.b, 1)
	e.uvarint(uint64(len(s) / 2))
	e.b, _ = hex.AppendDecode(e.b, []byte(s)) // checked by lowerHex
}

// lowerHex reports whether s is lowercase hex of whole bytes, which
// encodes back to itself.
func lowerHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (e *stateEncoder) amount(v *big.Int) {
	if v == nil {
		v = new(big.Int)
	}
	switch v.Sign() {
	case 0:
		e.b = append(e.b, 0)
	case 1:
		e.b = append(e.b, 1)
	default:
		e.b = append(e.b, 2)
	}
	e.raw(v.Bytes())
}

// decodeState reads a chain state record, binary or JSON.
func decodeState(b []byte) (monitorState, error) {
	var st monitorState
	if len(b) > 0 && b[0] == '{' {
		err := json.Unmarshal(b, &st)
		return st, err
	}
	if len(b) == 0 || b[0] != stateFormat {
		return st, errors.New("unknown chain state format")
	}
	d := stateDecoder{b: b[1:]}
	st.Height = d.uvarint()
	st.Hash = d.name()
	st.Recent = make([]string, d.count())
	for i := range st.Recent {
		st.Recent[i] = d.name()
	}
	st.Pay = make([]*tracked, d.count())
	for i := range st.Pay {
		t := &tracked{Currency: d.name(), TxID: d.txid()}
		if idx := d.uvarint(); idx <= 1<<32-1 {
			t.Index = uint32(idx)
		} else {
			d.fail(errors.New("output index out of range"))
		}
		t.Address = d.str()
		t.Amount = d.amount()
		flags := d.byte()
		t.RBF, t.Sent = flags&1 != 0, flags&2 != 0
		t.Height = d.uvarint()
		t.Hash = d.name()
		t.SentHeight = d.uvarint()
		t.SentHash = d.name()
		t.SentConf = d.int()
		t.Missing = d.int()
		st.Pay[i] = t
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Errorf("%d bytes after the record", len(d.b)))
	}
	if d.err != nil {
		return monitorState{}, d.err
	}
	return st, nil
}

// CursorOf returns the cursor (height and hash) a stored chain state
// record holds.
func CursorOf(state []byte) (chain.Cursor, error) {
	st, err := decodeState(state)
	if err != nil {
		return chain.Cursor{}, fmt.Errorf("chain state: %w", err)
	}
	return chain.Cursor{Height: st.Height, Hash: st.Hash}, nil
}

type stateDecoder struct {
	b     []byte
	names []string
	err   error
}

var errShortState = errors.New("chain state record ends early")

func (d *stateDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *stateDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShortState)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int reads a varint that must fit an int32 (confirmations, rounds).
func (d *stateDecoder) int() int {
	v, n := binary.Varint(d.b)
	if n <= 0 || v < -1<<31 || v > 1<<31-1 {
		d.fail(errShortState)
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *stateDecoder) byte() byte {
	if len(d.b) == 0 {
		d.fail(errShortState)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// count reads a count of items of at least a byte each.
func (d *stateDecoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShortState)
		return 0
	}
	return int(n)
}

func (d *stateDecoder) bytes() []byte {
	n := d.count()
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *stateDecoder) str() string { return string(d.bytes()) }

func (d *stateDecoder) name() string {
	i := d.uvarint()
	switch {
	case d.err != nil:
		return ""
	case i == 0:
		s := d.str()
		d.names = append(d.names, s)
		return s
	case i > uint64(len(d.names)):
		d.fail(errors.New("unknown name in chain state"))
		return ""
	default:
		return d.names[i-1]
	}
}

func (d *stateDecoder) txid() string {
	switch d.byte() {
	case 0:
		return d.str()
	case 1:
		return hex.EncodeToString(d.bytes())
	default:
		d.fail(errors.New("unknown txid form in chain state"))
		return ""
	}
}

func (d *stateDecoder) amount() *big.Int {
	sign := d.byte()
	v := new(big.Int).SetBytes(d.bytes())
	switch {
	case sign > 2 || (sign == 0) != (v.Sign() == 0):
		d.fail(errors.New("corrupt amount in chain state"))
	case sign == 2:
		v.Neg(v)
	}
	return v
}
