package chainwatch

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/bits"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/internal/binenc"
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

// encodeState returns st's binary record. It runs twice per round on the
// round's critical path (BenchmarkEncodeState), so a payment's fields are
// written without allocating.
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
	// recent are the last two names written, looked at before names: a
	// payment writes its currency and then its block hash twice.
	recent [2]struct {
		s string
		i uint64
	}
}

func (e *stateEncoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *stateEncoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *stateEncoder) raw(b []byte)     { e.uvarint(uint64(len(b))); e.b = append(e.b, b...) }

func (e *stateEncoder) name(s string) {
	for _, r := range e.recent {
		if r.i != 0 && r.s == s {
			e.uvarint(r.i)
			return
		}
	}
	i, ok := e.names[s]
	if !ok {
		i = uint64(len(e.names)) + 1
		e.names[s] = i
		e.uvarint(0)
		e.str(s)
	} else {
		e.uvarint(i)
	}
	e.recent[1] = e.recent[0]
	e.recent[0].s, e.recent[0].i = s, i
}

func (e *stateEncoder) txid(s string) {
	start := len(e.b)
	if len(s)%2 == 0 {
		e.b = append(e.b, 1)
		e.uvarint(uint64(len(s) / 2))
		if b, ok := appendLowerHex(e.b, s); ok {
			e.b = b
			return
		}
		e.b = e.b[:start]
	}
	e.b = append(e.b, 0)
	e.str(s)
}

// appendLowerHex appends the bytes of s, an even number of lowercase hex
// digits (which encode back to s), to b; it reports false if s is not.
func appendLowerHex(b []byte, s string) ([]byte, bool) {
	for i := 0; i+1 < len(s); i += 2 {
		hi, lo := fromLowerHex[s[i]], fromLowerHex[s[i+1]]
		if hi > 15 || lo > 15 {
			return b, false
		}
		b = append(b, hi<<4|lo)
	}
	return b, true
}

// fromLowerHex is the value of a lowercase hex digit, 0xff for any other
// byte.
var fromLowerHex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

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
	if v.Sign() > 0 && v.IsUint64() {
		// v.Bytes() without its allocation: the magnitude's big-endian
		// bytes, no leading zeros
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], v.Uint64())
		e.raw(buf[bits.LeadingZeros64(v.Uint64())/8:])
		return
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
	d := stateDecoder{Reader: binenc.NewReader(b[1:])}
	st.Height = d.Uvarint()
	st.Hash = d.name()
	st.Recent = make([]string, d.count())
	for i := range st.Recent {
		st.Recent[i] = d.name()
	}
	st.Pay = make([]*tracked, d.count())
	for i := range st.Pay {
		t := &tracked{Currency: d.name(), TxID: d.txid(), Index: d.Uint32()}
		t.Address = d.str()
		t.Amount = d.amount()
		flags := d.Byte()
		t.RBF, t.Sent = flags&1 != 0, flags&2 != 0
		t.Height = d.Uvarint()
		t.Hash = d.name()
		t.SentHeight = d.Uvarint()
		t.SentHash = d.name()
		t.SentConf = d.Int()
		t.Missing = d.Int()
		st.Pay[i] = t
	}
	if rest := d.Rest(); len(rest) > 0 {
		d.Fail(fmt.Errorf("%d bytes after the record", len(rest)))
	}
	if err := d.Err(); err != nil {
		return monitorState{}, err
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

// stateDecoder reads the binary form (binenc.Reader) and the chain
// state's own fields: names and txids.
type stateDecoder struct {
	binenc.Reader
	names []string
}

// count reads a count of items of at least a byte each.
func (d *stateDecoder) count() int {
	n := d.Uvarint()
	if n > uint64(len(d.Rest())) {
		d.Fail(binenc.ErrShort)
		return 0
	}
	return int(n)
}

func (d *stateDecoder) str() string { return string(d.Bytes()) }

func (d *stateDecoder) name() string {
	i := d.Uvarint()
	switch {
	case d.Err() != nil:
		return ""
	case i == 0:
		s := d.str()
		d.names = append(d.names, s)
		return s
	case i > uint64(len(d.names)):
		d.Fail(errors.New("unknown name in chain state"))
		return ""
	default:
		return d.names[i-1]
	}
}

func (d *stateDecoder) txid() string {
	switch d.Byte() {
	case 0:
		return d.str()
	case 1:
		return hex.EncodeToString(d.Bytes())
	default:
		d.Fail(errors.New("unknown txid form in chain state"))
		return ""
	}
}

func (d *stateDecoder) amount() *big.Int {
	sign := d.Byte()
	v := new(big.Int).SetBytes(d.Bytes())
	switch {
	case sign > 2 || (sign == 0) != (v.Sign() == 0):
		d.Fail(errors.New("corrupt amount in chain state"))
	case sign == 2:
		v.Neg(v)
	}
	return v
}
