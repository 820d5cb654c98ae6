package ethereum

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/ethereum/gethtest"
)

// TestGeth_NativeAndTokenPayments follows real payments on a geth --dev
// node that mines a block per transaction: ETH to an account, an ERC-20
// deployment, transfer and batch transfer, and transactions that revert.
func TestGeth_NativeAndTokenPayments(t *testing.T) {
	start := time.Now()
	h := gethtest.Start(t, 0)
	t.Logf("geth ready in %v", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	n := adapterOn(t, h)

	ok := t.Run("TipAndBlockAt", func(t *testing.T) {
		tip, err := n.Tip(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := n.BlockAt(ctx, tip.Height)
		if err != nil {
			t.Fatal(err)
		}
		if b.Hash != tip.Hash || b.Height != tip.Height || len(b.Outputs) != 0 {
			t.Fatalf("BlockAt(tip) = %+v, want %+v without outputs", b, tip)
		}
		if _, err := n.BlockAt(ctx, tip.Height+1); !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("BlockAt(tip+1) = %v, want ErrNotFound", err)
		}
	})
	if !ok {
		return
	}

	// 20 ETH is 2*10^19 wei, beyond 2^64.
	ethAmount, _ := new(big.Int).SetString("20000000000000000000", 10)
	var payee string
	ok = t.Run("NativePayment", func(t *testing.T) {
		payee = gethtest.FreshAddress(t)
		txid := h.Send(t, gethtest.Tx{To: payee, Value: ethAmount})
		r := h.WaitReceipt(t, txid)
		b := blockAt(t, n, uint64(r.BlockNumber))
		if b.Hash != r.BlockHash {
			t.Fatalf("BlockAt(%d).Hash = %s, receipt says %s", r.BlockNumber, b.Hash, r.BlockHash)
		}
		parent := blockAt(t, n, uint64(r.BlockNumber)-1)
		if b.Parent != parent.Hash || b.Time.IsZero() || b.Time.Before(parent.Time) {
			t.Fatalf("BlockAt(%d) parent %s time %v; block below is %s at %v", b.Height, b.Parent, b.Time, parent.Hash, parent.Time)
		}
		if tip, err := n.Tip(ctx); err != nil || tip != (chain.Cursor{Height: b.Height, Hash: b.Hash}) {
			t.Fatalf("Tip = %+v, %v; want %d/%s", tip, err, b.Height, b.Hash)
		}
		want := chain.Output{Currency: "ETH", TxID: txid, Index: 0, Address: checksummed(t, payee), Amount: ethAmount}
		if len(b.Outputs) != 1 || !sameOutput(b.Outputs[0], want) {
			t.Fatalf("BlockAt(%d).Outputs = %v, want [%v]", b.Height, b.Outputs, want)
		}
		if !strings.EqualFold(b.Outputs[0].Address, payee) || b.Outputs[0].Address == payee {
			t.Fatalf("Address = %s, want the EIP-55 form of %s", b.Outputs[0].Address, payee)
		}
	})
	if !ok {
		return
	}

	supply := new(big.Int).Lsh(big.NewInt(1), 200) // token units beyond 2^64 too
	var token string
	var tn *Node // reports ETH and USDT
	ok = t.Run("TokenDeploymentMintsToDeployer", func(t *testing.T) {
		var r gethtest.Receipt
		token, r = h.DeployToken(t, supply)
		tn = adapterOn(t, h, Token{Currency: "USDT", Contract: token})
		if got := tn.Currencies(); len(got) != 2 || got[0] != "ETH" || got[1] != "USDT" {
			t.Fatalf("Currencies = %v", got)
		}
		b := blockAt(t, tn, uint64(r.BlockNumber))
		// The constructor's Transfer from the zero address: a mint.
		if len(b.Outputs) != 1 || b.Outputs[0].Currency != "USDT" || b.Outputs[0].Index != 0 ||
			!strings.EqualFold(b.Outputs[0].Address, h.Dev) || b.Outputs[0].Amount.Cmp(supply) != 0 {
			t.Fatalf("deployment block outputs = %v, want the mint of %v to %s", b.Outputs, supply, h.Dev)
		}
		// The ETH-only node does not ask for logs at all.
		if b := blockAt(t, n, uint64(r.BlockNumber)); len(b.Outputs) != 0 {
			t.Fatalf("ETH-only node reports %v", b.Outputs)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("TokenTransfer", func(t *testing.T) {
		to := gethtest.FreshAddress(t)
		value := big.NewInt(1_234_567)
		txid := h.Send(t, gethtest.Tx{To: token, Data: gethtest.ABICall(selectorTransfer, to, value)})
		r := h.WaitReceipt(t, txid)
		if r.Status != 1 || len(r.Logs) != 1 {
			t.Fatalf("transfer receipt: status %d, %d logs", r.Status, len(r.Logs))
		}
		b := blockAt(t, tn, uint64(r.BlockNumber))
		want := chain.Output{Currency: "USDT", TxID: txid, Index: 0, Address: checksummed(t, to), Amount: value}
		if len(b.Outputs) != 1 || !sameOutput(b.Outputs[0], want) {
			t.Fatalf("BlockAt(%d).Outputs = %v, want [%v]", b.Height, b.Outputs, want)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("BatchTransferHasOneKeyPerLog", func(t *testing.T) {
		a, c := gethtest.FreshAddress(t), gethtest.FreshAddress(t)
		sel := selector("transferBatch(address[],uint256[])")
		data := append(sel[:], gethtest.ABIWord(64)...)   // offset of to[]
		data = append(data, gethtest.ABIWord(64+32*4)...) // offset of value[]
		for _, w := range []any{3, a, c, a, 3, 10, 20, 30} {
			data = append(data, gethtest.ABIWord(w)...)
		}
		txid := h.Send(t, gethtest.Tx{To: token, Data: data})
		r := h.WaitReceipt(t, txid)
		if r.Status != 1 || len(r.Logs) != 3 {
			t.Fatalf("transferBatch receipt: status %d, %d logs", r.Status, len(r.Logs))
		}
		b := blockAt(t, tn, uint64(r.BlockNumber))
		want := []chain.Output{
			{Currency: "USDT", TxID: txid, Index: 0, Address: checksummed(t, a), Amount: big.NewInt(10)},
			{Currency: "USDT", TxID: txid, Index: 1, Address: checksummed(t, c), Amount: big.NewInt(20)},
			{Currency: "USDT", TxID: txid, Index: 2, Address: checksummed(t, a), Amount: big.NewInt(30)},
		}
		if !sameOutputs(b.Outputs, want) {
			t.Fatalf("BlockAt(%d).Outputs = %v, want %v", b.Height, b.Outputs, want)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("RevertedTransactionsPayNothing", func(t *testing.T) {
		// More tokens than exist: transfer reverts, no Transfer log.
		tooMuch := new(big.Int).Add(supply, big.NewInt(1))
		txToken := h.Send(t, gethtest.Tx{To: token, Data: gethtest.ABICall(selectorTransfer, gethtest.FreshAddress(t), tooMuch), Gas: 100_000})
		// ETH to the token, which has no payable function: reverts, and
		// the value stays with the sender although the transaction has
		// a value and a recipient.
		txETH := h.Send(t, gethtest.Tx{To: token, Value: big.NewInt(1e18), Gas: 100_000})
		for _, txid := range []string{txToken, txETH} {
			r := h.WaitReceipt(t, txid)
			if r.Status != 0 {
				t.Fatalf("%s: status %d, want a revert", txid, r.Status)
			}
			if b := blockAt(t, tn, uint64(r.BlockNumber)); len(b.Outputs) != 0 {
				t.Fatalf("block of reverted %s reports %v", txid, b.Outputs)
			}
		}
	})
	if !ok {
		return
	}

	t.Run("ReceiptsPerTransactionGiveTheSameBlocks", func(t *testing.T) {
		// What a node without eth_getBlockReceipts costs: one
		// eth_getTransactionReceipt per candidate. Same answers.
		tip, err := tn.Tip(ctx)
		if err != nil {
			t.Fatal(err)
		}
		perTx := adapterOn(t, h, Token{Currency: "USDT", Contract: token})
		perTx.noBlockReceipts.Store(true)
		for height := uint64(0); height <= tip.Height; height++ {
			want, got := blockAt(t, tn, height), blockAt(t, perTx, height)
			if want.Hash != got.Hash || !sameOutputs(got.Outputs, want.Outputs) {
				t.Fatalf("block %d per transaction = %v, with block receipts %v", height, got.Outputs, want.Outputs)
			}
		}
	})

	t.Run("MempoolEmptyOnceMined", func(t *testing.T) {
		// --dev.period 0 mines each transaction as it arrives, so the
		// pool is empty here; TestGeth_MempoolKeyIsTheMinedKey sees it full.
		outs, err := tn.Mempool(ctx)
		if err != nil || len(outs) != 0 {
			t.Fatalf("Mempool = %v, %v; want empty", outs, err)
		}
	})
	t.Logf("whole scenario took %v", time.Since(start).Round(time.Millisecond))
}

// TestGeth_MempoolKeyIsTheMinedKey: a pending native payment and a pending
// token transfer appear in Mempool with the (currency, txid, index),
// address and amount BlockAt reports once they are mined, so the monitor
// counts each payment once.
func TestGeth_MempoolKeyIsTheMinedKey(t *testing.T) {
	start := time.Now()
	const period = 1 // second a transaction stays pending at most
	h := gethtest.Start(t, period)
	ctx := context.Background()
	token, _ := h.DeployToken(t, big.NewInt(1e12))
	n := adapterOn(t, h, Token{Currency: "USDT", Contract: token})

	// Send right after a block, so the next is a period away; if the
	// block still comes first (a slow machine), try again.
	var pending []chain.Output
	var txids []string
	for attempt := 1; len(pending) == 0; attempt++ {
		waitNextBlock(t, n)
		payee, tokenPayee := gethtest.FreshAddress(t), gethtest.FreshAddress(t)
		txids = []string{
			h.Send(t, gethtest.Tx{To: payee, Value: big.NewInt(5e17)}),
			h.Send(t, gethtest.Tx{To: token, Data: gethtest.ABICall(selectorTransfer, tokenPayee, big.NewInt(42_000_000))}),
		}
		outs, err := n.Mempool(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []chain.Output{
			{Currency: "ETH", TxID: txids[0], Index: 0, Address: checksummed(t, payee), Amount: big.NewInt(5e17)},
			{Currency: "USDT", TxID: txids[1], Index: 0, Address: checksummed(t, tokenPayee), Amount: big.NewInt(42_000_000)},
		}
		sortOutputs(want) // Mempool's order
		if got := outputsOf(outs, txids...); sameOutputs(got, want) {
			pending = want
			break
		} else if attempt == 3 {
			t.Fatalf("Mempool = %v, want %v", outs, want)
		}
		t.Logf("attempt %d: the block came first", attempt)
	}
	var mined []chain.Output
	for _, txid := range txids {
		r := h.WaitReceipt(t, txid)
		mined = append(mined, outputsOf(blockAt(t, n, uint64(r.BlockNumber)).Outputs, txid)...)
	}
	if sortOutputs(mined); !sameOutputs(mined, pending) {
		t.Fatalf("mined outputs %v differ from the pending ones %v", mined, pending)
	}
	if outs, err := n.Mempool(ctx); err != nil || len(outputsOf(outs, txids...)) != 0 {
		t.Fatalf("Mempool after mining = %v, %v", outs, err)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

// waitNextBlock returns once the tip moves.
func waitNextBlock(t *testing.T, n *Node) {
	t.Helper()
	first, err := n.Tip(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		tip, err := n.Tip(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tip.Height > first.Height {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no block after height %d in 20s", first.Height)
}

func blockAt(t *testing.T, n *Node, height uint64) chain.Block {
	t.Helper()
	b, err := n.BlockAt(context.Background(), height)
	if err != nil {
		t.Fatalf("BlockAt(%d): %v", height, err)
	}
	if b.Height != height {
		t.Fatalf("BlockAt(%d).Height = %d", height, b.Height)
	}
	return b
}
