package rates

import (
	"errors"
	"fmt"
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
