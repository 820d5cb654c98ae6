package chain

import (
	"context"
	"errors"
	"math/big"
	"time"
)

// Cursor is a position on a chain: a height and the hash of the block at
// that height. A monitor persists its cursor so a restart resumes exactly
// where it stopped, and compares hashes to notice a reorganisation.
type Cursor struct {
	Height uint64
	Hash   string
}

// Output is one payment on a chain: a transaction output (UTXO chains), a
// native value transfer, or a token Transfer log (EVM chains). (Currency,
// TxID, Index) identifies it; a payment is never counted twice because the
// engine keys transactions by that triple.
type Output struct {
	Currency string
	TxID     string
	// Index is the output index (UTXO), 0 for a native EVM transfer, or the
	// position of an ERC-20 Transfer among that token's Transfer logs in the
	// transaction (stable from mempool to block and across reorgs).
	Index   uint32
	Address string
	// Amount is in the currency's smallest unit (satoshi, wei, token units).
	Amount *big.Int
	// RBF is set when a Bitcoin transaction signals replace-by-fee (BIP125):
	// such a payment is never final before it confirms.
	RBF bool
}

// Block is one block of the best chain with every output it confirms (the
// monitor filters them against the watched addresses).
type Block struct {
	Height  uint64
	Hash    string
	Parent  string
	Time    time.Time
	Outputs []Output
}

// ErrNotFound is returned (wrapped) by BlockAt for a height above the tip.
var ErrNotFound = errors.New("not found")

// Node is what a chain monitor needs of one network's node. Adapters
// implement it over JSON-RPC (Bitcoin, EVM) and the dev chain in process.
// The interface is polled on purpose: a monitor asks for the tip, walks the
// blocks above its cursor and compares parent hashes, so missed
// notifications, restarts and reorgs are all handled by the same loop.
type Node interface {
	// Network names the chain, e.g. "bitcoin-regtest", "ethereum-dev".
	Network() string
	// Currencies lists the currency codes whose outputs this node reports.
	Currencies() []string
	// Tip returns the best block's height and hash.
	Tip(ctx context.Context) (Cursor, error)
	// BlockAt returns the block at height on the current best chain
	// (ErrNotFound above the tip).
	BlockAt(ctx context.Context, height uint64) (Block, error)
	// Mempool returns the unconfirmed outputs now in the node's mempool.
	// Adapters may cache decoded transactions by id; an adapter of a chain
	// without a usable mempool view returns nil.
	Mempool(ctx context.Context) ([]Output, error)
}
