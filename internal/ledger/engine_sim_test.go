package ledger_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/ledger"
)

// engineSystem runs the simulation on the pure engine: every operation is
// a command through Decide and Apply, as the invoice actors run them.
type engineSystem struct {
	rules *engine.Rules
	invs  []engine.Invoice
}

func newEngineSystem(t *testing.T) *engineSystem {
	cs := engine.DefaultCurrencies()
	for i := range cs {
		for _, sc := range simCurrencies {
			if cs[i].Code == sc.code {
				cs[i].Confirmations = sc.required
			}
		}
	}
	reg, err := engine.NewRegistry(cs)
	if err != nil {
		t.Fatal(err)
	}
	rules := engine.DefaultRules()
	rules.Currencies = reg
	return &engineSystem{rules: rules}
}

func (e *engineSystem) do(i int, cmd engine.Command) error {
	evs, err := e.rules.Decide(e.invs[i], cmd)
	if err != nil {
		return err
	}
	e.invs[i] = engine.ApplyAll(e.invs[i], evs)
	return nil
}

func (e *engineSystem) create(i int, currency string, amount, allowedError int64, expireMin int, at time.Time) (time.Time, error) {
	cur, _ := e.rules.Currencies.Lookup(currency)
	text := engine.FormatDecimal(engine.NewUnits(amount), cur.Decimals)
	em := int64(expireMin)
	cmd := engine.CreateInvoice{
		ID: uuid.New(), ProjectID: uuid.UUID{1}, Address: fmt.Sprintf("addr-%d", i), AddressIndex: uint64(i), At: at,
		Request: engine.CreateRequest{OrderID: fmt.Sprintf("o%d", i), Currency: currency, CryptoAmount: &text, AllowedErrorPercent: &allowedError, ExpireMin: &em},
	}
	e.invs = append(e.invs, engine.Invoice{})
	if err := e.do(i, cmd); err != nil {
		return time.Time{}, err
	}
	return e.invs[i].ExpiresAt, nil
}

func (e *engineSystem) setTime(time.Time)                       {}
func (e *engineSystem) chainPay(*chainTx, string) error         { return nil }
func (e *engineSystem) chainMine(string, int) error             { return nil }
func (e *engineSystem) chainDisconnect(string, int) error       { return nil }
func (e *engineSystem) chainDoubleSpend(*chainTx, string) error { return nil }

func (e *engineSystem) observe(tx *chainTx, _ string, height uint64, hash string, conf int, at time.Time) error {
	return e.do(tx.inv, engine.ObservePayment{TxID: tx.id, Amount: engine.NewUnits(tx.amount), Height: height, BlockHash: hash, Confirmations: conf, At: at})
}

func (e *engineSystem) revert(tx *chainTx, at time.Time) error {
	return e.do(tx.inv, engine.RevertPayment{TxID: tx.id, Reason: "double spent", At: at})
}

func (e *engineSystem) expire(i int, at time.Time) error { return e.do(i, engine.Expire{At: at}) }

func (e *engineSystem) patch(i int, to string, at time.Time) (bool, error) {
	err := e.do(i, engine.ChangeStatus{Target: engine.Status(to), At: at})
	var te *engine.TransitionError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &te):
		return false, nil
	default:
		return false, err
	}
}

// compare reports how invoice i differs from its model, "" if not at all:
// status, amount paid, and the payments with their late flags.
func (e *engineSystem) compare(i int, m *ledger.Invoice) string {
	inv := e.invs[i]
	if string(inv.Status) != m.Status || inv.Paid.String() != fmt.Sprint(m.Paid()) || len(inv.Transactions) != len(m.Payments) {
		return fmt.Sprintf("engine %s paid %s with %d payments; model %s paid %d with %d", inv.Status, inv.Paid, len(inv.Transactions), m.Status, m.Paid(), len(m.Payments))
	}
	for j, p := range m.Payments {
		t := inv.Transactions[j]
		if t.TxID != p.ID || t.Amount.String() != fmt.Sprint(p.Amount) || t.Late != p.Late {
			return fmt.Sprintf("payment %d: engine %s %s late=%v; model %s %d late=%v", j, t.TxID, t.Amount, t.Late, p.ID, p.Amount, p.Late)
		}
	}
	return ""
}

// TestLedger_EngineAgreesWithModel is the randomized ledger simulation at
// the engine level: 100,000 payments by default (INVOICED_LEDGER_PAYMENTS;
// 10,000 under the race detector or -short)
// with partial, exact, over and late payments, reorganisations, double
// spends, expiries and status changes by hand. After every step the
// invoices touched are compared with the model, and every invoice at the
// end. The seed is logged; INVOICED_LEDGER_SEED replays a run.
func TestLedger_EngineAgreesWithModel(t *testing.T) {
	defaultPayments := 100_000
	if raceEnabled || testing.Short() {
		defaultPayments = 10_000
	}
	seed, payments := simConfig(t, defaultPayments)
	t.Logf("ledger simulation seed %d (INVOICED_LEDGER_SEED=%d to replay), %d payments", seed, seed, payments)
	sys := newEngineSystem(t)
	s := newSim(t, seed, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	compared, lastCount := 0, 0
	check := func(i int) {
		if d := sys.compare(i, s.models[i]); d != "" {
			s.fatalf("invoice %d disagrees after %d agreeing comparisons: %s (model %+v)", i, compared, d, *s.models[i])
		}
		compared++
	}
	s.run(sys, payments, func() {
		// The last few invoices are the ones being paid; an old one was
		// touched when a late payment or expiry reached it, which the
		// final sweep covers too.
		n := len(s.models)
		for i := max(0, n-30); i < n; i++ {
			check(i)
		}
		if len(s.models) > lastCount+5000 {
			lastCount = len(s.models)
			for i := range s.models {
				check(i)
			}
		}
	})
	for i := range s.models {
		check(i)
	}
	t.Logf("%s; %d invoice comparisons, all agree", s.report(), compared)
}
