package server

// End-to-end tests against a real btcd --regtest node (issue 3 item 5): the
// server follows the node with only the merchant's account-level tpub, the
// test pays invoice addresses with real signed transactions, mines, and
// reads the result through the HTTP API. Without a btcd binary they skip
// (.ci/install-btcd installs it; CI runs them).

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain/bitcoin/btcdtest"
	"github.com/invoiced/invoiced/chain/hd"
	"github.com/invoiced/invoiced/chain/segwit"
	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/internal/clock"
)

// btcE2EFee is the fee of every payment the tests send, in satoshis.
const btcE2EFee = 10_000

// btcE2EWallet is the merchant's wallet: the account key m/84'/coin'/0' of a
// fixed seed. The server only ever sees tpub, its public half.
type btcE2EWallet struct {
	tpub    string
	coin    uint32
	hrp     string                  // bech32 prefix of its regtest addresses
	branch  *hdkeychain.ExtendedKey // m/84'/coin'/0'/0, private
	receive []string                // the receive addresses m/84'/coin'/0'/0/i derived so far
}

func btcE2EMerchantWallet(t *testing.T) *btcE2EWallet {
	t.Helper()
	return utxoMerchantWallet(t, 1, "bcrt")
}

// utxoMerchantWallet is the BIP84 wallet of coin type coin (1 for BTC's
// test networks, 2 for LTC) whose regtest addresses start with hrp.
func utxoMerchantWallet(t *testing.T, coin uint32, hrp string) *btcE2EWallet {
	t.Helper()
	seed := sha256.Sum256([]byte("invoiced bitcoin end-to-end test wallet"))
	k, err := hdkeychain.NewMaster(seed[:], btcdtest.Params) // a tprv
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{84, coin, 0} { // private (hardened) derivation
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	w := &btcE2EWallet{tpub: pub.String(), coin: coin, hrp: hrp}
	if !strings.HasPrefix(w.tpub, "tpub") {
		t.Fatalf("account key %s is not a tpub", w.tpub)
	}
	if w.branch, err = k.Derive(0); err != nil {
		t.Fatal(err)
	}
	return w
}

// index returns the receive index of addr, searching the first max
// indexes, or -1.
func (w *btcE2EWallet) index(t *testing.T, addr string, max int) int {
	t.Helper()
	for i := 0; i < max; i++ {
		for len(w.receive) <= i {
			child, err := w.branch.Derive(uint32(len(w.receive)))
			if err != nil {
				t.Fatal(err)
			}
			pk, err := child.ECPubKey()
			if err != nil {
				t.Fatal(err)
			}
			a, err := segwit.EncodeV0(w.hrp, [20]byte(address.Hash160(pk.SerializeCompressed())))
			if err != nil {
				t.Fatal(err)
			}
			w.receive = append(w.receive, a)
		}
		if w.receive[i] == addr {
			return i
		}
	}
	return -1
}

// btcE2E is a btcd node with mature coins to spend and a server in prod
// mode (BTC only) following it.
type btcE2E struct {
	*harness
	btcd   *btcdtest.Node
	coins  []btcdtest.Coin
	wallet *btcE2EWallet
}

func newBtcE2E(t *testing.T, conf map[string]int, coins int) *btcE2E {
	t.Helper()
	start := time.Now()
	b := btcdtest.Start(t)
	e := &btcE2E{btcd: b, coins: b.MatureCoins(t, coins), wallet: btcE2EMerchantWallet(t)}
	e.harness = &harness{t: t, dir: t.TempDir(), clock: clock.NewTest(time.Now().UTC()), poll: 50 * time.Millisecond, conf: conf}
	srv, err := Start(Config{
		Listen: "127.0.0.1:0", DataDir: e.dir, Mode: "prod", BootstrapAccountKey: accountKey,
		Currencies: []string{"BTC"},
		Bitcoin: &BitcoinNode{
			URL: b.URL, User: b.User, Password: b.Password, Net: hd.Regtest, XPub: e.wallet.tpub,
		},
		Confirmations: conf, ChainPoll: e.poll, ExpiryInterval: e.poll,
		Clock: e.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	t.Cleanup(e.stop)
	// Ready once the monitor has synced with the node: it starts at the
	// tip, so a block mined before that would go unseen.
	awaitReady(t, e.srv.Addr)
	var p struct {
		APIKey string `json:"api_key"`
	}
	e.call("POST", "/api/v1/projects", accountKey, `{"name":"shop"}`, 201, &p)
	e.key = p.APIKey
	t.Logf("btcd with %d mature coins and server ready in %v", coins, time.Since(start).Round(time.Millisecond))
	return e
}

// btcInvoice is the API's invoice with the fields these tests check.
type btcInvoice struct {
	ID                string      `json:"invoice_id"`
	Status            string      `json:"status"`
	AmountInUnits     json.Number `json:"crypto_amount_in_units"`
	Paid              json.Number `json:"actual_crypto_amount_paid_in_units"`
	BlockchainDetails struct {
		Address               string `json:"blockchainAddress"`
		RequiredConfirmations int    `json:"required_confirmations"`
	} `json:"blockchain_details"`
	Transactions []apiTx `json:"transactions"`
}

// createBTC creates an invoice and checks its address is one the merchant's
// wallet derives (m/84'/1'/0'/0/i).
func (e *btcE2E) createBTC(body string) btcInvoice {
	e.t.Helper()
	return e.createUTXO(e.wallet, body)
}

// createUTXO creates an invoice and checks its address is one w derives
// (m/84'/coin'/0'/0/i).
func (e *harness) createUTXO(w *btcE2EWallet, body string) btcInvoice {
	e.t.Helper()
	var inv btcInvoice
	e.call("POST", "/api/v1/invoices", e.key, body, 201, &inv)
	addr := inv.BlockchainDetails.Address
	// Not only the first few: the server derives addresses ahead in
	// batches of 256 and may hand out one past a batch being derived.
	const max = 1024
	i := w.index(e.t, addr, max)
	if i < 0 {
		e.t.Fatalf("invoice address %q is none of the wallet's receive addresses m/84'/%d'/0'/0/0..%d", addr, w.coin, max-1)
	}
	e.t.Logf("invoice %s pays to m/84'/%d'/0'/0/%d = %s", inv.ID, w.coin, i, addr)
	return inv
}

// nodeWithin is the clock time a wait for a real node's change lets pass,
// a poll at a time: a minute, far more polls than a change takes to be
// seen (a node's refusals included: the monitor backs off a few polls) and
// far less than an invoice's expiry (30 min unless a test sets it).
const nodeWithin = time.Minute

// awaitInvoice polls the invoice until cond holds, moving the clock a chain
// poll at a time for at most nodeWithin: a node wakes no monitor.
func (e *harness) awaitInvoice(id, what string, cond func(btcInvoice) bool) btcInvoice {
	e.t.Helper()
	var inv btcInvoice
	err := apitest.Drive(e.clock, e.poll, nodeWithin, func() error {
		inv = btcInvoice{}
		if e.call("GET", "/api/v1/invoices/"+id, e.key, "", 200, &inv); !cond(inv) {
			return fmt.Errorf("invoice %s: want %s; it is %s paid %s, transactions %+v", id, what, inv.Status, inv.Paid, inv.Transactions)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return inv
}

// pay sends a real transaction spending the next coin: amount satoshis to
// addr (output 0), the change back to the miner.
func (e *btcE2E) pay(addr string, amount int64, sequence uint32) *wire.MsgTx {
	e.t.Helper()
	if len(e.coins) == 0 {
		e.t.Fatal("no coins left to spend")
	}
	tx := e.btcd.Payment(e.t, e.coins[0], addr, amount, btcE2EFee, sequence)
	e.coins = e.coins[1:]
	e.btcd.Send(e.t, tx)
	return tx
}

func TestBitcoinE2E_PendingThenCompletedAfterConfirmations(t *testing.T) {
	start := time.Now()
	e := newBtcE2E(t, map[string]int{"BTC": 2}, 1)
	inv := e.createBTC(`{"order_id":"o","crypto_amount":"0.001","currency":"BTC"}`)
	if inv.Status != "new" || inv.AmountInUnits != "100000" || inv.BlockchainDetails.RequiredConfirmations != 2 {
		t.Fatalf("new invoice = %+v", inv)
	}
	tx := e.pay(inv.BlockchainDetails.Address, 100_000, wire.MaxTxInSequenceNum)
	txid := tx.TxHash().String()

	got := e.awaitInvoice(inv.ID, "pending with the payment unconfirmed", func(i btcInvoice) bool {
		return i.Status == "pending" && i.Paid == "100000"
	})
	if len(got.Transactions) != 1 || got.Transactions[0].TxID != txid || got.Transactions[0].Status != "unconfirmed" ||
		got.Transactions[0].Confirmations != 0 || got.Transactions[0].BlockHeight != nil {
		t.Fatalf("mempool transactions = %+v, want %s unconfirmed", got.Transactions, txid)
	}

	e.btcd.Generate(t, 1)
	height, _ := e.btcd.Tip(t)
	got = e.awaitInvoice(inv.ID, "1 confirmation", func(i btcInvoice) bool {
		return len(i.Transactions) == 1 && i.Transactions[0].Confirmations == 1
	})
	if got.Status != "pending" || got.Paid != "100000" || got.Transactions[0].Status != "confirming" {
		t.Fatalf("after 1 of 2 confirmations: %s paid %s, transactions %+v", got.Status, got.Paid, got.Transactions)
	}

	e.btcd.Generate(t, 1)
	got = e.awaitInvoice(inv.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" })
	want := apiTx{TxID: txid, OutputIndex: 0, Amount: "0.001", AmountInUnits: "100000", Confirmations: 2, Status: "confirmed"}
	if got.Paid != "100000" || len(got.Transactions) != 1 {
		t.Fatalf("completed invoice paid %s, transactions %+v", got.Paid, got.Transactions)
	}
	tr := got.Transactions[0]
	if tr.BlockHeight == nil || int64(*tr.BlockHeight) != height {
		t.Fatalf("block_height = %v, want %d", tr.BlockHeight, height)
	}
	tr.BlockHeight = nil
	if tr != want {
		t.Fatalf("transaction = %+v, want %+v", tr, want)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestBitcoinE2E_PartialThenRest(t *testing.T) {
	start := time.Now()
	e := newBtcE2E(t, map[string]int{"BTC": 1}, 2)
	inv := e.createBTC(`{"order_id":"o","crypto_amount":"0.001","currency":"BTC"}`)
	addr := inv.BlockchainDetails.Address

	first := e.pay(addr, 40_000, wire.MaxTxInSequenceNum).TxHash().String()
	e.awaitInvoice(inv.ID, "paid_partial 40000", func(i btcInvoice) bool {
		return i.Status == "paid_partial" && i.Paid == "40000"
	})
	second := e.pay(addr, 60_000, wire.MaxTxInSequenceNum).TxHash().String()
	e.awaitInvoice(inv.ID, "pending 100000", func(i btcInvoice) bool {
		return i.Status == "pending" && i.Paid == "100000"
	})
	e.btcd.Generate(t, 1)
	got := e.awaitInvoice(inv.ID, "completed 100000", func(i btcInvoice) bool {
		return i.Status == "completed" && i.Paid == "100000"
	})
	amounts := map[string]json.Number{}
	for _, tr := range got.Transactions {
		if tr.Status != "confirmed" || tr.Confirmations != 1 {
			t.Fatalf("transaction %+v is not confirmed", tr)
		}
		amounts[tr.TxID] = tr.AmountInUnits
	}
	if len(got.Transactions) != 2 || amounts[first] != "40000" || amounts[second] != "60000" {
		t.Fatalf("transactions = %+v, want %s (40000) and %s (60000)", got.Transactions, first, second)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestBitcoinE2E_ReorgWithDoubleSpendDropsPayment(t *testing.T) {
	start := time.Now()
	e := newBtcE2E(t, map[string]int{"BTC": 1}, 2)
	inv := e.createBTC(`{"order_id":"o","crypto_amount":"0.001","currency":"BTC"}`)
	coin := e.coins[0]
	// The payment signals RBF, so a double spend with a higher fee may
	// replace it once it is back in the mempool.
	tx := e.pay(inv.BlockchainDetails.Address, 100_000, btcdtest.RBFSequence)
	txid := tx.TxHash().String()
	paidIn := e.btcd.Generate(t, 1)[0]
	oldHeight, _ := e.btcd.Tip(t)
	e.awaitInvoice(inv.ID, "completed", func(i btcInvoice) bool {
		return i.Status == "completed" && i.Paid == "100000"
	})

	// A competing longer chain without the payment: disconnect its block
	// (btcd returns the payment to its mempool), double-spend its input
	// to another address with a higher fee, and mine two blocks on that.
	e.btcd.RPC(t, "invalidateblock", nil, paidIn)
	deadline := time.Now().Add(5 * time.Second)
	for !e.btcd.InMempool(t, txid) {
		if time.Now().After(deadline) {
			t.Fatal("the disconnected payment did not return to btcd's mempool within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	elsewhere := btcdtest.NewKey(t)
	double := e.btcd.Payment(t, coin, elsewhere.Addr, 100_000, 5*btcE2EFee, wire.MaxTxInSequenceNum)
	e.btcd.Send(t, double)
	if e.btcd.InMempool(t, txid) {
		t.Fatal("the double spend did not replace the payment in btcd's mempool")
	}
	e.btcd.Generate(t, 2)
	if h, _ := e.btcd.Tip(t); h != oldHeight+1 {
		t.Fatalf("tip at %d after the reorg, want %d", h, oldHeight+1)
	}

	backToNew := func(i btcInvoice) bool { return i.Status == "new" && i.Paid == "0" && len(i.Transactions) == 0 }
	e.awaitInvoice(inv.ID, "new, paid 0, no transactions", backToNew)

	// A second invoice paid and confirmed on the new chain proves the
	// server has followed it past the reorganisation; the first is still
	// back at new.
	other := e.createBTC(`{"order_id":"p","crypto_amount":"0.002","currency":"BTC"}`)
	e.pay(other.BlockchainDetails.Address, 200_000, wire.MaxTxInSequenceNum)
	e.btcd.Generate(t, 1)
	e.awaitInvoice(other.ID, "completed", func(i btcInvoice) bool { return i.Status == "completed" && i.Paid == "200000" })
	e.awaitInvoice(inv.ID, "still new after the server followed the new chain", backToNew)
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestBitcoinE2E_LatePaymentAfterExpiry(t *testing.T) {
	start := time.Now()
	e := newBtcE2E(t, map[string]int{"BTC": 1}, 1)
	inv := e.createBTC(`{"order_id":"o","crypto_amount":"0.001","currency":"BTC","expire_min":5}`)
	e.clock.Add(6 * time.Minute)
	e.awaitInvoice(inv.ID, "expired", func(i btcInvoice) bool { return i.Status == "expired" && i.Paid == "0" })

	txid := e.pay(inv.BlockchainDetails.Address, 100_000, wire.MaxTxInSequenceNum).TxHash().String()
	got := e.awaitInvoice(inv.ID, "the late payment recorded", func(i btcInvoice) bool { return i.Paid == "100000" })
	if got.Status != "expired" || len(got.Transactions) != 1 || got.Transactions[0].TxID != txid || !got.Transactions[0].Late {
		t.Fatalf("after a late payment: %s, transactions %+v; want expired with %s late", got.Status, got.Transactions, txid)
	}
	e.btcd.Generate(t, 1)
	got = e.awaitInvoice(inv.ID, "the late payment confirmed", func(i btcInvoice) bool {
		return len(i.Transactions) == 1 && i.Transactions[0].Status == "confirmed"
	})
	if got.Status != "expired" || got.Paid != "100000" || !got.Transactions[0].Late {
		t.Fatalf("after the late payment confirmed: %s paid %s, transactions %+v", got.Status, got.Paid, got.Transactions)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
