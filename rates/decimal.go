package rates

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxFractionDigits bounds a rate's precision. 18 matches the smallest unit of
// ETH (wei), the finest of the supported currencies, and keeps rates well within
// what the engine's exact arithmetic has to carry.
const maxFractionDigits = 18

// validateRate accepts a positive decimal written as digits, optionally
// followed by '.' and at least one digit: "60000", "0.92", "61000.50". It
// rejects signs, exponents, spaces, a bare or leading or trailing '.', more than
// maxFractionDigits fractional digits, and any spelling of zero. Leading zeros
// are accepted; the string is kept exactly as written.
func validateRate(s string) error {
	if s == "" {
		return errors.New("empty rate")
	}
	intDigits, fracDigits, nonZero := 0, 0, false
	seenDot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if seenDot {
				fracDigits++
			} else {
				intDigits++
			}
			if c != '0' {
				nonZero = true
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return fmt.Errorf("rate %q: want a positive decimal like 60000.00 (digits, optional '.' and digits)", s)
		}
	}
	if intDigits == 0 || (seenDot && fracDigits == 0) {
		return fmt.Errorf("rate %q: want digits on both sides of '.'", s)
	}
	if fracDigits > maxFractionDigits {
		return fmt.Errorf("rate %q: %d fractional digits, at most %d", s, fracDigits, maxFractionDigits)
	}
	if !nonZero {
		return fmt.Errorf("rate %q: must be greater than zero", s)
	}
	return nil
}

// validateCode accepts a currency code of upper-case ASCII letters and digits,
// the form used throughout the API ("BTC", "USDT").
func validateCode(code string) error {
	if code == "" {
		return errors.New("empty currency code")
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return fmt.Errorf("currency code %q: want upper-case letters and digits", code)
		}
	}
	return nil
}

// maxExponent bounds the exponent of a provider's number written in
// scientific form ("1.5e-7"). Rates that survive validateRate fit well inside
// it; a bigger one would only make us build a huge string to reject it.
const maxExponent = 40

// providerDecimal turns the text of a number from a provider's JSON (a JSON
// number's literal, or a string holding one) into a rate as validateRate
// accepts it. Plain decimals are kept exactly as written, trailing zeros
// included. Scientific forms such as "6.1e4" or "9.2E-1" are rewritten to plain
// decimals digit by digit, so the value stays exact ("61000", "0.92"); trailing
// fractional zeros of such a rewrite are dropped. Anything else, and any value
// validateRate refuses, is an error.
func providerDecimal(s string) (string, error) {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		if err := validateRate(s); err != nil {
			return "", err
		}
		return s, nil
	}
	mant, expText := s[:i], s[i+1:]
	if err := validateUnsignedDecimal(mant); err != nil {
		return "", fmt.Errorf("rate %q: mantissa: %w", s, err)
	}
	exp, err := strconv.Atoi(expText)
	if err != nil {
		return "", fmt.Errorf("rate %q: bad exponent", s)
	}
	if exp > maxExponent || exp < -maxExponent {
		return "", fmt.Errorf("rate %q: exponent out of range ±%d", s, maxExponent)
	}
	intPart, fracPart, _ := strings.Cut(mant, ".")
	digits := intPart + fracPart
	point := len(intPart) + exp // position of '.' within digits
	var plain string
	switch {
	case point <= 0:
		plain = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		plain = digits + strings.Repeat("0", point-len(digits))
	default:
		plain = digits[:point] + "." + digits[point:]
	}
	if strings.Contains(plain, ".") {
		plain = strings.TrimRight(plain, "0")
		plain = strings.TrimSuffix(plain, ".")
	}
	// Leading zeros of the integer part: keep one before '.'.
	plain = strings.TrimLeft(plain, "0")
	if plain == "" || plain[0] == '.' {
		plain = "0" + plain
	}
	if err := validateRate(plain); err != nil {
		return "", fmt.Errorf("rate %q: %w", s, err)
	}
	return plain, nil
}

// validateUnsignedDecimal accepts digits with an optional '.' and digits on
// both sides of it; zero is allowed (validateRate decides on the whole value).
func validateUnsignedDecimal(s string) error {
	intPart, fracPart, hasDot := strings.Cut(s, ".")
	if intPart == "" || hasDot && fracPart == "" {
		return fmt.Errorf("%q: want digits on both sides of '.'", s)
	}
	for _, part := range []string{intPart, fracPart} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return fmt.Errorf("%q: want digits", s)
			}
		}
	}
	return nil
}

// compareRates orders two valid rates (see validateRate) by value: -1, 0 or
// +1. It compares the digits as text, without allocating: the integer parts by
// length and then digit by digit once leading zeros are gone, then the
// fractional parts digit by digit once trailing zeros are gone.
func compareRates(a, b string) int {
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	ai, bi = strings.TrimLeft(ai, "0"), strings.TrimLeft(bi, "0")
	if len(ai) != len(bi) {
		return cmp.Compare(len(ai), len(bi))
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	return strings.Compare(strings.TrimRight(af, "0"), strings.TrimRight(bf, "0"))
}
