package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/internal/clock"
)

const accountKey = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"

type harness struct {
	t     *testing.T
	dir   string
	clock *clock.Test
	poll  time.Duration // the server's chain poll and expiry interval: the step its waits move the clock by
	srv   *Server
	key   string // project key
	conf  map[string]int
}

func newHarness(t *testing.T, conf map[string]int) *harness {
	h := &harness{t: t, dir: t.TempDir(), clock: clock.NewTest(time.Now().UTC()), poll: 10 * time.Millisecond, conf: conf}
	h.start()
	var p struct {
		APIKey string `json:"api_key"`
	}
	h.call("POST", "/api/v1/projects", accountKey, `{"name":"shop"}`, 201, &p)
	h.key = p.APIKey
	return h
}

func (h *harness) start() {
	h.t.Helper()
	srv, err := Start(Config{
		Listen: "127.0.0.1:0", DataDir: h.dir, Mode: "dev", BootstrapAccountKey: accountKey,
		Confirmations: h.conf, ChainPoll: h.poll, ExpiryInterval: h.poll, Clock: h.clock,
		StateCacheBytes: invoice.DefaultStateCacheBytes, RenderCacheBytes: invoice.DefaultRenderCacheBytes, // as the command line
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.srv = srv
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.srv == nil {
		return
	}
	if err := h.srv.Shutdown(context.Background()); err != nil {
		h.t.Errorf("shutdown: %v", err)
	}
	h.srv = nil
}

func (h *harness) call(method, path, key, body string, want int, out any) {
	h.t.Helper()
	status, b := apitest.Call(h.t, "http://"+h.srv.Addr, method, path, key, body)
	if status != want {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if out != nil {
		apitest.Decode(h.t, b, out)
	}
}

type apiInvoice struct {
	ID                string      `json:"invoice_id"`
	UserID            string      `json:"user_id"`
	Status            string      `json:"status"`
	Paid              json.Number `json:"actual_crypto_amount_paid_in_units"`
	BlockchainDetails struct {
		Address string `json:"blockchainAddress"`
	} `json:"blockchain_details"`
	Transactions []struct {
		TxID          string `json:"txid"`
		Status        string `json:"status"`
		Confirmations int    `json:"confirmations"`
		Late          bool   `json:"late"`
	} `json:"transactions"`
}

// total is the project's number of invoices (the list's total_records).
func (h *harness) total() int {
	h.t.Helper()
	var list struct {
		Pagination struct {
			Total int `json:"total_records"`
		} `json:"pagination"`
	}
	h.call("GET", "/api/v1/invoices", h.key, "", 200, &list)
	return list.Pagination.Total
}

func (h *harness) create(body string) apiInvoice {
	var inv apiInvoice
	h.call("POST", "/api/v1/invoices", h.key, body, 201, &inv)
	return inv
}

func (h *harness) get(id string) apiInvoice {
	var inv apiInvoice
	h.call("GET", "/api/v1/invoices/"+id, h.key, "", 200, &inv)
	return inv
}

// await polls the invoice until it has status and paid (units), holding
// the clock still: the change must come from the dev chain's wake-ups,
// each of which brings a monitor round after it. A dropped payment takes a
// second round (awaitWithin).
func (h *harness) await(id, status, paid string) apiInvoice {
	h.t.Helper()
	return h.awaitWithin(0, id, status, paid)
}

// awaitWithin is await letting up to d of clock time pass, a chain poll at
// a time, for what only the monitors' polls see: a payment gone from the
// mempool is reverted on the second round that misses it.
func (h *harness) awaitWithin(d time.Duration, id, status, paid string) apiInvoice {
	h.t.Helper()
	var inv apiInvoice
	err := apitest.Drive(h.clock, h.poll, d, func() error {
		if inv = h.get(id); inv.Status != status || string(inv.Paid) != paid {
			return fmt.Errorf("invoice %s is %s paid %s; want %s paid %s", id, inv.Status, inv.Paid, status, paid)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return inv
}

func (h *harness) pay(currency, address, amount string) string {
	var out struct{ TxID string }
	h.call("POST", "/dev/pay", "", fmt.Sprintf(`{"currency":%q,"address":%q,"amount":%q}`, currency, address, amount), 200, &out)
	return out.TxID
}

func (h *harness) mine(currency string, n int) {
	h.call("POST", "/dev/mine", "", fmt.Sprintf(`{"currency":%q,"blocks":%d}`, currency, n), 200, nil)
}

func TestChain_PendingThenCompletedAfterConfirmations(t *testing.T) {
	h := newHarness(t, map[string]int{"BTC": 2})
	inv := h.create(`{"order_id":"o","crypto_amount":"0.001","currency":"BTC"}`)
	h.pay("BTC", inv.BlockchainDetails.Address, "0.001")
	got := h.await(inv.ID, "pending", "100000")
	if len(got.Transactions) != 1 || got.Transactions[0].Status != "unconfirmed" {
		t.Fatalf("transactions = %+v", got.Transactions)
	}
	h.mine("BTC", 1)
	got = h.await(inv.ID, "pending", "100000")
	for got.Transactions[0].Confirmations != 1 {
		got = h.get(inv.ID)
	}
	h.mine("BTC", 1)
	got = h.await(inv.ID, "completed", "100000")
	if got.Transactions[0].Status != "confirmed" || got.Transactions[0].Confirmations != 2 {
		t.Fatalf("transactions = %+v", got.Transactions)
	}
}

func TestChain_PartialThenRestAndOverpayment(t *testing.T) {
	h := newHarness(t, nil)
	inv := h.create(`{"order_id":"o","crypto_amount":"1","currency":"ETH"}`)
	addr := inv.BlockchainDetails.Address
	h.pay("ETH", addr, "0.4")
	h.await(inv.ID, "paid_partial", "400000000000000000")
	h.pay("ETH", addr, "0.7")
	h.await(inv.ID, "pending", "1100000000000000000")
	h.mine("ETH", 1)
	h.await(inv.ID, "completed", "1100000000000000000")

	// A payment to an address nobody watches changes nothing anywhere.
	h.pay("ETH", "0x000000000000000000000000000000000000dEaD", "5")
	h.mine("ETH", 1)
	h.await(inv.ID, "completed", "1100000000000000000")
}

func TestChain_ReorgDropsPaymentAndInvoiceGoesBack(t *testing.T) {
	h := newHarness(t, nil)
	inv := h.create(`{"order_id":"o","crypto_amount":"0.5","currency":"LTC"}`)
	tx := h.pay("LTC", inv.BlockchainDetails.Address, "0.5")
	h.mine("LTC", 1)
	h.await(inv.ID, "completed", "50000000")

	// A competing longer chain without the payment, which was double-spent.
	c := h.srv.DevChain("LTC")
	if err := c.Disconnect(1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DoubleSpend(tx, "rltc1qattacker", big.NewInt(50000000)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MineEmpty(2); err != nil {
		t.Fatal(err)
	}
	h.awaitWithin(time.Second, inv.ID, "new", "0")
}

func TestChain_ReorgKeepsPaymentThatIsMinedAgain(t *testing.T) {
	h := newHarness(t, nil)
	inv := h.create(`{"order_id":"o","crypto_amount":"0.5","currency":"LTC"}`)
	h.pay("LTC", inv.BlockchainDetails.Address, "0.5")
	h.mine("LTC", 1)
	h.await(inv.ID, "completed", "50000000")
	c := h.srv.DevChain("LTC")
	c.Disconnect(1) // back to the mempool...
	c.Mine(2)       // ...and into the new chain
	got := h.await(inv.ID, "completed", "50000000")
	if len(got.Transactions) != 1 {
		t.Fatalf("payment counted %d times", len(got.Transactions))
	}
}

func TestChain_DoubleSpendInMempool(t *testing.T) {
	h := newHarness(t, nil)
	inv := h.create(`{"order_id":"o","crypto_amount":"0.001","currency":"BTC"}`)
	tx := h.pay("BTC", inv.BlockchainDetails.Address, "0.001")
	h.await(inv.ID, "pending", "100000")
	if _, err := h.srv.DevChain("BTC").DoubleSpend(tx, "bcrt1qelsewhere", big.NewInt(100000)); err != nil {
		t.Fatal(err)
	}
	h.awaitWithin(time.Second, inv.ID, "new", "0")
}

func TestChain_ExpiryAndLatePayment(t *testing.T) {
	h := newHarness(t, nil)
	unpaid := h.create(`{"order_id":"a","crypto_amount":"0.001","currency":"BTC","expire_min":5}`)
	alive := h.create(`{"order_id":"b","crypto_amount":"0.001","currency":"BTC","expire_min":5}`)
	h.pay("BTC", alive.BlockchainDetails.Address, "0.001")
	h.await(alive.ID, "pending", "100000")

	h.clock.Add(6 * time.Minute)
	h.await(unpaid.ID, "expired", "0")
	// The payment seen before expiry keeps the other alive until it confirms.
	h.mine("BTC", 1)
	h.await(alive.ID, "completed", "100000")

	// A payment after expiry is recorded, reported, and changes nothing.
	h.pay("BTC", unpaid.BlockchainDetails.Address, "0.001")
	got := h.await(unpaid.ID, "expired", "100000")
	if len(got.Transactions) != 1 || !got.Transactions[0].Late {
		t.Fatalf("late payment = %+v", got.Transactions)
	}
}

func TestChain_RestartResumesCursorAndKeepsPayments(t *testing.T) {
	h := newHarness(t, nil)
	done := h.create(`{"order_id":"a","crypto_amount":"0.001","currency":"BTC"}`)
	h.pay("BTC", done.BlockchainDetails.Address, "0.001")
	h.mine("BTC", 1)
	h.await(done.ID, "completed", "100000")
	waiting := h.create(`{"order_id":"b","crypto_amount":"0.001","currency":"BTC"}`)
	h.pay("BTC", waiting.BlockchainDetails.Address, "0.001")
	h.await(waiting.ID, "pending", "100000")

	h.stop()
	h.start()
	// The mempool did not survive (a node may lose it too): the unconfirmed
	// payment is gone (after two polls that miss it), the confirmed one
	// stays.
	h.awaitWithin(time.Second, waiting.ID, "new", "0")
	h.await(done.ID, "completed", "100000")
	// Watches survive the restart: a new payment to the open invoice counts.
	h.pay("BTC", waiting.BlockchainDetails.Address, "0.001")
	h.mine("BTC", 1)
	h.await(waiting.ID, "completed", "100000")
	if got := h.get(done.ID); got.Status != "completed" || len(got.Transactions) != 1 {
		t.Fatalf("after restart the old payment shows %+v", got)
	}
}

func TestDevEndpoints_ValidateInput(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/dev/pay", `{"currency":"BTC","address":"x","amount":"0.000000001"}`, 422},
		{"/dev/pay", `{"currency":"BTC","address":"x","amount":"-1"}`, 422},
		{"/dev/pay", `{"currency":"DOGE","address":"x","amount":"1"}`, 422},
		{"/dev/pay", `{"currency":"BTC","address":"","amount":"1"}`, 422},
		{"/dev/pay", `{"currency":"BTC","address":"x","amount":1}`, 400},
		{"/dev/mine", `{"currency":"BTC","blocks":0}`, 422},
		{"/dev/mine", `{"currency":"BTC","blocks":1001}`, 422},
	} {
		h.call("POST", tc.path, "", tc.body, tc.want, nil)
	}
}

func TestMetrics_ExposeEveryFamily(t *testing.T) {
	h := newHarness(t, nil)
	inv := h.create(`{"order_id":"o","crypto_amount":"0.001","currency":"BTC"}`)
	h.pay("BTC", inv.BlockchainDetails.Address, "0.001")
	h.await(inv.ID, "pending", "100000")
	h.mine("BTC", 1)
	h.await(inv.ID, "completed", "100000")
	h.call("GET", "/api/v1/invoices/"+inv.ID, h.key, "", 200, nil)

	scrape := func() string {
		resp, err := http.Get("http://" + h.srv.Addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	wants := []string{
		`invoiced_http_requests_total{code="201",method="POST",route="/api/v1/invoices"} 1`,
		`invoiced_http_request_duration_seconds_bucket{method="GET",route="/api/v1/invoices/:invoice_id"`,
		`invoiced_http_requests_in_flight`,
		`invoiced_invoices_created_total{currency="BTC"} 1`,
		`invoiced_invoice_status_transitions_total{from="new",to="pending"} 1`,
		`invoiced_invoice_status_transitions_total{from="pending",to="completed"} 1`,
		`invoiced_invoices{status="completed"} 1`,
		`invoiced_actor_activations_total{kind="invoice"}`,
		`invoiced_actors_live{kind="watcher"}`,
		`invoiced_watched_addresses 1`,
		`invoiced_pebble_background_jobs{kind="compaction"}`,
		`invoiced_pebble_compaction_debt_bytes`,
		`invoiced_state_cache_entries 1`,
		`invoiced_state_cache_hits_total`,
		`invoiced_chain_payments_matched_total{currency="BTC"} 1`,
		`invoiced_chain_height{network="devchain-BTC"} 1`,
		`invoiced_chain_node_height{network="devchain-BTC"} 1`,
		`invoiced_pebble_wal_fsync_duration_seconds_bucket`,
		`invoiced_pebble_commit_duration_seconds_count`,
		`invoiced_pebble_commits_per_write_bucket`,
		`invoiced_chain_lag_blocks{network="devchain-BTC"} 0`,
		`invoiced_pebble_disk_usage_bytes`,
		`invoiced_pebble_read_amplification`,
		`invoiced_pebble_compactions_total`,
		`invoiced_rate_age_seconds{currency="BTC",fiat="EUR"} 0`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	}
	// Counters and gauges move just after the commits a reader can already
	// see (the monitor sets its height once it saved its state): poll until
	// every series is there, bounded.
	var body string
	var missing []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		body, missing = scrape(), nil
		for _, want := range wants {
			if !strings.Contains(body, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range missing {
		t.Errorf("/metrics lacks %s", m)
	}
	if strings.Contains(body, inv.ID) {
		t.Error("a raw path leaked into a metric label")
	}
}
