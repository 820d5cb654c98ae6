package ethereum

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// Node is a chain.Node backed by an Ethereum JSON-RPC endpoint (geth, or
// any node serving the standard eth_ methods). It is safe for concurrent
// use.
type Node struct {
	rpc        *jsonrpc.Client
	net        string
	native     string
	tokens     []token
	byContract map[address]string // token contract → currency
	logFilter  []string           // token contracts, for eth_getLogs

	// noBlockReceipts is set once the node answers eth_getBlockReceipts
	// with "method not found"; BlockAt then asks per transaction. Written
	// and read by BlockAt only; a race costs one failed call.
	noBlockReceipts atomic.Bool
}

var _ chain.Node = (*Node)(nil)

// New validates cfg and returns a Node. It does not contact the node: the
// monitor's first Tip does, and reports an unreachable node there.
func New(cfg Config) (*Node, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	n := &Node{
		rpc: &jsonrpc.Client{
			URL:              s.endpoint,
			Name:             s.name, // the URL may hold an API key
			User:             s.user,
			Password:         s.password,
			Version:          "2.0",
			Timeout:          s.timeout,
			MaxResponseBytes: maxResponseBytes,
			AuthHint:         "check the credentials or API key in the URL",
		},
		net:        s.net,
		native:     s.native,
		tokens:     s.tokens,
		byContract: make(map[address]string, len(s.tokens)),
	}
	for _, t := range s.tokens {
		n.byContract[t.contract] = t.currency
		n.logFilter = append(n.logFilter, fmt.Sprintf("0x%x", t.contract[:]))
	}
	return n, nil
}

// Network returns Config.Net.
func (n *Node) Network() string { return n.net }

// Currencies returns Config.Native (when set) and then each token's
// currency, in configuration order.
func (n *Node) Currencies() []string {
	var cs []string
	if n.native != "" {
		cs = append(cs, n.native)
	}
	for _, t := range n.tokens {
		cs = append(cs, t.currency)
	}
	return cs
}

// header is the part of a block both Tip and BlockAt read.
type header struct {
	Number     *quantity `json:"number"`
	Hash       *word     `json:"hash"`
	ParentHash *word     `json:"parentHash"`
	Timestamp  *quantity `json:"timestamp"`
}

// check rejects a header with a field missing, so garbage from the node
// never becomes a cursor.
func (h *header) check() error {
	switch {
	case h.Number == nil:
		return errors.New("block has no number")
	case h.Hash == nil:
		return errors.New("block has no hash")
	case h.ParentHash == nil:
		return errors.New("block has no parentHash")
	case h.Timestamp == nil:
		return errors.New("block has no timestamp")
	case uint64(*h.Timestamp) > math.MaxInt64:
		return fmt.Errorf("block timestamp %d out of range", *h.Timestamp)
	}
	return nil
}

// Tip returns the latest block. One eth_getBlockByNumber("latest") gives
// height and hash from the same block, which eth_blockNumber followed by a
// lookup by number would not.
func (n *Node) Tip(ctx context.Context) (chain.Cursor, error) {
	var h header
	if err := n.rpc.Call(ctx, "eth_getBlockByNumber", []any{"latest", false}, &h); err != nil {
		return chain.Cursor{}, fmt.Errorf("ethereum tip: %w", err)
	}
	if err := h.check(); err != nil {
		return chain.Cursor{}, fmt.Errorf("ethereum tip: eth_getBlockByNumber: %w", err)
	}
	return chain.Cursor{Height: uint64(*h.Number), Hash: h.Hash.String()}, nil
}

// BlockAt returns the block at height on the node's best chain with its
// native transfers and token Transfer logs (see the package documentation
// for what is reported). A height above the tip wraps chain.ErrNotFound.
func (n *Node) BlockAt(ctx context.Context, height uint64) (chain.Block, error) {
	// Nodes parse block numbers as int64 and reject larger ones.
	if height > math.MaxInt64 {
		return chain.Block{}, fmt.Errorf("ethereum block %d: %w", height, chain.ErrNotFound)
	}
	var blk rpcBlock
	err := n.rpc.Call(ctx, "eth_getBlockByNumber", []any{hexUint(height), true}, &blk)
	if errors.Is(err, jsonrpc.ErrNull) {
		return chain.Block{}, fmt.Errorf("ethereum block %d: %w", height, chain.ErrNotFound)
	}
	if err != nil {
		return chain.Block{}, fmt.Errorf("ethereum block %d: %w", height, err)
	}
	if err := blk.check(); err != nil {
		return chain.Block{}, fmt.Errorf("ethereum block %d: eth_getBlockByNumber: %w", height, err)
	}
	if uint64(*blk.Number) != height {
		return chain.Block{}, fmt.Errorf("ethereum block %d: node sent block %d", height, *blk.Number)
	}
	hash := *blk.Hash
	// Receipts and logs are asked for by block hash, so a reorg between
	// the calls cannot mix two blocks: everything below describes hash.
	cands := n.nativeCandidates(&blk)
	hashes := make([]word, len(cands))
	for i, tx := range cands {
		hashes[i] = tx.Hash
	}
	succeeded, logs, err := n.fetchDetails(ctx, hash, hashes)
	if err != nil {
		return chain.Block{}, fmt.Errorf("ethereum block %d %s: %w", height, hash, err)
	}
	b, err := n.assemble(&blk, cands, succeeded, logs)
	if err != nil {
		return chain.Block{}, fmt.Errorf("ethereum block %d %s: %w", height, hash, err)
	}
	return b, nil
}

// assemble turns a checked block, its candidates' outcomes and its token
// logs into a chain.Block: native transfers in transaction order, then
// token transfers in log order.
func (n *Node) assemble(blk *rpcBlock, cands []*rpcTx, succeeded map[word]bool, logs []rpcLog) (chain.Block, error) {
	outs := make([]chain.Output, 0, len(cands)+len(logs))
	for _, tx := range cands {
		if succeeded[tx.Hash] {
			outs = append(outs, nativeOutput(n.native, tx.Hash, tx.To.addr, tx.Value))
		}
	}
	outs, err := n.appendTokenOutputs(outs, *blk.Hash, logs)
	if err != nil {
		return chain.Block{}, err
	}
	return chain.Block{
		Height:  uint64(*blk.Number),
		Hash:    blk.Hash.String(),
		Parent:  blk.ParentHash.String(),
		Time:    time.Unix(int64(*blk.Timestamp), 0).UTC(),
		Outputs: outs,
	}, nil
}

// hexUint encodes a block number as a JSON-RPC quantity.
func hexUint(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }
