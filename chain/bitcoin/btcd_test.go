package bitcoin

import (
	"context"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/bitcoin/btcdtest"
)

// btcdHarness is a btcd --regtest node started for one test (see package
// btcdtest), with the adapter under test pointed at it and a key that
// receives every coinbase.
type btcdHarness struct {
	btcd        *btcdtest.Node
	node        *Node
	minerAddr   string
	minerScript []byte
}

// startBtcd starts btcd --regtest and the adapter on it. t.Cleanup kills
// it. Without a btcd binary the test is skipped.
func startBtcd(t *testing.T) *btcdHarness {
	t.Helper()
	b := btcdtest.Start(t)
	node, err := New(Config{
		URL: b.URL, User: b.User, Password: b.Password, Currency: "BTC",
		Net: "bitcoin-regtest", Params: btcdtest.Params, Timeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := node.Tip(ctx); err != nil {
		t.Fatalf("adapter cannot reach btcd: %v", err)
	}
	return &btcdHarness{btcd: b, node: node, minerAddr: b.Miner.Addr, minerScript: b.Miner.Script}
}

// rpc calls a node method the adapter does not use (generate,
// sendrawtransaction, invalidateblock...).
func (h *btcdHarness) rpc(t *testing.T, method string, out any, params ...any) {
	t.Helper()
	h.btcd.RPC(t, method, out, params...)
}

// generate mines n blocks paying the miner key and returns their hashes.
func (h *btcdHarness) generate(t *testing.T, n int) []string {
	t.Helper()
	return h.btcd.Generate(t, n)
}

// spend builds a transaction spending prev (a P2WPKH output of the miner
// key) to outs, signed with BIP143.
func (h *btcdHarness) spend(t *testing.T, prev chain.Output, sequence uint32, outs []*wire.TxOut) *wire.MsgTx {
	t.Helper()
	return h.btcd.Spend(t, btcdtest.Coin{TxID: prev.TxID, Index: prev.Index, Amount: prev.Amount.Int64()}, sequence, outs)
}

// send submits tx with sendrawtransaction.
func (h *btcdHarness) send(t *testing.T, tx *wire.MsgTx) {
	t.Helper()
	h.btcd.Send(t, tx)
}
