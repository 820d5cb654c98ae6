package ethereum

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/invoiced/invoiced/chain/evm"
)

// The JSON-RPC encodings this package reads: quantities are "0x" and hex
// digits, data and hashes are "0x" and an even number of hex digits. Each
// type below validates as it decodes, so garbage from a node is an error
// at the field it is in, never a zero that looks like a value.

// address is a 20-byte account. String gives its EIP-55 form, the form
// chain/hd and chain/devchain hand out, so outputs compare equal to watched
// addresses as strings.
type address [20]byte

func (a address) String() string { return evm.ChecksumAddress(a) }

// parseAddress reads a configured address: "0x" and 40 hex digits, all
// lower case, all upper case, or mixed case with a valid EIP-55 checksum.
func parseAddress(s string) (address, error) {
	var a address
	if len(s) != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return a, fmt.Errorf("%q: want 0x and 40 hex digits", s)
	}
	if _, err := hex.Decode(a[:], []byte(s[2:])); err != nil {
		return a, fmt.Errorf("%q: want 0x and 40 hex digits", s)
	}
	digits := s[2:]
	hasLower, hasUpper := false, false
	for i := 0; i < len(digits); i++ {
		switch c := digits[i]; {
		case c >= 'a' && c <= 'f':
			hasLower = true
		case c >= 'A' && c <= 'F':
			hasUpper = true
		}
	}
	if hasLower && hasUpper && a.String()[2:] != digits {
		return a, fmt.Errorf("%q: bad EIP-55 checksum (a character is mistyped); want %s", s, a)
	}
	return a, nil
}

// word is a 32-byte hash (block, transaction) or log topic.
type word [32]byte

// String gives the lower-case "0x" form used for TxID and block hashes.
func (w word) String() string {
	var buf [66]byte
	buf[0], buf[1] = '0', 'x'
	hex.Encode(buf[2:], w[:])
	return string(buf[:])
}

// address reads a topic holding an ABI-encoded address: 12 zero bytes and
// the address. Anything else is not an address.
func (w word) address() (address, bool) {
	var a address
	for _, b := range w[:12] {
		if b != 0 {
			return a, false
		}
	}
	copy(a[:], w[12:])
	return a, true
}

var errNotString = errors.New("not a JSON string")

// hexDigits returns the digits of a JSON string "0x...".
func hexDigits(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, errNotString
	}
	s := b[1 : len(b)-1]
	if len(s) < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return nil, fmt.Errorf("%s: want a 0x prefix", truncate(s))
	}
	return s[2:], nil
}

// decodeFixed decodes a JSON hex string of exactly len(dst) bytes.
func decodeFixed(dst []byte, b []byte) error {
	d, err := hexDigits(b)
	if err != nil {
		return err
	}
	if len(d) != 2*len(dst) {
		return fmt.Errorf("%s: want %d hex digits", truncate(d), 2*len(dst))
	}
	if _, err := hex.Decode(dst, d); err != nil {
		return fmt.Errorf("%s: %w", truncate(d), err)
	}
	return nil
}

func (w *word) UnmarshalJSON(b []byte) error { return decodeFixed(w[:], b) }

func (a *address) UnmarshalJSON(b []byte) error { return decodeFixed(a[:], b) }

// optAddress is a transaction's "to": null for a contract creation.
type optAddress struct {
	set  bool
	addr address
}

func (o *optAddress) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = optAddress{}
		return nil
	}
	if err := o.addr.UnmarshalJSON(b); err != nil {
		return err
	}
	o.set = true
	return nil
}

// quantity is a JSON-RPC quantity that fits 64 bits: heights, indexes,
// timestamps, status.
type quantity uint64

func (q *quantity) UnmarshalJSON(b []byte) error {
	d, err := quantityDigits(b, 64)
	if err != nil {
		return err
	}
	var v uint64
	for _, c := range d {
		v = v<<4 | uint64(fromHex(c))
	}
	*q = quantity(v)
	return nil
}

// amount is a JSON-RPC quantity of up to 256 bits: a value in wei. Zero is
// kept as nil, so the common zero-value call allocates nothing; set tells
// zero from absent.
type amount struct {
	v   *big.Int
	set bool
}

func (a *amount) UnmarshalJSON(b []byte) error {
	d, err := quantityDigits(b, 256)
	if err != nil {
		return err
	}
	a.v, a.set = nil, true
	if len(d) == 0 {
		return nil
	}
	if len(d) <= 16 {
		var v uint64
		for _, c := range d {
			v = v<<4 | uint64(fromHex(c))
		}
		a.v = new(big.Int).SetUint64(v)
		return nil
	}
	a.v, _ = new(big.Int).SetString(string(d), 16) // digits checked above
	return nil
}

// positive reports whether a holds more than zero.
func (a amount) positive() bool { return a.v != nil && a.v.Sign() > 0 }

// quantityDigits returns the significant hex digits of a quantity (none for
// zero), checking that they are hex and fit bits.
func quantityDigits(b []byte, bits int) ([]byte, error) {
	d, err := hexDigits(b)
	if err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, errors.New(`quantity "0x" has no digits`)
	}
	for _, c := range d {
		if fromHex(c) > 15 {
			return nil, fmt.Errorf("quantity %s: not hex", truncate(d))
		}
	}
	for len(d) > 0 && d[0] == '0' {
		d = d[1:]
	}
	if len(d) > bits/4 {
		return nil, fmt.Errorf("quantity %s: over %d bits", truncate(d), bits)
	}
	return d, nil
}

// fromHex returns the value of one hex digit, or 255.
func fromHex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// data is a JSON-RPC byte string such as a log's data.
type data []byte

func (d *data) UnmarshalJSON(b []byte) error {
	digits, err := hexDigits(b)
	if err != nil {
		return err
	}
	if len(digits)%2 != 0 {
		return fmt.Errorf("data %s: odd number of hex digits", truncate(digits))
	}
	*d = make([]byte, len(digits)/2)
	if _, err := hex.Decode(*d, digits); err != nil {
		return fmt.Errorf("data %s: %w", truncate(digits), err)
	}
	return nil
}

// callPrefix is a transaction's input, of which only the first
// callPrefixLen bytes are decoded: enough for transfer and transferFrom,
// without holding a large calldata in memory.
type callPrefix struct {
	head []byte
	len  int // of the whole input, in bytes
}

const callPrefixLen = 4 + 3*32

func (c *callPrefix) UnmarshalJSON(b []byte) error {
	digits, err := hexDigits(b)
	if err != nil {
		return err
	}
	if len(digits)%2 != 0 {
		return fmt.Errorf("input %s: odd number of hex digits", truncate(digits))
	}
	c.len = len(digits) / 2
	head := digits[:min(len(digits), 2*callPrefixLen)]
	c.head = make([]byte, len(head)/2)
	if _, err := hex.Decode(c.head, head); err != nil {
		return fmt.Errorf("input %s: %w", truncate(digits), err)
	}
	// The rest is not decoded, only checked, so malformed input is an
	// error wherever it is.
	for _, d := range digits[len(head):] {
		if fromHex(d) > 15 {
			return fmt.Errorf("input %s: not hex", truncate(digits))
		}
	}
	return nil
}

// truncate keeps error messages short when a value is large.
func truncate(b []byte) string {
	const limit = 120
	if len(b) > limit {
		return fmt.Sprintf("%q...", b[:limit])
	}
	return fmt.Sprintf("%q", b)
}
