package engine

import (
	"fmt"
	"math/big"
	"strings"
	"time"
)

// FiatDecimals is the number of decimals of the fiat currencies we price in
// (EUR cents).
const FiatDecimals = 2

// FiatCurrencies lists the accepted fiat_currency codes.
var FiatCurrencies = []string{"EUR"}

// Rate is the price of one whole coin in fiat, locked on the invoice at
// creation so later market moves never change what is owed.
type Rate struct {
	Fiat   string    `json:"fiat"`
	Value  string    `json:"value"` // exact decimal text, e.g. "60000.12"
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

// parseRate splits a positive decimal rate into an integer and a power of
// ten: value = num / 10^scale.
func parseRate(s string) (num *big.Int, scale int, err error) {
	mant, exp, neg, err := splitDecimal(s)
	if err != nil || neg {
		return nil, 0, fmt.Errorf("invalid rate %q", s)
	}
	digits := strings.TrimLeft(mant, "0")
	if digits == "" {
		return nil, 0, fmt.Errorf("rate %q must be positive", s)
	}
	num, _ = new(big.Int).SetString(digits, 10)
	if exp > 0 {
		num.Mul(num, pow10(exp))
		exp = 0
	}
	return num, -exp, nil
}

// FiatToUnits converts a fiat amount in cents to the smallest units of a
// currency with the given decimals at rate (fiat per coin), rounding up so
// the merchant never receives less than it priced:
//
//	units = ceil(cents * 10^decimals * 10^scale / (num * 10^FiatDecimals))
func FiatToUnits(cents Units, rate string, decimals int) (Units, error) {
	num, scale, err := parseRate(rate)
	if err != nil {
		return Units{}, err
	}
	n := new(big.Int).Mul(cents.big(), pow10(decimals+scale))
	d := new(big.Int).Mul(num, pow10(FiatDecimals))
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return Units{q}, nil
}
