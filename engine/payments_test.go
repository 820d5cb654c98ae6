package engine

import (
	"fmt"
	"testing"
	"time"
)

// step is one command of a payment scenario and what must hold after it.
type step struct {
	cmd    Command
	status Status
	paid   int64
	events int // -1 = don't care
}

func seen(tx string, amount int64, height uint64, conf int, at time.Duration) ObservePayment {
	return ObservePayment{TxID: tx, Amount: NewUnits(amount), Height: height, BlockHash: fmt.Sprintf("h%d", height), Confirmations: conf, At: t0.Add(at)}
}

func TestPayments_Scenarios(t *testing.T) {
	// BTC needs 2 confirmations; the invoice is 100000 sat, expires at t0+30m.
	tests := []struct {
		name         string
		allowedError string
		steps        []step
	}{
		{"exact payment confirms", "", []step{
			{seen("a", 100000, 0, 0, time.Minute), StatusPending, 100000, 2},
			{seen("a", 100000, 0, 0, 2*time.Minute), StatusPending, 100000, 0}, // same observation: nothing
			{seen("a", 100000, 10, 1, 3*time.Minute), StatusPending, 100000, 1},
			{seen("a", 100000, 10, 2, 4*time.Minute), StatusCompleted, 100000, 2},
		}},
		{"partial then rest", "", []step{
			{seen("a", 40000, 0, 0, time.Minute), StatusPaidPartial, 40000, 2},
			{seen("b", 60000, 0, 0, 2*time.Minute), StatusPending, 100000, 2},
			{seen("a", 40000, 5, 2, 3*time.Minute), StatusPending, 100000, 1},
			{seen("b", 60000, 6, 2, 4*time.Minute), StatusCompleted, 100000, 2},
		}},
		{"tolerance rounds up", "1", []step{
			{seen("a", 98999, 0, 0, time.Minute), StatusPaidPartial, 98999, 2},
			{seen("b", 1, 3, 3, time.Minute), StatusPending, 99000, 2}, // threshold 99000 reached, 1 sat of it confirmed
			{seen("a", 98999, 4, 2, 2*time.Minute), StatusCompleted, 99000, 2},
		}},
		{"overpayment completes", "", []step{
			{seen("a", 150000, 4, 2, time.Minute), StatusCompleted, 150000, 2},
		}},
		{"expiry with nothing paid", "", []step{
			{Expire{At: t0.Add(29 * time.Minute)}, StatusNew, 0, 0},
			{Expire{At: t0.Add(30 * time.Minute)}, StatusExpired, 0, 1},
			{seen("late", 100000, 0, 0, 31*time.Minute), StatusExpired, 100000, 1}, // recorded, status kept
			{seen("late", 100000, 9, 2, 40*time.Minute), StatusExpired, 100000, 1},
		}},
		{"partial payment expires", "", []step{
			{seen("a", 50000, 0, 0, time.Minute), StatusPaidPartial, 50000, 2},
			{Expire{At: t0.Add(30 * time.Minute)}, StatusExpired, 50000, 1},
		}},
		{"payment seen in time keeps it alive past expiry", "", []step{
			{seen("a", 100000, 0, 0, 29*time.Minute), StatusPending, 100000, 2},
			{Expire{At: t0.Add(30 * time.Minute)}, StatusPending, 100000, 0},
			{seen("a", 100000, 7, 2, 45*time.Minute), StatusCompleted, 100000, 2},
		}},
		{"dropped after expiry expires", "", []step{
			{seen("a", 100000, 0, 0, 29*time.Minute), StatusPending, 100000, 2},
			{RevertPayment{TxID: "a", Reason: "dropped", At: t0.Add(31 * time.Minute)}, StatusExpired, 0, 2},
		}},
		{"payment after expiry deadline but before the scheduler ran", "", []step{
			{seen("a", 100000, 0, 0, 31*time.Minute), StatusExpired, 100000, 2},
		}},
		{"reorg takes completion back", "", []step{
			{seen("a", 100000, 3, 2, time.Minute), StatusCompleted, 100000, 2},
			{seen("a", 100000, 0, 0, 2*time.Minute), StatusPending, 100000, 2}, // back in the mempool
			{RevertPayment{TxID: "a", Reason: "reorg", At: t0.Add(3 * time.Minute)}, StatusNew, 0, 2},
			{RevertPayment{TxID: "a", Reason: "reorg", At: t0.Add(4 * time.Minute)}, StatusNew, 0, 0}, // unknown now: nothing
		}},
		{"cancelled invoice records late payment", "", []step{
			{ChangeStatus{Target: StatusCancelled, At: t0.Add(time.Minute)}, StatusCancelled, 0, 1},
			{seen("a", 100000, 2, 2, 2*time.Minute), StatusCancelled, 100000, 1},
		}},
		{"merchant-accepted short payment is not overruled", "", []step{
			{seen("a", 50000, 2, 2, time.Minute), StatusPaidPartial, 50000, 2},
			{ChangeStatus{Target: StatusCompleted, At: t0.Add(2 * time.Minute)}, StatusCompleted, 50000, 1},
			{RevertPayment{TxID: "a", Reason: "reorg", At: t0.Add(3 * time.Minute)}, StatusCompleted, 0, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := DefaultRules()
			req := CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.001")}
			if tt.allowedError != "" {
				req.AllowedErrorPercent = ptr[int64](1)
			}
			inv := created(t, r, req)
			for i, s := range tt.steps {
				evs, err := r.Decide(inv, s.cmd)
				if err != nil {
					t.Fatalf("step %d %T: %v", i, s.cmd, err)
				}
				if s.events >= 0 && len(evs) != s.events {
					t.Errorf("step %d %T: %d events %v, want %d", i, s.cmd, len(evs), evs, s.events)
				}
				for _, e := range evs {
					if sc, ok := e.(StatusChanged); ok && !Allowed(sc.From, sc.To, sc.Reason == ReasonManual) {
						t.Errorf("step %d: transition %s -> %s outside the table", i, sc.From, sc.To)
					}
				}
				inv = ApplyAll(inv, evs)
				if inv.Status != s.status || inv.Paid.Cmp(NewUnits(s.paid)) != 0 {
					t.Fatalf("step %d %T: status %s paid %s, want %s %d", i, s.cmd, inv.Status, inv.Paid, s.status, s.paid)
				}
			}
		})
	}
}

func TestPayments_RBFNeedsAConfirmation(t *testing.T) {
	cs := DefaultCurrencies()
	cs[0].Confirmations = 0 // an operator accepting zero-conf BTC
	reg, _ := NewRegistry(cs)
	r := DefaultRules()
	r.Currencies = reg
	inv := created(t, r, CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.001")})
	rbf := ObservePayment{TxID: "a", Amount: NewUnits(100000), RBF: true, At: t0.Add(time.Minute)}
	inv = ApplyAll(inv, must(r.Decide(inv, rbf)))
	if inv.Status != StatusPending {
		t.Fatalf("unconfirmed RBF payment with zero-conf policy: %s, want pending", inv.Status)
	}
	plain := created(t, r, CreateRequest{OrderID: "p", Currency: "BTC", CryptoAmount: ptr("0.001")})
	rbf.RBF = false
	plain = ApplyAll(plain, must(r.Decide(plain, rbf)))
	if plain.Status != StatusPending {
		t.Fatalf("zero-conf policy still needs the payment in a block here: %s", plain.Status)
	}
}

func TestPayments_BadObservations(t *testing.T) {
	r := DefaultRules()
	inv := created(t, r, CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.001")})
	for _, c := range []ObservePayment{
		{TxID: "", Amount: NewUnits(1), At: t0},
		{TxID: "a", Amount: NewUnits(0), At: t0},
		{TxID: "a", Amount: NewUnits(-5), At: t0},
		{TxID: "a", Amount: NewUnits(5), Height: 3, Confirmations: 0, At: t0},
		{TxID: "a", Amount: NewUnits(5), Height: 0, Confirmations: 2, At: t0},
	} {
		if evs, err := r.Decide(inv, c); err == nil {
			t.Errorf("observation %+v accepted: %v", c, evs)
		}
	}
	archived := ApplyAll(Invoice{}, must(r.Decide(Invoice{}, CreateArchived{At: t0, Request: CreateRequest{OrderID: "h", Currency: "BTC", CryptoAmount: ptr("1")}})))
	if _, err := r.Decide(archived, seen("a", 1, 0, 0, 0)); err == nil {
		t.Error("payment to an archived invoice accepted")
	}
}

func must(evs []Event, err error) []Event {
	if err != nil {
		panic(err)
	}
	return evs
}
