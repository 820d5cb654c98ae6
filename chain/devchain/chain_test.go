package devchain

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/invoiced/invoiced/chain"
)

func TestChain_PayMineReorg(t *testing.T) {
	ctx := context.Background()
	c := NewChain("BTC", nil)
	var _ chain.Node = c

	a, err := c.Pay("addr-a", big.NewInt(500), PayOptions{RBF: true})
	if err != nil {
		t.Fatal(err)
	}
	mp, _ := c.Mempool(ctx)
	if len(mp) != 1 || mp[0].TxID != a || mp[0].Amount.Int64() != 500 || !mp[0].RBF || mp[0].Currency != "BTC" {
		t.Fatalf("mempool = %+v", mp)
	}
	if h, _ := c.Mine(2); h != 2 {
		t.Fatalf("height = %d, want 2", h)
	}
	b1, _ := c.BlockAt(ctx, 1)
	b2, _ := c.BlockAt(ctx, 2)
	g, _ := c.BlockAt(ctx, 0)
	if len(b1.Outputs) != 1 || b1.Parent != g.Hash || b2.Parent != b1.Hash || len(b2.Outputs) != 0 {
		t.Fatalf("blocks: %+v %+v", b1, b2)
	}
	if mp, _ := c.Mempool(ctx); len(mp) != 0 {
		t.Fatalf("mempool after mining = %+v", mp)
	}
	if _, err := c.BlockAt(ctx, 3); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("above tip: %v", err)
	}

	// Reorg: the two blocks go; the payment returns to the mempool, then is
	// double-spent away, and a longer competing chain arrives.
	if err := c.Disconnect(2); err != nil {
		t.Fatal(err)
	}
	if mp, _ := c.Mempool(ctx); len(mp) != 1 || mp[0].TxID != a {
		t.Fatalf("mempool after disconnect = %+v", mp)
	}
	b, err := c.DoubleSpend(a, "attacker", big.NewInt(499))
	if err != nil || b == a {
		t.Fatalf("double spend: %s, %v", b, err)
	}
	c.MineEmpty(3)
	tip, _ := c.Tip(ctx)
	nb1, _ := c.BlockAt(ctx, 1)
	if tip.Height != 3 || nb1.Hash == b1.Hash || len(nb1.Outputs) != 0 {
		t.Fatalf("after reorg tip %+v block 1 %+v", tip, nb1)
	}
	if mp, _ := c.Mempool(ctx); len(mp) != 1 || mp[0].Address != "attacker" {
		t.Fatalf("mempool after double spend = %+v", mp)
	}
	if err := c.Drop("nope"); err == nil {
		t.Fatal("dropping an unknown tx succeeded")
	}
	if err := c.Disconnect(4); err == nil {
		t.Fatal("disconnecting genesis succeeded")
	}
}

func TestChain_DeterministicAndNotifying(t *testing.T) {
	a, b := NewChain("LTC", nil), NewChain("LTC", nil)
	ta, _ := a.Pay("x", big.NewInt(1), PayOptions{})
	tb, _ := b.Pay("x", big.NewInt(1), PayOptions{})
	a.Mine(1)
	b.Mine(1)
	ha, _ := a.Tip(context.Background())
	hb, _ := b.Tip(context.Background())
	if ta != tb || ha != hb {
		t.Fatalf("same script, different chains: %s/%s %v/%v", ta, tb, ha, hb)
	}
	select {
	case <-a.Changed():
	default:
		t.Fatal("no change notification")
	}
	if _, err := a.Pay("x", big.NewInt(0), PayOptions{}); err == nil {
		t.Fatal("zero payment accepted")
	}
}

func TestChain_PersistsBlocksAcrossOpen(t *testing.T) {
	path := t.TempDir() + "/btc.json"
	c, err := OpenChain(path, "BTC", nil)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := c.Pay("addr", big.NewInt(7), PayOptions{})
	if _, err := c.Mine(3); err != nil {
		t.Fatal(err)
	}
	c.Pay("pending", big.NewInt(1), PayOptions{}) // the mempool is not kept
	before, _ := c.Tip(context.Background())

	again, err := OpenChain(path, "BTC", nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := again.Tip(context.Background())
	b1, _ := again.BlockAt(context.Background(), 1)
	mp, _ := again.Mempool(context.Background())
	if after != before || len(b1.Outputs) != 1 || b1.Outputs[0].TxID != tx || len(mp) != 0 {
		t.Fatalf("reopened: tip %v (want %v), block 1 %+v, mempool %d", after, before, b1, len(mp))
	}
	// New ids never repeat old ones.
	if tx2, _ := again.Pay("addr", big.NewInt(7), PayOptions{}); tx2 == tx {
		t.Fatal("txid reused after reopen")
	}
	if _, err := OpenChain(path, "LTC", nil); err == nil {
		t.Fatal("opened a BTC chain file as LTC")
	}
}
