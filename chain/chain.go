// Package chain defines what the invoice engine needs from a blockchain, so the
// actors that allocate deposit addresses depend on a small interface rather than
// on a particular node, wallet or key format.
//
// Two interfaces: Deriver (deposit addresses from an index) and Node (follow
// a network's blocks and mempool). Implementations live in subpackages: the
// dev chain simulator, and adapters for real nodes.
package chain

import "errors"

// ErrUnsupportedCurrency is returned (wrapped) when an implementation is asked
// about a currency it does not handle. Callers test for it with errors.Is.
var ErrUnsupportedCurrency = errors.New("unsupported currency")

// Deriver derives the deposit address with derivation index i for one currency.
// Implementations are deterministic: the same (currency, index) always gives the same address,
// and different indexes give different addresses.
//
// Determinism is what lets the engine persist only the index: after a crash the
// address is derived again, never stored as the sole record. Handing an address
// out twice is prevented by the caller allocating each index once, which is only
// sound because distinct indexes give distinct addresses.
type Deriver interface {
	Derive(currency string, index uint64) (string, error)
}
