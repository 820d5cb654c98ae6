package bitcoin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/bitcoin/btcdtest"
)

// TestBtcd_PaymentThroughMempoolBlockAndReorg follows one real payment on a
// btcd regtest node: mempool, block, a reorg that replaces it with a double
// spend, and a reconsidered shorter fork that must not win.
func TestBtcd_PaymentThroughMempoolBlockAndReorg(t *testing.T) {
	start := time.Now()
	h := startBtcd(t)
	t.Logf("btcd ready in %v", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	n := h.node

	payee := newP2WPKH(t)
	var (
		coinbase    chain.Output // block 1's coinbase: mature once 101 blocks exist
		hash101     string
		tx1         *wire.MsgTx
		minedHash   string // the block at 102 that first confirmed tx1
		replacement *wire.MsgTx
	)

	ok := t.Run("TipAndBlockAt", func(t *testing.T) {
		hashes := h.generate(t, 101)
		hash101 = hashes[100]
		tip, err := n.Tip(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tip != (chain.Cursor{Height: 101, Hash: hash101}) {
			t.Fatalf("Tip = %+v, want 101/%s", tip, hash101)
		}
		genesis, err := n.BlockAt(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if genesis.Hash != chaincfg.RegressionNetParams.GenesisHash.String() {
			t.Fatalf("BlockAt(0) = %s, want the regtest genesis", genesis.Hash)
		}
		b1, err := n.BlockAt(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if b1.Hash != hashes[0] || b1.Parent != genesis.Hash || b1.Height != 1 || b1.Time.IsZero() {
			t.Fatalf("BlockAt(1) = %s parent %s height %d time %v", b1.Hash, b1.Parent, b1.Height, b1.Time)
		}
		// The coinbase pays the miner; its witness commitment (OP_RETURN)
		// is not an output anyone can be paid by.
		if len(b1.Outputs) != 1 || b1.Outputs[0].Address != h.minerAddr || b1.Outputs[0].Index != 0 ||
			b1.Outputs[0].Amount.Int64() != 50*1e8 || b1.Outputs[0].RBF {
			t.Fatalf("BlockAt(1).Outputs = %+v, want one 50 BTC output to %s", b1.Outputs, h.minerAddr)
		}
		coinbase = b1.Outputs[0]
		// btcd says "Block number out of range" with code -1.
		if _, err := n.BlockAt(ctx, 102); !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("BlockAt(tip+1) = %v, want ErrNotFound", err)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("PaymentInMempoolThenInBlock", func(t *testing.T) {
		const pay, fee = 123_456_789, 10_000
		tx1 = h.spend(t, coinbase, 0xfffffffd, []*wire.TxOut{
			wire.NewTxOut(pay, payee.script),
			wire.NewTxOut(coinbase.Amount.Int64()-pay-fee, h.minerScript),
		})
		h.send(t, tx1)
		id := tx1.TxHash().String()

		outs := mempoolOf(t, n, id)
		if len(outs) != 2 {
			t.Fatalf("Mempool has %d outputs of the payment, want 2 (payee and change)", len(outs))
		}
		want := chain.Output{Currency: "BTC", TxID: id, Index: 0, Address: payee.addr, RBF: true}
		if got := outs[0]; got.Amount.Int64() != pay || got.Currency != want.Currency || got.Index != 0 ||
			got.Address != want.Address || !got.RBF {
			t.Fatalf("mempool payee output = %+v, want %+v with amount %d", got, want, pay)
		}
		if outs[1].Address != h.minerAddr || outs[1].Amount.Int64() != coinbase.Amount.Int64()-pay-fee {
			t.Fatalf("mempool change output = %+v", outs[1])
		}

		minedHash = h.generate(t, 1)[0]
		tip, err := n.Tip(ctx)
		if err != nil || tip != (chain.Cursor{Height: 102, Hash: minedHash}) {
			t.Fatalf("Tip = %+v, %v; want 102/%s", tip, err, minedHash)
		}
		b, err := n.BlockAt(ctx, 102)
		if err != nil {
			t.Fatal(err)
		}
		if b.Hash != minedHash || b.Parent != hash101 {
			t.Fatalf("BlockAt(102) = %s parent %s, want %s parent %s", b.Hash, b.Parent, minedHash, hash101)
		}
		got := outputsOf(b.Outputs, id)
		if len(got) != 2 || got[0].Address != payee.addr || got[0].Amount.Int64() != pay || !got[0].RBF {
			t.Fatalf("block outputs of the payment = %+v", got)
		}
		waitMempool(t, n, "payment mined", func(outs []chain.Output) bool { return len(outputsOf(outs, id)) == 0 })
	})
	if !ok {
		return
	}

	ok = t.Run("ReorgReplacesThePayment", func(t *testing.T) {
		h.rpc(t, "invalidateblock", nil, minedHash)
		tip, err := n.Tip(ctx)
		if err != nil || tip != (chain.Cursor{Height: 101, Hash: hash101}) {
			t.Fatalf("Tip after invalidateblock = %+v, %v; want 101/%s", tip, err, hash101)
		}
		if _, err := n.BlockAt(ctx, 102); !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("BlockAt(102) after invalidateblock = %v, want ErrNotFound", err)
		}
		// btcd returns a disconnected block's transactions to its mempool.
		id1 := tx1.TxHash().String()
		waitMempool(t, n, "payment back in mempool", func(outs []chain.Output) bool { return len(outputsOf(outs, id1)) == 2 })

		// Double spend the coinbase with a higher fee and no RBF signal:
		// it replaces tx1, which signalled.
		const pay2, fee2 = 100_000_000, 50_000
		replacement = h.spend(t, coinbase, wire.MaxTxInSequenceNum, []*wire.TxOut{
			wire.NewTxOut(pay2, payee.script),
			wire.NewTxOut(coinbase.Amount.Int64()-pay2-fee2, h.minerScript),
		})
		h.send(t, replacement)
		id2 := replacement.TxHash().String()
		outs, err := n.Mempool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(outputsOf(outs, id1)) != 0 {
			t.Fatal("the replaced payment is still in Mempool")
		}
		r := outputsOf(outs, id2)
		if len(r) != 2 || r[0].Amount.Int64() != pay2 || r[0].Address != payee.addr || r[0].RBF {
			t.Fatalf("replacement in Mempool = %+v, want %d to %s without RBF", r, pay2, payee.addr)
		}

		hashes := h.generate(t, 2)
		b102, err := n.BlockAt(ctx, 102)
		if err != nil {
			t.Fatal(err)
		}
		if b102.Hash == minedHash || b102.Hash != hashes[0] || b102.Parent != hash101 {
			t.Fatalf("BlockAt(102) = %s parent %s; want the new %s on %s (old %s)", b102.Hash, b102.Parent, hashes[0], hash101, minedHash)
		}
		if len(outputsOf(b102.Outputs, id1)) != 0 || len(outputsOf(b102.Outputs, id2)) != 2 {
			t.Fatalf("new block 102 outputs = %+v, want the replacement and not the original", b102.Outputs)
		}
		b103, err := n.BlockAt(ctx, 103)
		if err != nil || b103.Parent != b102.Hash {
			t.Fatalf("BlockAt(103) = parent %s, %v; want %s", b103.Parent, err, b102.Hash)
		}
		waitMempool(t, n, "replacement mined", func(outs []chain.Output) bool { return len(outputsOf(outs, id2)) == 0 })

		// The old block is valid again, but its fork (height 102) is
		// shorter than the best chain (103): nothing moves.
		h.rpc(t, "reconsiderblock", nil, minedHash)
		tip, err = n.Tip(ctx)
		if err != nil || tip != (chain.Cursor{Height: 103, Hash: hashes[1]}) {
			t.Fatalf("Tip after reconsiderblock = %+v, %v; want 103/%s", tip, err, hashes[1])
		}
		if again, err := n.BlockAt(ctx, 102); err != nil || again.Hash != b102.Hash {
			t.Fatalf("BlockAt(102) after reconsiderblock = %s, %v; want %s", again.Hash, err, b102.Hash)
		}
	})
	if !ok {
		return
	}
	t.Logf("whole scenario took %v", time.Since(start).Round(time.Millisecond))
}

type testKey struct {
	addr   string
	script []byte
}

func newP2WPKH(t *testing.T) testKey {
	t.Helper()
	k := btcdtest.NewKey(t)
	return testKey{addr: k.Addr, script: k.Script}
}

func outputsOf(outs []chain.Output, txid string) []chain.Output {
	var r []chain.Output
	for _, o := range outs {
		if o.TxID == txid {
			r = append(r, o)
		}
	}
	return r
}

func mempoolOf(t *testing.T, n *Node, txid string) []chain.Output {
	t.Helper()
	outs, err := n.Mempool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return outputsOf(outs, txid)
}

// waitMempool polls Mempool until cond holds, for at most 5 s: btcd
// updates its mempool after a block connects or disconnects.
func waitMempool(t *testing.T, n *Node, what string, cond func([]chain.Output) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		outs, err := n.Mempool(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cond(outs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Mempool still %+v after 5s", what, outs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
