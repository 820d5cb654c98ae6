package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/invoiced/invoiced/chain/bitcoin"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/chain/hd"
	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/server"
)

// LitecoinNode is a litecoind -regtest whose wallet pays the payments
// scenario's LTC invoices and whose blocks it mines, so matching is
// measured on a real node: raw blocks over RPC, MWEB framing, polling.
type LitecoinNode struct {
	// URL is the node's RPC endpoint; Cookie its cookie file.
	URL, Cookie string
	// Wallet names the loaded wallet that pays (empty: the default
	// wallet). It needs BlockOutputs×Blocks×0.001 LTC and fees; the run
	// mines regtest blocks to it until it has them.
	Wallet string
}

// ltcAccountKey is the tpub the in-process server derives LTC deposit
// addresses from: m/84'/2'/0' of the BIP39 test mnemonic "abandon ...
// about". Nobody needs to spend the benchmark's payments.
const ltcAccountKey = "tpubDD6tzfiuXtx7NhZhePvkuR4N7CPhhG1gUBd4SpDn75VTY6B1U5oBbh4ZWUkg8XkKTqLriV7HGYMpRv4txbnnEiZjKrZay7oYFyfPwjLjJVi"

// ltcChainPoll is the monitor's poll interval against the node: the
// latency it adds to block → completed is at most this.
const ltcChainPoll = 20 * time.Millisecond

// sendManyOutputs bounds the outputs of one payment transaction (about
// 31 bytes each: 500 stay far below the 100 kB standardness limit).
const sendManyOutputs = 500

// payer is the chain the payments scenario pays invoices on and mines.
type payer interface {
	// pay pays every invoice of batch exactly; it returns how many it
	// could not pay and the first error.
	pay(ctx context.Context, batch []created) (failed int, err error)
	mine(ctx context.Context) error
}

// devPayer pays on an in-process dev chain, one Pay per invoice.
type devPayer struct{ chain *devchain.Chain }

func (d devPayer) pay(_ context.Context, batch []created) (int, error) {
	failed := 0
	var first error
	for _, inv := range batch {
		if _, err := d.chain.Pay(inv.Address, inv.Units, devchain.PayOptions{}); err != nil {
			failed++
			first = firstErr(first, err)
		}
	}
	return failed, first
}

func (d devPayer) mine(context.Context) error {
	_, err := d.chain.Mine(1)
	return err
}

func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// ltcPayer pays with sendmany from a litecoind wallet, up to
// sendManyOutputs invoices per transaction, and mines with
// generatetoaddress.
type ltcPayer struct {
	node, wallet *jsonrpc.Client
	mineTo       string
}

func newLTCPayer(ctx context.Context, n *LitecoinNode, need *big.Int) (*ltcPayer, error) {
	creds := bitcoin.NewCookie(n.Cookie)
	p := &ltcPayer{
		node:   &jsonrpc.Client{URL: n.URL, Version: "1.0", Credentials: creds, Timeout: time.Minute},
		wallet: &jsonrpc.Client{URL: n.URL + "/wallet/" + n.Wallet, Version: "1.0", Credentials: creds, Timeout: time.Minute},
	}
	if err := p.wallet.Call(ctx, "getnewaddress", []any{"", "bech32"}, &p.mineTo); err != nil {
		return nil, fmt.Errorf("litecoind wallet %q: %w", n.Wallet, err)
	}
	return p, p.fund(ctx, need)
}

// fund mines until the wallet can pay need litoshis: past MWEB activation
// (block 432 needs an MWEB peg-in in the mempool), then 100 blocks at a
// time.
func (p *ltcPayer) fund(ctx context.Context, need *big.Int) error {
	for range 20 {
		var height int64
		if err := p.node.Call(ctx, "getblockcount", nil, &height); err != nil {
			return err
		}
		if height == 431 {
			var mweb string
			if err := p.wallet.Call(ctx, "getnewaddress", []any{"", "mweb"}, &mweb); err != nil {
				return err
			}
			if err := p.wallet.Call(ctx, "sendtoaddress", []any{mweb, json.Number("1")}, nil); err != nil {
				return fmt.Errorf("peg-in for MWEB activation: %w", err)
			}
		}
		var balance json.Number
		if err := p.wallet.Call(ctx, "getbalance", nil, &balance); err != nil {
			return err
		}
		have, ok := new(big.Rat).SetString(balance.String())
		if !ok {
			return fmt.Errorf("getbalance %q", balance)
		}
		if height >= 432 && have.Cmp(new(big.Rat).SetFrac(need, big.NewInt(100_000_000))) > 0 {
			return nil
		}
		blocks := 100
		if height < 431 {
			blocks = int(431 - height)
		} else if height == 431 {
			blocks = 1
		}
		if err := p.node.Call(ctx, "generatetoaddress", []any{blocks, p.mineTo}, nil); err != nil {
			return err
		}
	}
	return errors.New("litecoind wallet: still not funded after 20 rounds of mining")
}

func (p *ltcPayer) pay(ctx context.Context, batch []created) (int, error) {
	failed := 0
	var first error
	for len(batch) > 0 {
		k := min(len(batch), sendManyOutputs)
		amounts := make(map[string]json.Number, k)
		for _, inv := range batch[:k] {
			amounts[inv.Address] = json.Number(new(big.Rat).SetFrac(inv.Units, big.NewInt(100_000_000)).FloatString(8))
		}
		if err := p.wallet.Call(ctx, "sendmany", []any{"", amounts}, nil); err != nil {
			failed += k
			first = firstErr(first, err)
		}
		batch = batch[k:]
	}
	return failed, first
}

func (p *ltcPayer) mine(ctx context.Context) error {
	return p.node.Call(ctx, "generatetoaddress", []any{1, p.mineTo}, nil)
}

// useLitecoin points cfg's LTC at the node.
func useLitecoin(cfg *server.Config, n *LitecoinNode) {
	cfg.Litecoin = &server.BitcoinNode{URL: n.URL, Cookie: n.Cookie, Net: hd.Regtest, XPub: ltcAccountKey}
	cfg.ChainPoll = ltcChainPoll
}
