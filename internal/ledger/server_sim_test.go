package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/internal/ledger"
	"github.com/invoiced/invoiced/server"
)

const ledgerAccountKey = "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

// serverSystem runs the simulation on the real server: invoices are created
// and changed over HTTP, payments go through the dev chains, and the
// server's own chain monitors and expiry scheduler apply them. The
// monitors poll and the scheduler scans every nanosecond of the clock, and
// a settle moves the simulation's time (the model's with the server's) a
// nanosecond at a time until every invoice agrees: the rounds a change
// needs cost nanoseconds, so the monitor observes each payment at the time
// the model records it, as near as makes no difference to expiries minutes
// apart.
type serverSystem struct {
	t       *testing.T
	clock   *clock.Test
	srv     *server.Server
	key     string
	ids     []string // invoice id of each invoice
	addrs   []string
	txids   map[string]string // simulation tx id -> dev chain txid
	touched map[int]bool
}

func newServerSystem(t *testing.T, start time.Time) *serverSystem {
	clock := clock.NewTest(start)
	conf := map[string]int{}
	for _, c := range simCurrencies {
		conf[c.code] = c.required
	}
	srv, err := server.Start(server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: ledgerAccountKey,
		Currencies: []string{"BTC", "LTC", "ETH"}, Confirmations: conf,
		ChainPoll: time.Nanosecond, ExpiryInterval: time.Nanosecond, Clock: clock,
		StateCacheBytes: invoice.DefaultStateCacheBytes, RenderCacheBytes: invoice.DefaultRenderCacheBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	s := &serverSystem{t: t, clock: clock, srv: srv, txids: map[string]string{}, touched: map[int]bool{}}
	var p struct {
		APIKey string `json:"api_key"`
	}
	if code, body := s.call("POST", "/api/v1/projects", ledgerAccountKey, `{"name":"ledger"}`, &p); code != 201 {
		t.Fatalf("create project: %d %s", code, body)
	}
	s.key = p.APIKey
	return s
}

func (s *serverSystem) call(method, path, key, body string, out any) (int, string) {
	s.t.Helper()
	status, b := apitest.Call(s.t, "http://"+s.srv.Addr, method, path, key, body)
	if out != nil && status < 300 {
		apitest.Decode(s.t, b, out)
	}
	return status, string(b)
}

func (s *serverSystem) create(i int, currency string, amount, allowedError int64, expireMin int, _ time.Time) (time.Time, error) {
	dec := 8
	for _, c := range simCurrencies {
		if c.code == currency {
			dec = c.decimals
		}
	}
	body := fmt.Sprintf(`{"order_id":"o%d","crypto_amount":%q,"currency":%q,"allowed_error_percent":%d,"expire_min":%d}`,
		i, engine.FormatDecimal(engine.NewUnits(amount), dec), currency, allowedError, expireMin)
	var inv struct {
		ID        string    `json:"invoice_id"`
		ExpiresAt time.Time `json:"expires_at"`
		BD        struct {
			Address string `json:"blockchainAddress"`
		} `json:"blockchain_details"`
	}
	if code, b := s.call("POST", "/api/v1/invoices", s.key, body, &inv); code != 201 {
		return time.Time{}, fmt.Errorf("create: %d %s", code, b)
	}
	s.ids, s.addrs = append(s.ids, inv.ID), append(s.addrs, inv.BD.Address)
	return inv.ExpiresAt, nil
}

func (s *serverSystem) patch(i int, to string, _ time.Time) (bool, error) {
	s.touched[i] = true
	code, b := s.call("PATCH", "/api/v1/invoices/"+s.ids[i], s.key, fmt.Sprintf(`{"status":%q,"comment":"sim"}`, to), nil)
	switch code {
	case 200:
		return true, nil
	case 409, 422:
		return false, nil
	}
	return false, fmt.Errorf("patch: %d %s", code, b)
}

func (s *serverSystem) setTime(now time.Time) { s.clock.Set(now) }

func (s *serverSystem) chainPay(tx *chainTx, currency string) error {
	txid, err := s.srv.DevChain(currency).Pay(s.addrs[tx.inv], big.NewInt(tx.amount), devchain.PayOptions{})
	s.txids[tx.id] = txid
	return err
}

func (s *serverSystem) chainMine(currency string, blocks int) error {
	_, err := s.srv.DevChain(currency).Mine(blocks)
	return err
}

func (s *serverSystem) chainDisconnect(currency string, depth int) error {
	return s.srv.DevChain(currency).Disconnect(depth)
}

func (s *serverSystem) chainDoubleSpend(tx *chainTx, currency string) error {
	_, err := s.srv.DevChain(currency).DoubleSpend(s.txids[tx.id], "attacker", big.NewInt(tx.amount))
	return err
}

// The server's monitor and scheduler do these; the simulation only notes
// which invoices to wait for.
func (s *serverSystem) observe(tx *chainTx, _ string, _ uint64, _ string, _ int, _ time.Time) error {
	s.touched[tx.inv] = true
	return nil
}

func (s *serverSystem) revert(tx *chainTx, _ time.Time) error {
	s.touched[tx.inv] = true
	return nil
}

func (s *serverSystem) expire(i int, _ time.Time) error {
	s.touched[i] = true
	return nil
}

type apiInvoice struct {
	Status       string      `json:"status"`
	Paid         json.Number `json:"actual_crypto_amount_paid_in_units"`
	Transactions []struct {
		TxID   string      `json:"txid"`
		Amount json.Number `json:"amount_in_units"`
		Late   bool        `json:"late"`
	} `json:"transactions"`
}

// compare reports how the server's invoice i differs from its model.
func (s *serverSystem) compare(i int, m *ledger.Invoice) string {
	var inv apiInvoice
	if code, b := s.call("GET", "/api/v1/invoices/"+s.ids[i], s.key, "", &inv); code != 200 {
		return fmt.Sprintf("get: %d %s", code, b)
	}
	if inv.Status != m.Status || string(inv.Paid) != strconv.FormatInt(m.Paid(), 10) || len(inv.Transactions) != len(m.Payments) {
		return fmt.Sprintf("server %s paid %s with %d payments; model %s paid %d with %d", inv.Status, inv.Paid, len(inv.Transactions), m.Status, m.Paid(), len(m.Payments))
	}
	for _, p := range m.Payments {
		j := slices.IndexFunc(inv.Transactions, func(t struct {
			TxID   string      `json:"txid"`
			Amount json.Number `json:"amount_in_units"`
			Late   bool        `json:"late"`
		}) bool {
			return t.TxID == s.txids[p.ID]
		})
		if j < 0 || string(inv.Transactions[j].Amount) != strconv.FormatInt(p.Amount, 10) || inv.Transactions[j].Late != p.Late {
			return fmt.Sprintf("payment %s (%s): server has %+v; model amount %d late=%v", p.ID, s.txids[p.ID], inv.Transactions, p.Amount, p.Late)
		}
	}
	return ""
}

// settleWithin is the simulation time a settle lets pass at most: a
// million polls and scans, far more than the rounds a change needs (a
// dropped payment is reverted on the second round that misses it, and a
// scan expires one invoice) and far less than the simulation's own steps.
const settleWithin = time.Millisecond

// simClock moves the simulation's time: the server's clock, and the model
// expiring what falls due as the server's scheduler does.
type simClock struct {
	s   *sim
	sys *serverSystem
}

func (c simClock) Add(d time.Duration) { c.s.advance(c.sys, d) }

// settle waits until every touched invoice agrees with its model, those
// touched while it moves the time included.
func (sys *serverSystem) settle(s *sim) int {
	n := 0
	for len(sys.touched) > 0 {
		for i := range sys.touched {
			delete(sys.touched, i)
			err := apitest.Drive(simClock{s, sys}, time.Nanosecond, settleWithin, func() error {
				if d := sys.compare(i, s.models[i]); d != "" {
					return errors.New(d)
				}
				return nil
			})
			if err != nil {
				s.fatalf("invoice %d (%s) disagrees: %v (model %+v)", i, sys.ids[i], err, *s.models[i])
			}
			n++
		}
	}
	return n
}

// TestLedger_ServerAgreesWithModel is the ledger simulation through the
// real server: HTTP creates and PATCHes, payments, mining, reorganisations
// and double spends on the dev chains, the server's chain monitors and
// expiry scheduler applying them. Sized for CI (INVOICED_LEDGER_SERVER_PAYMENTS
// for more); INVOICED_LEDGER_SEED replays a run.
func TestLedger_ServerAgreesWithModel(t *testing.T) {
	seed, _ := simConfig(t, 0)
	payments := 1000
	if raceEnabled || testing.Short() {
		payments = 200 // the race detector slows the server about tenfold
	}
	if v, err := strconv.Atoi(os.Getenv("INVOICED_LEDGER_SERVER_PAYMENTS")); err == nil && v > 0 {
		payments = v
	}
	t.Logf("server ledger simulation seed %d (INVOICED_LEDGER_SEED=%d to replay), %d payments", seed, seed, payments)
	start := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	sys := newServerSystem(t, start)
	s := newSim(t, seed, start)
	compared := 0
	s.run(sys, payments, func() { compared += sys.settle(s) })
	for i := range s.models {
		sys.touched[i] = true
	}
	compared += sys.settle(s)
	t.Logf("%s; %d invoice comparisons through the API, all agree", s.report(), compared)
}
