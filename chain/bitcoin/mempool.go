package bitcoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// mempoolBatch is how many getrawtransaction calls share one round trip.
const mempoolBatch = 64

// mempoolTx is what Mempool keeps of one decoded mempool transaction.
type mempoolTx struct {
	outputs []chain.Output // RBF is the transaction's own signal
	rbf     bool
	parents []string // txids of the outputs it spends, mempool or not
}

// mempoolCache is the node's mempool as of the last Mempool call, decoded.
// Only Mempool reads and writes it, one call at a time: lock is a one-slot
// semaphore rather than a mutex so that a waiting caller still honours its
// context.
type mempoolCache struct {
	lock chan struct{}
	txs  map[string]*mempoolTx
}

func newMempoolCache() *mempoolCache {
	return &mempoolCache{lock: make(chan struct{}, 1), txs: make(map[string]*mempoolTx)}
}

// Mempool returns every output paying a standard address in the node's
// mempool, ordered by txid then index. See the package documentation for
// what a call costs; the returned Outputs are the caller's to keep.
func (n *Node) Mempool(ctx context.Context) ([]chain.Output, error) {
	c := n.mempool
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("bitcoin mempool: %w", ctx.Err())
	}
	defer func() { <-c.lock }()

	var txids []string
	if err := n.rpc.Call(ctx, "getrawmempool", nil, &txids); err != nil {
		return nil, fmt.Errorf("bitcoin mempool: %w", err)
	}
	current := make(map[string]bool, len(txids))
	var fresh []string
	for _, id := range txids {
		if err := checkHash(id); err != nil {
			return nil, fmt.Errorf("bitcoin mempool: getrawmempool: txid %w", err)
		}
		if current[id] {
			continue
		}
		current[id] = true
		if _, ok := c.txs[id]; !ok {
			fresh = append(fresh, id)
		}
	}
	for id := range c.txs {
		if !current[id] {
			delete(c.txs, id)
		}
	}
	for len(fresh) > 0 {
		k := min(len(fresh), mempoolBatch)
		// What was decoded before an error stays cached: the next call
		// resumes rather than starts over.
		if err := n.fetchMempoolTxs(ctx, fresh[:k]); err != nil {
			return nil, fmt.Errorf("bitcoin mempool: %w", err)
		}
		fresh = fresh[k:]
	}

	sort.Strings(txids)
	memo := make(map[string]bool, len(c.txs))
	var outs []chain.Output
	for i, id := range txids {
		if i > 0 && txids[i-1] == id {
			continue
		}
		tx, ok := c.txs[id]
		if !ok {
			continue // left the mempool before getrawtransaction
		}
		rbf := c.replaceable(id, memo)
		for _, o := range tx.outputs {
			o.Amount = new(big.Int).Set(o.Amount)
			o.RBF = rbf
			outs = append(outs, o)
		}
	}
	return outs, nil
}

// fetchMempoolTxs fetches, decodes and caches the transactions ids in one
// batch. A transaction that left the mempool since getrawmempool is
// skipped.
func (n *Node) fetchMempoolTxs(ctx context.Context, ids []string) error {
	calls := make([]jsonrpc.Call, len(ids))
	for i, id := range ids {
		calls[i] = jsonrpc.Call{Method: "getrawtransaction", Params: []any{id}}
	}
	if err := n.rpc.CallBatch(ctx, calls); err != nil {
		return err
	}
	for i, id := range ids {
		if err := calls[i].Err; err != nil {
			if code, ok := rpcErrorCode(err); ok && code == codeInvalidAddressOrKey {
				continue
			}
			return fmt.Errorf("getrawtransaction %s: %w", id, err)
		}
		raw, err := decodeHexResult(calls[i].Result)
		if err != nil {
			return fmt.Errorf("getrawtransaction %s: %w", id, err)
		}
		tx, err := decodeTx(raw, id, n.mweb)
		if errors.Is(err, errMWEBOnly) {
			// Inside MWEB, or a peg-out: no canonical output until
			// a block's HogEx pays it.
			n.mempool.txs[id] = &mempoolTx{}
			continue
		}
		if err != nil {
			return fmt.Errorf("getrawtransaction %s: %w", id, err)
		}
		n.mempool.txs[id] = n.mempoolEntry(tx, id)
	}
	return nil
}

func (n *Node) mempoolEntry(tx *wire.MsgTx, id string) *mempoolTx {
	rbf := signalsRBF(tx)
	e := &mempoolTx{
		outputs: appendOutputs(nil, tx, id, rbf, n.currency, n.params),
		rbf:     rbf,
		parents: make([]string, 0, len(tx.TxIn)),
	}
	for _, in := range tx.TxIn {
		e.parents = append(e.parents, in.PreviousOutPoint.Hash.String())
	}
	return e
}

// replaceable reports whether the mempool transaction id can be replaced
// under BIP125: it signals, or one of its unconfirmed ancestors does.
// memo holds answers already known; an entry is written false before the
// ancestors are visited, so the walk ends on any input.
func (c *mempoolCache) replaceable(id string, memo map[string]bool) bool {
	if r, ok := memo[id]; ok {
		return r
	}
	tx, ok := c.txs[id]
	if !ok {
		return false // confirmed, or not in the mempool
	}
	memo[id] = false
	r := tx.rbf
	for _, p := range tx.parents {
		if r {
			break
		}
		r = c.replaceable(p, memo)
	}
	memo[id] = r
	return r
}

// decodeTx parses a serialized transaction and checks it is the one asked
// for. With mweb (Litecoin) it may carry MWEB data; an MWEB-only
// transaction gives an error wrapping errMWEBOnly.
func decodeTx(raw []byte, txid string, mweb bool) (*wire.MsgTx, error) {
	r := bytes.NewReader(raw)
	var tx *wire.MsgTx
	var err error
	if mweb {
		tx, err = readTxMWEB(raw, r, false)
	} else {
		tx = new(wire.MsgTx)
		err = tx.Deserialize(r)
	}
	if err != nil {
		return nil, fmt.Errorf("decode transaction: %w", err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("decode transaction: %d bytes after it", r.Len())
	}
	if got := tx.TxHash().String(); got != txid {
		return nil, fmt.Errorf("node sent transaction %s", got)
	}
	return tx, nil
}
