package engine

import (
	"fmt"
	"testing"
	"time"
)

func seen(tx string, amount int64, height uint64, conf int, at time.Duration) ObservePayment {
	return ObservePayment{TxID: tx, Amount: NewUnits(amount), Height: height, BlockHash: fmt.Sprintf("h%d", height), Confirmations: conf, At: t0.Add(at)}
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
