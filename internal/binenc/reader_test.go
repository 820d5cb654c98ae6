package binenc

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// TestReader_FirstProblemSticks: each read takes its field from the front;
// a field the rest cannot hold fails with the first problem kept, and every
// later read returns a zero value without touching what is left.
func TestReader_FirstProblemSticks(t *testing.T) {
	rec := binary.AppendUvarint(nil, 300)
	rec = binary.AppendVarint(rec, -5)
	rec = append(rec, 7)
	rec = binary.AppendUvarint(rec, 3)
	rec = append(rec, "abc"...)
	for _, tc := range []struct {
		name string
		b    []byte
		read func(r *Reader) any
		want any
		err  string // "" = no problem
	}{
		{"uvarint", rec, func(r *Reader) any { return r.Uvarint() }, uint64(300), ""},
		{"varint", rec[2:], func(r *Reader) any { return r.Varint() }, int64(-5), ""},
		{"byte", rec[3:], func(r *Reader) any { return r.Byte() }, byte(7), ""},
		{"bytes", rec[4:], func(r *Reader) any { return string(r.Bytes()) }, "abc", ""},
		{"take", rec[5:], func(r *Reader) any { return string(r.Take(2)) }, "ab", ""},
		{"empty uvarint", nil, func(r *Reader) any { return r.Uvarint() }, uint64(0), ErrShort.Error()},
		{"cut varint", []byte{0x80}, func(r *Reader) any { return r.Varint() }, int64(0), ErrShort.Error()},
		{"empty byte", nil, func(r *Reader) any { return r.Byte() }, byte(0), ErrShort.Error()},
		{"length past the end", rec[4:6], func(r *Reader) any { return r.Bytes() == nil }, true, ErrShort.Error()},
		{"huge length", binary.AppendUvarint(nil, math.MaxUint64), func(r *Reader) any { return r.Bytes() == nil }, true, ErrShort.Error()},
		{"take past the end", rec[5:], func(r *Reader) any { return r.Take(4) == nil }, true, ErrShort.Error()},
		{"int32 range", binary.AppendVarint(nil, math.MaxInt32+1), func(r *Reader) any { return r.Int() }, 0, "integer out of range"},
		{"int32 edge", binary.AppendVarint(nil, math.MinInt32), func(r *Reader) any { return r.Int() }, math.MinInt32, ""},
		{"uint32 range", binary.AppendUvarint(nil, math.MaxUint32+1), func(r *Reader) any { return r.Uint32() }, uint32(0), "index out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.b)
			if got := tc.read(&r); got != tc.want {
				t.Fatalf("read %v, want %v", got, tc.want)
			}
			if tc.err == "" {
				if r.Err() != nil {
					t.Fatalf("problem %v", r.Err())
				}
				return
			}
			if r.Err() == nil || r.Err().Error() != tc.err {
				t.Fatalf("problem %v, want %q", r.Err(), tc.err)
			}
			if len(r.Rest()) != 0 || r.Uvarint() != 0 || r.Byte() != 0 {
				t.Fatal("a read after the problem found bytes")
			}
			r.Fail(errors.New("later"))
			if r.Err().Error() != tc.err {
				t.Fatalf("a later problem replaced the first: %v", r.Err())
			}
		})
	}
}
