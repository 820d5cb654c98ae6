package server

// End-to-end tests against a real geth --dev node: the server follows the
// node for ETH and a USDT token (the TestToken fixture, deployed per test)
// with only the merchant's account-level xpub of m/44'/60'/0', the test
// pays invoice addresses with real transactions from geth's developer
// account, and reads the result through the HTTP API. geth --dev.period 0
// mines one block per transaction, so "another block" is "another
// transaction". Without a geth binary they skip (.ci/install-geth installs
// it; CI runs them).

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/invoiced/invoiced/chain/ethereum/gethtest"
	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/internal/clock"
)

// ethE2EWallet is the merchant's Ethereum wallet: the account key
// m/44'/60'/0' of a fixed seed. The server only ever sees xpub, its public
// half; the test derives the expected deposit addresses privately.
type ethE2EWallet struct {
	xpub     string
	branches map[string]*hdkeychain.ExtendedKey // currency -> m/44'/60'/0'/branch, private
}

// Branches below the account key, as the server's derivers use them.
var ethE2EBranch = map[string]uint32{"ETH": 0, "USDT": 1}

func ethE2EMerchantWallet(t *testing.T) *ethE2EWallet {
	t.Helper()
	seed := sha256.Sum256([]byte("invoiced ethereum end-to-end test wallet"))
	k, err := hdkeychain.NewMaster(seed[:], &chaincfg.MainNetParams) // an xprv
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []uint32{44, 60, 0} { // private (hardened) derivation
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	w := &ethE2EWallet{xpub: pub.String(), branches: map[string]*hdkeychain.ExtendedKey{}}
	if !strings.HasPrefix(w.xpub, "xpub") {
		t.Fatalf("account key %s is not an xpub", w.xpub)
	}
	for cur, b := range ethE2EBranch {
		if w.branches[cur], err = k.Derive(b); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// address is the EIP-55 account of m/44'/60'/0'/branch(currency)/i,
// derived from the private key.
func (w *ethE2EWallet) address(t *testing.T, currency string, i uint32) string {
	t.Helper()
	child, err := w.branches[currency].Derive(i)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := child.ECPrivKey()
	if err != nil {
		t.Fatal(err)
	}
	return gethtest.PubKeyAddress(priv.PubKey().SerializeUncompressed())
}

// ethE2E is a geth --dev node with the fixture token deployed and a server
// in prod mode (ETH and USDT only) following it.
type ethE2E struct {
	*harness
	geth   *gethtest.Node
	token  string // the USDT contract, EIP-55
	wallet *ethE2EWallet
	next   map[string]uint32 // the derivation index the next invoice of a currency gets
}

// ethE2ESupply is the fixture token's supply, all held by geth's developer
// account.
var ethE2ESupply = new(big.Int).Lsh(big.NewInt(1), 128)

func newEthE2E(t *testing.T, conf map[string]int) *ethE2E {
	t.Helper()
	start := time.Now()
	g := gethtest.Start(t, 0)
	token, _ := g.DeployToken(t, ethE2ESupply)
	e := &ethE2E{geth: g, token: gethtest.Checksum(token), wallet: ethE2EMerchantWallet(t), next: map[string]uint32{}}
	e.harness = &harness{t: t, dir: t.TempDir(), clock: clock.NewTest(time.Now().UTC()), poll: 50 * time.Millisecond, conf: conf}
	srv, err := Start(Config{
		Listen: "127.0.0.1:0", DataDir: e.dir, Mode: "prod", BootstrapAccountKey: accountKey,
		Currencies: []string{"ETH", "USDT"},
		Ethereum:   &EthereumNode{URL: g.URL, Net: "dev", XPub: e.wallet.xpub, USDTContract: e.token},
		// TestToken says decimals 6, but nothing reads that: the engine
		// counts USDT in its own 6-decimal units and the node reports raw
		// token units, so the amounts below are raw units throughout.
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
	t.Logf("geth, token %s and server ready in %v", e.token, time.Since(start).Round(time.Millisecond))
	return e
}

// ethInvoice is the API's invoice with the fields these tests check.
type ethInvoice struct {
	ID                string      `json:"invoice_id"`
	Status            string      `json:"status"`
	Currency          string      `json:"currency"`
	AmountInUnits     json.Number `json:"crypto_amount_in_units"`
	Paid              json.Number `json:"actual_crypto_amount_paid_in_units"`
	BlockchainDetails struct {
		Address               string `json:"blockchainAddress"`
		PaymentURI            string `json:"payment_uri"`
		RequiredConfirmations int    `json:"required_confirmations"`
	} `json:"blockchain_details"`
	Transactions []apiTx `json:"transactions"`
}

// create creates an invoice and checks it is new, asks for units, and pays
// to the address the merchant's wallet derives at m/44'/60'/0'/b/i, where b
// is the currency's branch and i the next index of that currency (the
// server hands indexes out strictly in order, from 0 in a fresh store).
func (e *ethE2E) create(currency, amount, units string) ethInvoice {
	e.t.Helper()
	i := e.next[currency]
	e.next[currency]++
	var inv ethInvoice
	e.call("POST", "/api/v1/invoices", e.key, fmt.Sprintf(`{"order_id":"%s-%d","crypto_amount":%q,"currency":%q}`,
		currency, i, amount, currency), 201, &inv)
	if inv.Status != "new" || inv.Currency != currency || inv.AmountInUnits != json.Number(units) ||
		inv.BlockchainDetails.RequiredConfirmations != e.conf[currency] {
		e.t.Fatalf("new %s invoice of %s = %+v; want new, %s units, %d confirmations",
			currency, amount, inv, units, e.conf[currency])
	}
	addr := inv.BlockchainDetails.Address
	if want := e.wallet.address(e.t, currency, i); addr != want {
		for j := uint32(0); j < 1024; j++ { // say what it is, if anything
			if addr == e.wallet.address(e.t, currency, j) {
				e.t.Fatalf("%s invoice address %s is index %d, want the next index %d (%s)", currency, addr, j, i, want)
			}
		}
		e.t.Fatalf("%s invoice address %q is none of the wallet's m/44'/60'/0'/%d/0..1023; want index %d = %s",
			currency, addr, ethE2EBranch[currency], i, want)
	}
	e.t.Logf("%s invoice %s pays to m/44'/60'/0'/%d/%d = %s", currency, inv.ID, ethE2EBranch[currency], i, addr)
	return inv
}

// awaitInvoice polls the invoice until cond holds, moving the clock a chain
// poll at a time for at most nodeWithin: a node wakes no monitor.
func (e *ethE2E) awaitInvoice(id, what string, cond func(ethInvoice) bool) ethInvoice {
	e.t.Helper()
	var inv ethInvoice
	err := apitest.Drive(e.clock, e.poll, nodeWithin, func() error {
		if inv = e.get(id); !cond(inv) {
			return fmt.Errorf("invoice %s: want %s; it is %s paid %s, transactions %+v", id, what, inv.Status, inv.Paid, inv.Transactions)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return inv
}

// get reads an invoice once.
func (e *ethE2E) get(id string) ethInvoice {
	e.t.Helper()
	var inv ethInvoice
	e.call("GET", "/api/v1/invoices/"+id, e.key, "", 200, &inv)
	return inv
}

// metric reads one sample from /metrics, e.g.
// invoiced_chain_height{network="ethereum-dev"}; 0 when absent.
func (e *ethE2E) metric(sample string) float64 {
	e.t.Helper()
	resp, err := http.Get("http://" + e.srv.Addr + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("/metrics: %q: %v", sc.Text(), err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		e.t.Fatal(err)
	}
	return 0
}

// awaitHeight waits, moving the clock as awaitInvoice does, until the ETH
// monitor has durably processed the block at height (every invoice change
// it causes applied).
func (e *ethE2E) awaitHeight(height uint64) {
	e.t.Helper()
	const sample = `invoiced_chain_height{network="ethereum-dev"}`
	err := apitest.Drive(e.clock, e.poll, nodeWithin, func() error {
		if got := e.metric(sample); got < float64(height) {
			return fmt.Errorf("%s is %v, want %d", sample, got, height)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

var (
	halfEther = big.NewInt(500_000_000_000_000_000) // 0.5 ETH in wei
	usdt12_5  = big.NewInt(12_500_000)              // 12.5 USDT in 6-decimal units
)

func TestEthereumE2E_ETHPendingThenCompletedAfterConfirmations(t *testing.T) {
	start := time.Now()
	e := newEthE2E(t, map[string]int{"ETH": 2, "USDT": 1})
	inv := e.create("ETH", "0.5", "500000000000000000")
	if !strings.HasPrefix(inv.BlockchainDetails.PaymentURI, "ethereum:"+inv.BlockchainDetails.Address) {
		t.Errorf("payment_uri = %q, want ethereum:%s...", inv.BlockchainDetails.PaymentURI, inv.BlockchainDetails.Address)
	}

	// geth mines the payment into a block of its own at once: 1 of 2.
	txid, r := e.geth.SendAndWait(t, gethtest.Tx{To: inv.BlockchainDetails.Address, Value: halfEther})
	got := e.awaitInvoice(inv.ID, "pending with 1 confirmation", func(i ethInvoice) bool {
		return len(i.Transactions) == 1 && i.Transactions[0].Confirmations == 1
	})
	if got.Status != "pending" || got.Paid != "500000000000000000" || got.Transactions[0].TxID != txid ||
		got.Transactions[0].Status != "confirming" {
		t.Fatalf("after 1 of 2 confirmations: %s paid %s, transactions %+v; want pending, %s confirming",
			got.Status, got.Paid, got.Transactions, txid)
	}

	// Any transaction makes the next block: 2 of 2.
	e.geth.MineBlock(t)
	got = e.awaitInvoice(inv.ID, "completed", func(i ethInvoice) bool { return i.Status == "completed" })
	if got.Paid != "500000000000000000" || len(got.Transactions) != 1 {
		t.Fatalf("completed invoice paid %s, transactions %+v", got.Paid, got.Transactions)
	}
	tr := got.Transactions[0]
	if tr.BlockHeight == nil || *tr.BlockHeight != uint64(r.BlockNumber) {
		t.Fatalf("block_height = %v, want %d", tr.BlockHeight, r.BlockNumber)
	}
	tr.BlockHeight = nil
	want := apiTx{TxID: txid, OutputIndex: 0, Amount: "0.5", AmountInUnits: "500000000000000000", Confirmations: 2, Status: "confirmed"}
	if tr != want {
		t.Fatalf("transaction = %+v, want %+v", tr, want)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

func TestEthereumE2E_USDTTransferCompletes(t *testing.T) {
	start := time.Now()
	e := newEthE2E(t, map[string]int{"ETH": 2, "USDT": 1})
	// Interleaved invoices of both currencies: each currency has its own
	// branch (ETH 0, USDT 1) and its own index sequence, so the same index
	// never gives the same address.
	seen := map[string]string{}
	var usdt []ethInvoice
	for range 3 {
		for _, inv := range []ethInvoice{e.create("ETH", "0.5", "500000000000000000"), e.create("USDT", "12.5", "12500000")} {
			if other, dup := seen[inv.BlockchainDetails.Address]; dup {
				t.Fatalf("invoices %s and %s share address %s", other, inv.ID, inv.BlockchainDetails.Address)
			}
			seen[inv.BlockchainDetails.Address] = inv.ID
			if inv.Currency == "USDT" {
				usdt = append(usdt, inv)
			}
		}
	}
	inv := usdt[0]
	// The payment URI names the contract the server follows, not mainnet's.
	if uri := inv.BlockchainDetails.PaymentURI; !strings.HasPrefix(uri, "ethereum:"+e.token+"/transfer?address="+inv.BlockchainDetails.Address) ||
		!strings.HasSuffix(uri, "uint256=12500000") {
		t.Errorf("payment_uri = %q, want ethereum:%s/transfer?address=%s...&uint256=12500000", uri, e.token, inv.BlockchainDetails.Address)
	}

	// transfer(address,uint256) of 12500000 raw token units from the
	// developer account, which holds the minted supply.
	txid, r := e.geth.Transfer(t, e.token, inv.BlockchainDetails.Address, usdt12_5)
	got := e.awaitInvoice(inv.ID, "completed", func(i ethInvoice) bool { return i.Status == "completed" })
	if got.Paid != "12500000" || len(got.Transactions) != 1 {
		t.Fatalf("completed invoice paid %s, transactions %+v", got.Paid, got.Transactions)
	}
	tr := got.Transactions[0]
	if tr.BlockHeight == nil || *tr.BlockHeight != uint64(r.BlockNumber) {
		t.Fatalf("block_height = %v, want %d", tr.BlockHeight, r.BlockNumber)
	}
	tr.BlockHeight = nil
	// OutputIndex is the Transfer log's index within the transaction.
	want := apiTx{TxID: txid, OutputIndex: 0, Amount: "12.5", AmountInUnits: "12500000", Confirmations: 1, Status: "confirmed"}
	if tr != want {
		t.Fatalf("transaction = %+v, want %+v", tr, want)
	}
	if bal := e.geth.TokenBalance(t, e.token, inv.BlockchainDetails.Address); bal.Cmp(usdt12_5) != 0 {
		t.Fatalf("token balance of %s = %v, want 12500000", inv.BlockchainDetails.Address, bal)
	}
	// The other invoices are untouched.
	for _, other := range usdt[1:] {
		if o := e.get(other.ID); o.Status != "new" || o.Paid != "0" {
			t.Fatalf("unpaid USDT invoice %s is %s paid %s", o.ID, o.Status, o.Paid)
		}
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}

// TestEthereumE2E_WrongCurrencyPaysNothing: ether sent to a USDT invoice's
// address (and, the other way round, USDT tokens sent to an ETH invoice's
// address) pays nothing. The monitor matches a payment by (currency,
// address), and the USDT address m/44'/60'/0'/1/i is watched only for
// USDT Transfer logs, so the ETH output is an unwatched one: counted in
// invoiced_chain_outputs_ignored_total{currency="ETH"}, never tracked,
// never shown on any invoice, not even as a transaction. The invoice stays
// new. The amounts are the invoices' own unit counts (12500000 wei, 5*10^17
// token units), so a match on the address alone would have completed
// them. The funds stay on the address; the merchant's wallet holds its key
// (same account) and can recover them by hand, but invoiced does not
// report them. A correct payment afterwards completes each invoice with
// only that payment counted.
func TestEthereumE2E_WrongCurrencyPaysNothing(t *testing.T) {
	start := time.Now()
	e := newEthE2E(t, map[string]int{"ETH": 2, "USDT": 1})
	usdtInv := e.create("USDT", "12.5", "12500000")
	ethInv := e.create("ETH", "0.5", "500000000000000000")
	usdtAddr, ethAddr := usdtInv.BlockchainDetails.Address, ethInv.BlockchainDetails.Address

	e.geth.SendAndWait(t, gethtest.Tx{To: usdtAddr, Value: usdt12_5})
	_, r := e.geth.Transfer(t, e.token, ethAddr, halfEther)
	e.awaitHeight(uint64(r.BlockNumber))
	// Both were seen and ignored: outputs to addresses no invoice watches
	// for their currency (nothing else in this test pays such an address;
	// the token's mint was before the server started).
	for _, cur := range []string{"ETH", "USDT"} {
		if n := e.metric(`invoiced_chain_outputs_ignored_total{currency="` + cur + `"}`); n < 1 {
			t.Errorf("invoiced_chain_outputs_ignored_total{currency=%q} = %v, want the wrong-currency payment counted", cur, n)
		}
	}
	for _, id := range []string{usdtInv.ID, ethInv.ID} {
		if got := e.get(id); got.Status != "new" || got.Paid != "0" || len(got.Transactions) != 0 {
			t.Fatalf("invoice %s paid in the wrong currency: %s paid %s, transactions %+v; want new, 0, none",
				id, got.Status, got.Paid, got.Transactions)
		}
	}
	if bal := e.geth.Balance(t, usdtAddr); bal.Cmp(usdt12_5) != 0 {
		t.Fatalf("ether balance of %s = %v wei, want 12500000", usdtAddr, bal)
	}

	// Correct payments: ETH first, so the USDT transfer's block is its
	// second confirmation.
	ethTx, _ := e.geth.SendAndWait(t, gethtest.Tx{To: ethAddr, Value: halfEther})
	usdtTx, _ := e.geth.Transfer(t, e.token, usdtAddr, usdt12_5)
	for _, c := range []struct{ id, paid, txid string }{{usdtInv.ID, "12500000", usdtTx}, {ethInv.ID, "500000000000000000", ethTx}} {
		got := e.awaitInvoice(c.id, "completed", func(i ethInvoice) bool { return i.Status == "completed" })
		if got.Paid != json.Number(c.paid) || len(got.Transactions) != 1 || got.Transactions[0].TxID != c.txid {
			t.Fatalf("invoice %s paid %s, transactions %+v; want %s from %s alone", c.id, got.Paid, got.Transactions, c.paid, c.txid)
		}
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
