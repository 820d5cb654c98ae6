// Package binenc reads the fields of invoiced's binary records (the
// engine's events and snapshots, a chain monitor's state): varints and
// length-prefixed bytes, so both formats check what is left the same way
// and a corrupt record is an error, never a panic or a huge allocation.
// Each record's layout is documented beside the code that writes it.
package binenc

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrShort is a record that ends before its fields do.
var ErrShort = errors.New("record ends early")

// Reader reads fields from the front of a record. The first problem sticks
// (Err) and empties the rest, so every later read returns a zero value and
// a decoder checks once, at the end. The zero value reads an empty record.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader of b; the slices it returns are b's.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Err is the first problem met, or nil.
func (r *Reader) Err() error { return r.err }

// Rest is what is left to read.
func (r *Reader) Rest() []byte { return r.b }

// Fail records err unless a problem came first, and ends the reading.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 { return readVarint(r, binary.Uvarint) }

// Varint reads a signed varint.
func (r *Reader) Varint() int64 { return readVarint(r, binary.Varint) }

// readVarint reads one value with read (binary.Uvarint or binary.Varint).
// Passed as a value, read keeps Uvarint and Varint within the inlining
// budget, and the compiler then inlines binary.Uvarint itself at each
// field: written out as calls, decoding an invoice took ~6 % more
// instructions (callgrind).
func readVarint[T uint64 | int64](r *Reader, read func([]byte) (T, int)) T {
	v, n := read(r.b)
	if n <= 0 {
		r.Fail(ErrShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Int reads a varint that must fit an int32 (confirmations, percentages,
// minutes).
func (r *Reader) Int() int {
	v := r.Varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.Fail(errors.New("integer out of range"))
		return 0
	}
	return int(v)
}

// Uint32 reads a uvarint that must fit a uint32 (output indexes).
func (r *Reader) Uint32() uint32 {
	v := r.Uvarint()
	if v > math.MaxUint32 {
		r.Fail(errors.New("index out of range"))
		return 0
	}
	return uint32(v)
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) == 0 {
		r.Fail(ErrShort)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Take reads the next n bytes.
func (r *Reader) Take(n int) []byte {
	if n > len(r.b) {
		r.Fail(ErrShort)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// Bytes reads a uvarint length and that many bytes. The length is checked
// against what is left before anything is taken.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.b)) {
		r.Fail(ErrShort)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
