package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Units is an exact, non-negative-by-convention amount in a currency's
// smallest unit (satoshi, wei, token unit, cent). The zero value is 0.
//
// Units is immutable: every operation returns a new value, so a Units can be
// copied and shared between goroutines freely. It wraps math/big because wei
// amounts overflow 64 bits (18.5 ETH is more than 2^64 wei).
type Units struct{ v *big.Int }

// NewUnits returns n units.
func NewUnits(n int64) Units { return Units{big.NewInt(n)} }

// UnitsFromBig returns a copy of b as Units.
func UnitsFromBig(b *big.Int) Units { return Units{new(big.Int).Set(b)} }

// ParseUnits parses a base-10 integer string of smallest units.
func ParseUnits(s string) (Units, error) {
	if s == "" || len(s) > maxDigits {
		return Units{}, fmt.Errorf("invalid integer amount %q", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return Units{}, fmt.Errorf("invalid integer amount %q", s)
		}
	}
	b, _ := new(big.Int).SetString(s, 10)
	return Units{b}, nil
}

func (u Units) big() *big.Int {
	if u.v == nil {
		return new(big.Int)
	}
	return u.v
}

// Big returns a copy of u as a big.Int.
func (u Units) Big() *big.Int { return new(big.Int).Set(u.big()) }

// Add returns u + o.
func (u Units) Add(o Units) Units { return Units{new(big.Int).Add(u.big(), o.big())} }

// Sub returns u - o.
func (u Units) Sub(o Units) Units { return Units{new(big.Int).Sub(u.big(), o.big())} }

// Cmp compares u and o as -1, 0 or +1.
func (u Units) Cmp(o Units) int { return u.big().Cmp(o.big()) }

// Sign returns -1, 0 or +1.
func (u Units) Sign() int { return u.big().Sign() }

// IsZero reports whether u is 0.
func (u Units) IsZero() bool { return u.Sign() == 0 }

// String returns the integer in base 10.
func (u Units) String() string {
	// Most amounts (satoshi, token units, cents, small wei amounts) fit a
	// uint64, whose formatting costs a fifth of big.Int's.
	if u.v == nil {
		return "0"
	}
	b := u.v
	if b.IsUint64() {
		return strconv.FormatUint(b.Uint64(), 10)
	}
	return b.String()
}

// MarshalJSON writes the integer as a JSON string so no decoder rounds it.
func (u Units) MarshalJSON() ([]byte, error) { return []byte(`"` + u.String() + `"`), nil }

// UnmarshalJSON reads the form MarshalJSON writes.
func (u *Units) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	p, err := ParseUnits(s)
	if err != nil {
		return err
	}
	*u = p
	return nil
}

// maxDigits bounds decimal input so a hostile "1e999999" or a megabyte of
// digits cannot make us allocate huge integers.
const maxDigits = 60

// Errors of ParseDecimal, wrapped with the offending text.
var (
	ErrBadDecimal     = errors.New("not a decimal number")
	ErrNegative       = errors.New("must not be negative")
	ErrTooPrecise     = errors.New("too many decimal places")
	ErrAmountTooLarge = errors.New("amount too large")
)

// ParseDecimal converts decimal text (as JSON writes numbers: "12", "0.015",
// "1.5e-3") into smallest units of a currency with the given decimals. It is
// exact: "0.1" BTC is 10000000 satoshi, never 9999999. More significant
// decimal places than the currency has is an error, as is a negative number;
// trailing zeros are fine.
func ParseDecimal(s string, decimals int) (Units, error) {
	mant, exp, neg, err := splitDecimal(s)
	if err != nil {
		return Units{}, err
	}
	if neg && strings.Trim(mant, "0") != "" {
		return Units{}, fmt.Errorf("%q: %w", s, ErrNegative)
	}
	// value = mant * 10^exp; units = mant * 10^(exp+decimals).
	shift := exp + decimals
	if shift < 0 {
		cut := -shift
		if cut > len(mant) {
			cut = len(mant)
		}
		if strings.Trim(mant[len(mant)-cut:], "0") != "" {
			return Units{}, fmt.Errorf("%q has more than %d decimal places: %w", s, decimals, ErrTooPrecise)
		}
		mant = mant[:len(mant)-cut]
		shift = 0
	}
	mant = strings.TrimLeft(mant, "0")
	if len(mant)+shift > maxDigits {
		return Units{}, fmt.Errorf("%q: %w", s, ErrAmountTooLarge)
	}
	if mant == "" {
		return NewUnits(0), nil
	}
	b, _ := new(big.Int).SetString(mant+strings.Repeat("0", shift), 10)
	return Units{b}, nil
}

// splitDecimal parses JSON-number-like text into its digits (integer and
// fraction concatenated), the power of ten they are scaled by, and the sign.
func splitDecimal(s string) (mant string, exp int, neg bool, err error) {
	// Built only on failure: formatting it up front cost every valid
	// amount an allocation-heavy Errorf.
	bad := func() error { return fmt.Errorf("%q: %w", s, ErrBadDecimal) }
	if len(s) > 2*maxDigits {
		return "", 0, false, bad()
	}
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[start:i]
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac = s[fs:i]
		if frac == "" {
			return "", 0, false, bad()
		}
	}
	if intPart == "" {
		return "", 0, false, bad()
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if es == i || i-es > 3 {
			return "", 0, false, fmt.Errorf("%q: exponent out of range: %w", s, ErrBadDecimal)
		}
		for _, c := range s[es:i] {
			exp = exp*10 + int(c-'0')
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return "", 0, false, bad()
	}
	return intPart + frac, exp - len(frac), neg, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// FormatDecimal writes units of a currency with the given decimals as decimal
// text without trailing zeros ("0.001", "12"), the exact inverse of
// ParseDecimal.
func FormatDecimal(u Units, decimals int) string {
	var buf [48]byte
	return string(AppendDecimal(buf[:0], u, decimals))
}

// AppendDecimal appends FormatDecimal's text to b. It exists because every
// invoice view formats three or four amounts: building the text in place
// spares the intermediate strings.
func AppendDecimal(b []byte, u Units, decimals int) []byte {
	var buf [48]byte
	digits := buf[:0]
	switch {
	case u.v == nil:
		digits = append(digits, '0')
	case u.v.IsUint64():
		digits = strconv.AppendUint(digits, u.v.Uint64(), 10)
	default:
		digits = u.v.Append(digits, 10)
	}
	if digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	if decimals <= 0 {
		return append(b, digits...)
	}
	cut := max(len(digits)-decimals, 0)
	if cut == 0 {
		b = append(b, '0')
	} else {
		b = append(b, digits[:cut]...)
	}
	frac := bytes.TrimRight(digits[cut:], "0")
	if len(frac) == 0 {
		return b
	}
	b = append(b, '.')
	for range decimals - (len(digits) - cut) { // leading zeros of a fraction shorter than decimals
		b = append(b, '0')
	}
	return append(b, frac...)
}

// Scale18 returns u, an amount with the given decimals, expressed with 18
// decimals, so amounts of different currencies can be ordered by value in
// one index.
func Scale18(u Units, decimals int) *big.Int {
	if decimals >= 18 {
		return u.Big()
	}
	return new(big.Int).Mul(pow10(18-decimals), u.big())
}

// powersOfTen holds 10^0 .. 10^77, more than any currency's decimals plus
// a rate's scale need, so converting an amount computes no power.
var powersOfTen = func() (p [78]*big.Int) {
	p[0] = big.NewInt(1)
	for i := 1; i < len(p); i++ {
		p[i] = new(big.Int).Mul(p[i-1], big.NewInt(10))
	}
	return p
}()

// pow10 returns 10^n, or 1 for n < 0 as big.Int.Exp does. The result may
// be shared: callers must not modify it.
func pow10(n int) *big.Int {
	if n < 0 {
		return powersOfTen[0]
	}
	if n < len(powersOfTen) {
		return powersOfTen[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}
