package hd

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/invoiced/invoiced/chain"
)

// Set is a chain.Deriver that routes each currency to its own deriver. It is
// immutable and safe for concurrent use when its derivers are.
type Set struct {
	byCurrency map[string]chain.Deriver
}

var _ chain.Deriver = (*Set)(nil)

// NewSet returns a Set deriving currency c with derivers[c]. The map is copied.
//
// It refuses a deriver that cannot derive its currency (a BIP84 for BTC
// registered as LTC) and two currencies that derive the same address, such as
// ETH and USDT from one Ethereum branch: invoices of the two currencies with
// the same index would share an address, and a payment could not be
// attributed. Distinct key streams cannot agree at index 0, so comparing
// index 0 finds every shared stream.
func NewSet(derivers map[string]chain.Deriver) (*Set, error) {
	currencies := slices.Sorted(maps.Keys(derivers)) // deterministic error messages

	byCurrency := make(map[string]chain.Deriver, len(derivers))
	firstAddress := make(map[string]string, len(derivers)) // address at index 0 -> currency
	for _, c := range currencies {
		d := derivers[c]
		if c == "" {
			return nil, errors.New("deriver set: empty currency code")
		}
		if d == nil {
			return nil, fmt.Errorf("deriver set: nil deriver for %s", c)
		}
		addr, err := d.Derive(c, 0)
		if err != nil {
			return nil, fmt.Errorf("deriver set: the deriver for %s cannot derive it: %w", c, err)
		}
		if other, ok := firstAddress[addr]; ok {
			return nil, fmt.Errorf("deriver set: %s and %s derive the same addresses, so a payment to one of them"+
				" could not be attributed to an invoice; give each EVM currency its own branch (BranchETH, BranchUSDT)",
				other, c)
		}
		firstAddress[addr] = c
		byCurrency[c] = d
	}
	return &Set{byCurrency: byCurrency}, nil
}

// Derive derives with the currency's deriver. A currency without one gives an
// error wrapping chain.ErrUnsupportedCurrency.
func (s *Set) Derive(currency string, index uint64) (string, error) {
	d, ok := s.byCurrency[currency]
	if !ok {
		return "", fmt.Errorf("derive %q index %d: %w", currency, index, chain.ErrUnsupportedCurrency)
	}
	return d.Derive(currency, index)
}

// Currencies returns the currencies the set derives, sorted.
func (s *Set) Currencies() []string {
	return slices.Sorted(maps.Keys(s.byCurrency))
}
