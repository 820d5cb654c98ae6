package bitcoin

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/bitcoin/litecoindtest"
	"github.com/invoiced/invoiced/chain/hd"
)

// Litecoin Core v0.21.2.1 is a Bitcoin Core 0.21 fork: these tests cover
// the Core RPC dialect (cookie auth, wallet-less node, getblock verbosity,
// error -8 above the tip, getrawmempool, batched getrawtransaction) for
// bitcoind >= 0.21 as well as Litecoin's MWEB.

func newLitecoinNode(t *testing.T, l *litecoindtest.Node) *Node {
	t.Helper()
	params, net, err := NetParams("LTC", hd.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Config{URL: l.URL, Cookie: l.Cookie, Currency: "LTC", Net: net, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLitecoind_CoreDialectWalletlessWithCookieAcrossRestart(t *testing.T) {
	start := time.Now()
	l := litecoindtest.Start(t, litecoindtest.Options{NoWallet: true})
	n := newLitecoinNode(t, l)
	ctx := context.Background()
	if n.Network() != "litecoin-regtest" || !slices.Equal(n.Currencies(), []string{"LTC"}) {
		t.Fatalf("network %s currencies %v", n.Network(), n.Currencies())
	}
	hashes := l.Generate(t, 3)
	tip, err := n.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tip.Height != 3 || tip.Hash != hashes[2] {
		t.Fatalf("tip %+v, want 3 %s", tip, hashes[2])
	}
	b, err := n.BlockAt(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	// The raw decoding agrees with the node's own verbose views.
	var v1 struct {
		Hash     string   `json:"hash"`
		Previous string   `json:"previousblockhash"`
		Time     int64    `json:"time"`
		Tx       []string `json:"tx"`
	}
	l.RPC(t, "getblock", &v1, hashes[2], 1)
	if b.Hash != v1.Hash || b.Parent != v1.Previous || b.Time.Unix() != v1.Time || b.Height != 3 {
		t.Fatalf("block %+v, getblock 1 says %+v", b, v1)
	}
	var v2 struct {
		Tx []struct {
			TxID string `json:"txid"`
			Vout []struct {
				N            uint32 `json:"n"`
				ScriptPubKey struct {
					Addresses []string `json:"addresses"`
				} `json:"scriptPubKey"`
			} `json:"vout"`
		} `json:"tx"`
	}
	l.RPC(t, "getblock", &v2, hashes[2], 2)
	if len(b.Outputs) != 1 || len(v2.Tx) != 1 || b.Outputs[0].TxID != v2.Tx[0].TxID ||
		b.Outputs[0].Address != litecoindtest.Unspendable || b.Outputs[0].Address != v2.Tx[0].Vout[0].ScriptPubKey.Addresses[0] ||
		b.Outputs[0].Amount.Int64() != 5_000_000_000 || b.Outputs[0].Currency != "LTC" {
		t.Fatalf("outputs %+v, getblock 2 says %+v", b.Outputs, v2)
	}
	if _, err := n.BlockAt(ctx, 4); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("BlockAt above the tip: %v, want ErrNotFound", err)
	}
	if outs, err := n.Mempool(ctx); err != nil || len(outs) != 0 {
		t.Fatalf("empty mempool: %v %v", outs, err)
	}

	// A restarted node writes a new cookie: one call is refused, and the
	// next reads the new cookie.
	l.Restart(t)
	_, err = n.Tip(ctx)
	if err == nil {
		t.Fatal("the old cookie was accepted after a restart")
	}
	t.Logf("first call after the restart: %v", err)
	if tip, err = n.Tip(ctx); err != nil || tip.Hash != hashes[2] {
		t.Fatalf("after the restart: tip %+v, %v", tip, err)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestLitecoind_MWEBBlocksPegInPegOutAndMempool(t *testing.T) {
	start := time.Now()
	l := litecoindtest.Start(t, litecoindtest.Options{})
	l.Fund(t)
	n := newLitecoinNode(t, l)
	ctx := context.Background()

	// Every block from genesis through MWEB activation decodes.
	tip, err := n.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tip.Height != litecoindtest.MWEBHeight {
		t.Fatalf("tip at %d after Fund", tip.Height)
	}
	for h := uint64(0); h <= tip.Height; h++ {
		if _, err := n.BlockAt(ctx, h); err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
	}
	t.Logf("followed %d blocks through MWEB activation in %v", tip.Height+1, time.Since(start).Round(time.Millisecond))

	payee := l.NewAddress(t, litecoindtest.Miner, "bech32")
	pegoutPayee := l.NewAddress(t, litecoindtest.Miner, "bech32")
	pay := l.Send(t, litecoindtest.Miner, payee, 12_345_678)
	pegin := l.Send(t, litecoindtest.Miner, l.NewAddress(t, litecoindtest.MWEB, "mweb"), 200_000_000)
	inside := l.Send(t, litecoindtest.MWEB, l.NewAddress(t, litecoindtest.MWEB, "mweb"), 50_000_000)
	pegout := l.Send(t, litecoindtest.MWEB, pegoutPayee, 30_000_000)
	for _, id := range []string{pay, pegin, inside, pegout} {
		if !l.InMempool(t, id) {
			t.Fatalf("%s is not in the mempool", id)
		}
	}
	outs, err := n.Mempool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seen []chain.Output
	for _, o := range outs {
		if o.Address == payee || o.Address == pegoutPayee {
			seen = append(seen, o)
		}
	}
	// The peg-out has no canonical output before a block's HogEx pays it.
	if len(seen) != 1 || seen[0].TxID != pay || seen[0].Amount.Int64() != 12_345_678 {
		t.Fatalf("mempool outputs to our addresses %+v, want only %s 12345678", seen, pay)
	}

	hash := l.Generate(t, 1)[0]
	b, err := n.BlockAt(ctx, tip.Height+1)
	if err != nil {
		t.Fatal(err)
	}
	if b.Hash != hash {
		t.Fatalf("block %s, mined %s", b.Hash, hash)
	}
	var v1 struct {
		Tx []string `json:"tx"`
	}
	l.RPC(t, "getblock", &v1, hash, 1)
	hogex := v1.Tx[len(v1.Tx)-1] // the HogEx is the block's last transaction
	got := map[string]chain.Output{}
	for _, o := range b.Outputs {
		if o.Address == payee || o.Address == pegoutPayee {
			got[o.Address] = o
		}
	}
	if o := got[payee]; o.TxID != pay || o.Amount.Int64() != 12_345_678 {
		t.Errorf("payment in the block: %+v", o)
	}
	if o := got[pegoutPayee]; o.TxID != hogex || o.Amount.Int64() != 30_000_000 || o.TxID == pegout {
		t.Errorf("peg-out in the block: %+v; want an output of the HogEx %s (the wallet's id is %s)", o, hogex, pegout)
	}
	if outs, err := n.Mempool(ctx); err != nil || len(outs) != 0 {
		t.Fatalf("mempool after the block: %+v %v", outs, err)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
