package ethereum

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/invoiced/invoiced/chain"
)

// Function selectors of the ERC-20 calls whose recipient and amount
// Mempool reads from calldata.
var (
	selectorTransfer     = [4]byte{0xa9, 0x05, 0x9c, 0xbb} // transfer(address,uint256)
	selectorTransferFrom = [4]byte{0x23, 0xb8, 0x72, 0xdd} // transferFrom(address,address,uint256)
)

// txpoolContent is geth's txpool_content: pending and queued transactions
// by sender and nonce. Queued ones (a nonce gap before them) cannot be
// mined as they stand and are not decoded.
type txpoolContent struct {
	Pending *map[string]map[string]rpcPoolTx `json:"pending"`
}

type rpcPoolTx struct {
	Hash  word       `json:"hash"`
	To    optAddress `json:"to"`
	Value amount     `json:"value"`
	Input callPrefix `json:"input"`
}

// Mempool returns the payments in the node's pending pool, ordered by txid
// then currency: a native output for each transaction with value and a
// recipient, and a token output for each direct call of a configured
// token's transfer or transferFrom. A node without the txpool API (not
// geth, or txpool not in --http.api) has no usable mempool view: Mempool
// returns nil, and payments are seen once mined.
//
// Each call costs one txpool_content: the whole pending pool, input data
// included, so O(pool) bytes per poll. That suits a private or dev node
// and a modest pool; a public mainnet node's pool of thousands of
// transactions makes every poll several megabytes.
func (n *Node) Mempool(ctx context.Context) ([]chain.Output, error) {
	var pool txpoolContent
	err := n.rpc.Call(ctx, "txpool_content", nil, &pool)
	if isMethodNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ethereum mempool: %w", err)
	}
	if pool.Pending == nil {
		return nil, errors.New("ethereum mempool: txpool_content has no pending transactions map")
	}
	var outs []chain.Output
	for _, byNonce := range *pool.Pending {
		for _, tx := range byNonce {
			if tx.Hash == (word{}) || !tx.Value.set {
				return nil, errors.New("ethereum mempool: txpool_content: transaction without hash or value")
			}
			outs = n.appendPoolOutputs(outs, &tx)
		}
	}
	sort.Slice(outs, func(i, j int) bool {
		if outs[i].TxID != outs[j].TxID {
			return outs[i].TxID < outs[j].TxID
		}
		return outs[i].Currency < outs[j].Currency
	})
	return outs, nil
}

// appendPoolOutputs appends what a pending transaction would pay. Its
// token output has Index 0: a direct transfer or transferFrom emits one
// Transfer log, the first (position 0) of its token in the transaction,
// which is the Index BlockAt gives it once mined.
func (n *Node) appendPoolOutputs(outs []chain.Output, tx *rpcPoolTx) []chain.Output {
	if !tx.To.set {
		return outs
	}
	if n.native != "" && tx.Value.positive() {
		outs = append(outs, nativeOutput(n.native, tx.Hash, tx.To.addr, tx.Value))
	}
	currency, ok := n.byContract[tx.To.addr]
	if !ok {
		return outs
	}
	to, value, ok := decodeTransferCall(tx.Input)
	if ok && value.Sign() > 0 {
		outs = append(outs, chain.Output{
			Currency: currency, TxID: tx.Hash.String(), Index: 0,
			Address: to.String(), Amount: value,
		})
	}
	return outs
}

// decodeTransferCall reads the recipient and amount of an ABI-encoded
// transfer(to, value) or transferFrom(from, to, value). Calldata longer
// than the arguments is accepted, as the Solidity decoder does; an address
// argument with dirty high bytes is not (Solidity reverts on it).
func decodeTransferCall(in callPrefix) (address, *big.Int, bool) {
	var args []byte
	switch {
	case in.len >= 4+2*32 && [4]byte(in.head[:4]) == selectorTransfer:
		args = in.head[4 : 4+2*32]
	case in.len >= 4+3*32 && [4]byte(in.head[:4]) == selectorTransferFrom:
		args = in.head[4+32 : 4+3*32]
	default:
		return address{}, nil, false
	}
	to, ok := word(args[:32]).address()
	if !ok {
		return address{}, nil, false
	}
	return to, new(big.Int).SetBytes(args[32:64]), true
}
