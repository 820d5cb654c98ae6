package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// Node is a chain.Node backed by a bitcoind or btcd JSON-RPC endpoint. It is
// safe for concurrent use.
type Node struct {
	rpc      *jsonrpc.Client
	currency string
	net      string
	params   *chaincfg.Params
	// mweb: the chain is Litecoin, whose blocks and transactions may carry
	// MWEB data (mweb.go).
	mweb    bool
	mempool *mempoolCache
}

var _ chain.Node = (*Node)(nil)

// New validates cfg and returns a Node. It does not contact the node: the
// monitor's first Tip does, and reports an unreachable node there.
func New(cfg Config) (*Node, error) {
	endpoint, user, password, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var creds jsonrpc.Credentials
	hint := "check the RPC user and password"
	if cfg.Cookie != "" {
		creds = &cookie{path: cfg.Cookie}
		hint = "check the RPC cookie file " + cfg.Cookie + " (the node rewrites it on every start; it is read again on the next call)"
	}
	return &Node{
		// JSON-RPC 1.0, the dialect both bitcoind and btcd serve. Not
		// btcd's rpcclient (v0.26.2, which does use the same /v2
		// modules): it takes no per-call context, sends every call
		// through one goroutine and retries a failed POST ten times with
		// backoff, about 22 s against a closed port, whatever the
		// caller's deadline. Here a call is one HTTP request bounded by
		// Config.Timeout and the caller's context; the monitor's poll
		// loop is the retry.
		rpc: &jsonrpc.Client{
			URL:              endpoint, // no credentials: errors name it
			User:             user,
			Password:         password,
			Credentials:      creds,
			Version:          "1.0",
			Timeout:          timeout,
			MaxResponseBytes: maxResponseBytes,
			AuthHint:         hint,
		},
		currency: cfg.Currency,
		net:      cfg.Net,
		params:   cfg.Params,
		mweb:     cfg.Currency == "LTC",
		mempool:  newMempoolCache(),
	}, nil
}

// Network returns Config.Net.
func (n *Node) Network() string { return n.net }

// Currencies returns the one currency this node reports.
func (n *Node) Currencies() []string { return []string{n.currency} }

// Tip returns the best block. getblockchaininfo reports height and hash from
// one snapshot of the chain, which getblockcount followed by
// getbestblockhash would not.
func (n *Node) Tip(ctx context.Context) (chain.Cursor, error) {
	var info struct {
		Blocks        *int64 `json:"blocks"`
		BestBlockHash string `json:"bestblockhash"`
	}
	if err := n.rpc.Call(ctx, "getblockchaininfo", nil, &info); err != nil {
		return chain.Cursor{}, fmt.Errorf("bitcoin tip: %w", err)
	}
	if info.Blocks == nil || *info.Blocks < 0 {
		return chain.Cursor{}, fmt.Errorf("bitcoin tip: getblockchaininfo has no valid height")
	}
	if err := checkHash(info.BestBlockHash); err != nil {
		return chain.Cursor{}, fmt.Errorf("bitcoin tip: getblockchaininfo: best block %w", err)
	}
	return chain.Cursor{Height: uint64(*info.Blocks), Hash: info.BestBlockHash}, nil
}

// BlockAt returns the block at height on the node's best chain with every
// output paying a standard address. A height above the tip wraps
// chain.ErrNotFound.
func (n *Node) BlockAt(ctx context.Context, height uint64) (chain.Block, error) {
	// btcd truncates the height to int32: 2^32 would come back as genesis.
	if height > math.MaxInt32 {
		return chain.Block{}, fmt.Errorf("bitcoin block %d: %w", height, chain.ErrNotFound)
	}
	var hash string
	if err := n.rpc.Call(ctx, "getblockhash", []any{height}, &hash); err != nil {
		if isOutOfRange(err) {
			return chain.Block{}, fmt.Errorf("bitcoin block %d: %w", height, chain.ErrNotFound)
		}
		return chain.Block{}, fmt.Errorf("bitcoin block %d: %w", height, err)
	}
	if err := checkHash(hash); err != nil {
		return chain.Block{}, fmt.Errorf("bitcoin block %d: getblockhash: %w", height, err)
	}
	var raw rawResult
	if err := n.rpc.Call(ctx, "getblock", []any{hash, 0}, &raw); err != nil {
		// A reorg between the two calls can remove the block; the
		// monitor's next Tip/BlockAt sees the new chain.
		return chain.Block{}, fmt.Errorf("bitcoin block %d %s: %w", height, hash, err)
	}
	b, err := decodeBlock(raw, n.currency, n.params, n.mweb)
	if err != nil {
		return chain.Block{}, fmt.Errorf("bitcoin block %d %s: %w", height, hash, err)
	}
	if b.Hash != hash {
		return chain.Block{}, fmt.Errorf("bitcoin block %d: asked for %s, node sent %s", height, hash, b.Hash)
	}
	b.Height = height
	return b, nil
}

// isOutOfRange reports whether err is the node saying a height is above
// its tip: -8 "Block height out of range" (bitcoind), -1 "Block number out
// of range" (btcd).
func isOutOfRange(err error) bool {
	code, ok := rpcErrorCode(err)
	switch {
	case !ok:
		return false
	case code == codeInvalidParameter:
		return true
	case code == codeMisc:
		return strings.Contains(strings.ToLower(err.Error()), "out of range")
	}
	return false
}

// rawResult is a hex string result decoded straight to bytes.
type rawResult []byte

func (r *rawResult) UnmarshalJSON(b []byte) error {
	raw, err := decodeHexResult(b)
	if err != nil {
		return err
	}
	*r = raw
	return nil
}

// decodeBlock parses a serialized block and collects its outputs. With
// mweb (Litecoin) the transactions may carry the MWEB flag and the block an
// extension block after them (see mweb.go).
func decodeBlock(raw []byte, currency string, params *chaincfg.Params, mweb bool) (chain.Block, error) {
	var msg wire.MsgBlock
	r := bytes.NewReader(raw)
	if !mweb {
		if err := msg.Deserialize(r); err != nil {
			return chain.Block{}, fmt.Errorf("decode block: %w", err)
		}
	} else if err := readBlockMWEB(raw, r, &msg); err != nil {
		return chain.Block{}, fmt.Errorf("decode block: %w", err)
	}
	if r.Len() != 0 {
		return chain.Block{}, fmt.Errorf("decode block: %d bytes after the last transaction", r.Len())
	}
	n := 0
	for _, tx := range msg.Transactions {
		n += len(tx.TxOut)
	}
	outs := make([]chain.Output, 0, n)
	for _, tx := range msg.Transactions {
		outs = appendOutputs(outs, tx, tx.TxHash().String(), signalsRBF(tx), currency, params)
	}
	return chain.Block{
		Hash:    msg.Header.BlockHash().String(),
		Parent:  msg.Header.PrevBlock.String(),
		Time:    msg.Header.Timestamp.UTC(),
		Outputs: outs,
	}, nil
}

// checkHash rejects anything but 64 hex digits, so garbage from the node
// never becomes a cursor.
func checkHash(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("hash %q: want 64 hex digits", h)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return fmt.Errorf("hash %q: %w", h, err)
	}
	return nil
}
