package server

// End-to-end tests against a real litecoind -regtest (issue 17): the
// server runs in prod mode with only LTC, follows the node with its cookie
// file and the merchant's account tpub (m/84'/2'/0'), and the node's own
// wallets pay. Every test starts past MWEB activation (block 432), so
// every block it mines carries a HogEx and an extension block. Without a
// litecoind binary they skip (.ci/install-litecoind installs it).

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain/bitcoin/litecoindtest"
	"github.com/invoiced/invoiced/chain/hd"
	"github.com/invoiced/invoiced/internal/clock"
)

// ltcE2E is a funded litecoind past MWEB activation and a server in prod
// mode (LTC only) following it.
type ltcE2E struct {
	*harness
	node   *litecoindtest.Node
	wallet *btcE2EWallet
	orders int // order ids used
}

func newLtcE2E(t *testing.T, conf map[string]int) *ltcE2E {
	t.Helper()
	start := time.Now()
	l := litecoindtest.Start(t, litecoindtest.Options{})
	l.Fund(t)
	e := &ltcE2E{node: l, wallet: utxoMerchantWallet(t, 2, "rltc")}
	e.harness = &harness{t: t, dir: t.TempDir(), clock: clock.NewTest(time.Now().UTC()), poll: 50 * time.Millisecond, conf: conf}
	e.startServer()
	var p struct {
		APIKey string `json:"api_key"`
	}
	e.call("POST", "/api/v1/projects", accountKey, `{"name":"shop"}`, 201, &p)
	e.key = p.APIKey
	t.Logf("litecoind past MWEB activation and server ready in %v", time.Since(start).Round(time.Millisecond))
	return e
}

// startServer starts invoiced on the harness's data directory (again, for
// a restart) and waits until its monitor has synced with the node.
func (e *ltcE2E) startServer() {
	e.t.Helper()
	srv, err := Start(Config{
		Listen: "127.0.0.1:0", DataDir: e.dir, Mode: "prod", BootstrapAccountKey: accountKey,
		Currencies:    []string{"LTC"},
		Litecoin:      &BitcoinNode{URL: e.node.URL, Cookie: e.node.Cookie, Net: hd.Regtest, XPub: e.wallet.tpub},
		Confirmations: e.conf, ChainPoll: e.poll, ExpiryInterval: e.poll,
		Clock: e.clock,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.t.Cleanup(e.stop)
	awaitReady(e.t, e.srv.Addr)
}

func (e *ltcE2E) createLTC(amount string) btcInvoice {
	e.t.Helper()
	e.orders++
	return e.createUTXO(e.wallet, fmt.Sprintf(`{"order_id":"o%d","crypto_amount":"%s","currency":"LTC"}`, e.orders, amount))
}

// txAmounts maps txid to amount in units of an invoice's transactions, and
// fails on a transaction listed twice (a payment counted twice).
func txAmounts(t *testing.T, inv btcInvoice) map[string]json.Number {
	t.Helper()
	m := map[string]json.Number{}
	for _, tr := range inv.Transactions {
		k := fmt.Sprintf("%s/%d", tr.TxID, tr.OutputIndex)
		if _, dup := m[k]; dup {
			t.Fatalf("output %s listed twice: %+v", k, inv.Transactions)
		}
		m[k] = tr.AmountInUnits
	}
	return m
}

func TestLitecoinE2E_PendingThenCompletedAfterConfirmations(t *testing.T) {
	e := newLtcE2E(t, map[string]int{"LTC": 2})
	inv := e.createLTC("0.001")
	if inv.Status != "new" || inv.AmountInUnits != "100000" || inv.BlockchainDetails.RequiredConfirmations != 2 {
		t.Fatalf("new invoice = %+v", inv)
	}
	txid := e.node.Send(t, litecoindtest.Miner, inv.BlockchainDetails.Address, 100_000)
	got := e.awaitInvoice(inv.ID, "pending, unconfirmed", func(i btcInvoice) bool { return i.Status == "pending" && i.Paid == "100000" })
	if len(got.Transactions) != 1 || got.Transactions[0].TxID != txid || got.Transactions[0].Status != "unconfirmed" {
		t.Fatalf("mempool transactions %+v, want %s unconfirmed", got.Transactions, txid)
	}
	e.node.Generate(t, 1)
	got = e.awaitInvoice(inv.ID, "1 confirmation", func(i btcInvoice) bool {
		return len(i.Transactions) == 1 && i.Transactions[0].Confirmations == 1
	})
	if got.Status != "pending" {
		t.Fatalf("after 1 of 2 confirmations: %s", got.Status)
	}
	e.node.Generate(t, 1)
	got = e.awaitInvoice(inv.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })
	if got.Paid != "100000" || len(got.Transactions) != 1 || got.Transactions[0].Confirmations != 2 || got.Transactions[0].Status != "confirmed" {
		t.Fatalf("completed: paid %s, transactions %+v", got.Paid, got.Transactions)
	}
}

func TestLitecoinE2E_PartialThenTwoOutputsInOneTransaction(t *testing.T) {
	e := newLtcE2E(t, map[string]int{"LTC": 1})
	inv := e.createLTC("0.001")
	addr := inv.BlockchainDetails.Address
	first := e.node.Send(t, litecoindtest.Miner, addr, 40_000)
	e.awaitInvoice(inv.ID, "paid_partial 40000", func(i btcInvoice) bool { return i.Status == "paid_partial" && i.Paid == "40000" })
	// The rest as two outputs of one transaction to the same address.
	second := e.node.PayOutputs(t, litecoindtest.Miner, []litecoindtest.Output{{Address: addr, Sat: 25_000}, {Address: addr, Sat: 35_000}})
	e.awaitInvoice(inv.ID, "pending 100000", func(i btcInvoice) bool { return i.Status == "pending" && i.Paid == "100000" })
	e.node.Generate(t, 1)
	got := e.awaitInvoice(inv.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })
	txAmounts(t, got)
	perTx := map[string][]string{}
	for _, tr := range got.Transactions {
		perTx[tr.TxID] = append(perTx[tr.TxID], tr.AmountInUnits.String())
	}
	if len(got.Transactions) != 3 || got.Paid != "100000" || len(perTx[first]) != 1 || len(perTx[second]) != 2 {
		t.Fatalf("transactions %+v, want %s once and two outputs of %s", got.Transactions, first, second)
	}
}

func TestLitecoinE2E_MWEBPegInBesidePaymentAndPegOutPayment(t *testing.T) {
	e := newLtcE2E(t, map[string]int{"LTC": 1})
	a := e.createLTC("0.002")
	b := e.createLTC("0.003")
	// A payment and a peg-in share the next block (with its HogEx and
	// extension block); an MWEB-internal transfer is in it too.
	pay := e.node.Send(t, litecoindtest.Miner, a.BlockchainDetails.Address, 200_000)
	e.node.Send(t, litecoindtest.Miner, e.node.NewAddress(t, litecoindtest.MWEB, "mweb"), 100_000_000)
	e.node.Send(t, litecoindtest.MWEB, e.node.NewAddress(t, litecoindtest.MWEB, "mweb"), 10_000_000)
	// b is paid from an MWEB balance: a peg-out, which has no canonical
	// output until the block's HogEx creates it.
	pegout := e.node.Send(t, litecoindtest.MWEB, b.BlockchainDetails.Address, 300_000)
	e.awaitInvoice(a.ID, "pending", func(i btcInvoice) bool { return i.Status == "pending" })
	if got := e.awaitInvoice(b.ID, "still new", func(i btcInvoice) bool { return true }); got.Status != "new" {
		t.Fatalf("peg-out seen before its block: %+v", got)
	}
	if n := len(e.node.Mempool(t)); n != 4 {
		t.Fatalf("mempool has %d transactions, want 4", n)
	}
	hash := e.node.Generate(t, 1)[0]
	var blk struct {
		Tx []string `json:"tx"`
	}
	e.node.RPC(t, "getblock", &blk, hash, 1)
	hogex := blk.Tx[len(blk.Tx)-1]
	got := e.awaitInvoice(a.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })
	if len(got.Transactions) != 1 || got.Transactions[0].TxID != pay {
		t.Fatalf("a: %+v", got.Transactions)
	}
	got = e.awaitInvoice(b.ID, "completed by the peg-out", func(i btcInvoice) bool { return i.Status == "completed" })
	if len(got.Transactions) != 1 || got.Transactions[0].TxID != hogex || got.Transactions[0].TxID == pegout || got.Paid != "300000" {
		t.Fatalf("b: %+v; want paid by an output of the HogEx %s (the payer's wallet shows %s)", got.Transactions, hogex, pegout)
	}
}

func TestLitecoinE2E_ReorgWithDoubleSpendDropsPayment(t *testing.T) {
	e := newLtcE2E(t, map[string]int{"LTC": 1})
	inv := e.createLTC("0.001")
	// The payment signals RBF, so a double spend with a higher fee
	// replaces it once it is back in the mempool. (generateblock, which
	// would mine the double spend directly, fails on MWEB blocks in
	// litecoind 0.21.2.1: "Internal bug detected: 'block.vtx.size() == 1'".)
	txid := e.node.SendReplaceable(t, litecoindtest.Miner, inv.BlockchainDetails.Address, 100_000)
	paidIn := e.node.Generate(t, 1)[0]
	oldHeight, _ := e.node.Tip(t)
	e.awaitInvoice(inv.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })

	// Disconnect the block (the payment returns to the mempool), then
	// mine a longer chain whose first block double-spends its input.
	e.node.RPC(t, "invalidateblock", nil, paidIn)
	if !e.node.InMempool(t, txid) {
		t.Fatal("the disconnected payment is not back in the mempool")
	}
	double := e.node.DoubleSpend(t, litecoindtest.Miner, txid, e.node.NewAddress(t, litecoindtest.Miner, "bech32"), 100_000)
	var doubleID string
	e.node.RPC(t, "sendrawtransaction", &doubleID, double)
	e.node.Generate(t, 2)
	if h, _ := e.node.Tip(t); h != oldHeight+1 {
		t.Fatalf("tip at %d after the reorg, want %d", h, oldHeight+1)
	}
	if e.node.InMempool(t, txid) {
		t.Fatal("the payment survived its double spend")
	}
	backToNew := func(i btcInvoice) bool { return i.Status == "new" && i.Paid == "0" && len(i.Transactions) == 0 }
	e.awaitInvoice(inv.ID, "new, paid 0, no transactions", backToNew)

	other := e.createLTC("0.002")
	e.node.Send(t, litecoindtest.Miner, other.BlockchainDetails.Address, 200_000)
	e.node.Generate(t, 1)
	e.awaitInvoice(other.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })
	e.awaitInvoice(inv.ID, "still new", backToNew)
}

func TestLitecoinE2E_NodeRestartThenInvoicedRestart(t *testing.T) {
	e := newLtcE2E(t, map[string]int{"LTC": 2})
	a := e.createLTC("0.001")
	txA := e.node.Send(t, litecoindtest.Miner, a.BlockchainDetails.Address, 100_000)
	e.awaitInvoice(a.ID, "pending", func(i btcInvoice) bool { return i.Status == "pending" })

	// The node restarts with a new cookie while invoiced runs: the
	// monitor is refused once, reads the new cookie and carries on.
	e.node.Restart(t)
	e.node.Generate(t, 1)
	e.awaitInvoice(a.ID, "1 confirmation after the node restart", func(i btcInvoice) bool {
		return len(i.Transactions) == 1 && i.Transactions[0].Confirmations == 1
	})

	// invoiced stops; meanwhile a's payment confirms and b is paid and
	// mined. After the restart the monitor resumes from its persisted
	// cursor: both are seen, nothing twice.
	b := e.createLTC("0.002")
	e.stop()
	txB := e.node.Send(t, litecoindtest.Miner, b.BlockchainDetails.Address, 200_000)
	e.node.Generate(t, 2)
	e.startServer()
	gotA := e.awaitInvoice(a.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })
	gotB := e.awaitInvoice(b.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })
	if gotA.Paid != "100000" || len(gotA.Transactions) != 1 || gotA.Transactions[0].TxID != txA {
		t.Fatalf("a after the restart: paid %s, %+v", gotA.Paid, gotA.Transactions)
	}
	if gotB.Paid != "200000" || len(gotB.Transactions) != 1 || gotB.Transactions[0].TxID != txB {
		t.Fatalf("b after the restart: paid %s, %+v", gotB.Paid, gotB.Transactions)
	}
	txAmounts(t, gotA)
}
