package engine

import (
	"fmt"
	"testing"
	"time"
)

// FuzzCommandSequence drives one invoice through a random sequence of
// commands (manual status changes, payments seen, confirmed and reverted,
// expiry) and checks the invariants after every step: decisions only produce
// transitions in the table, Apply follows Decide, the status is always in
// the enum, the amount paid is never negative and always the sum of the
// distinct payments, an observation repeated decides nothing, and a refused
// command changes nothing.
func FuzzCommandSequence(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6})
	f.Add([]byte{4, 2, 6, 6, 0})
	f.Add([]byte{5, 1, 2, 6})
	r := DefaultRules()
	f.Fuzz(func(t *testing.T, script []byte) {
		inv := created(t, r, CreateRequest{OrderID: "fuzz", Currency: "BTC", CryptoAmount: ptr("0.01")})
		at := t0
		for i, b := range script {
			at = at.Add(time.Duration(b) * time.Second)
			var cmd Command
			// The low bits pick one of four payments, so the same output is
			// observed, confirmed, reverted and observed again.
			tx := fmt.Sprintf("tx%d", b%4)
			amount := NewUnits(int64(b%4+1) * 300_000)
			switch {
			case b < 40:
				cmd = ChangeStatus{Target: Statuses[int(b)%len(Statuses)], At: at}
			case b < 110:
				cmd = ObservePayment{TxID: tx, Amount: amount, At: at}
			case b < 170:
				h := uint64(b%7 + 1)
				cmd = ObservePayment{TxID: tx, Amount: amount, Height: h, BlockHash: fmt.Sprint(h), Confirmations: int(b%3 + 1), At: at}
			case b < 210:
				cmd = RevertPayment{TxID: tx, Reason: "reorg", At: at}
			case b < 240:
				cmd = Expire{At: at}
			case b < 250:
				cmd = ChangeStatus{Target: Status("bogus"), At: at}
			default:
				cmd = CreateInvoice{Request: CreateRequest{OrderID: "again", Currency: "BTC", CryptoAmount: ptr("1")}, Address: "x", At: at}
			}
			before := inv
			evs, err := r.Decide(inv, cmd)
			if err != nil {
				if len(evs) != 0 {
					t.Fatalf("step %d: refused command produced events %v", i, evs)
				}
				continue
			}
			for _, e := range evs {
				if sc, ok := e.(StatusChanged); ok {
					if !Allowed(sc.From, sc.To, sc.By()) {
						t.Fatalf("step %d: transition %s -> %s (%s) outside the table", i, sc.From, sc.To, sc.Reason)
					}
				}
				inv = Apply(inv, e)
			}
			if !inv.Status.Valid() {
				t.Fatalf("step %d: status %q not in the enum", i, inv.Status)
			}
			if inv.Paid.Sign() < 0 {
				t.Fatalf("step %d: paid %s negative", i, inv.Paid)
			}
			sum, ids := NewUnits(0), map[string]bool{}
			for _, tx := range inv.Transactions {
				key := fmt.Sprintf("%s:%d", tx.TxID, tx.Index)
				if ids[key] {
					t.Fatalf("step %d: payment %s counted twice", i, key)
				}
				ids[key] = true
				sum = sum.Add(tx.Amount)
			}
			if sum.Cmp(inv.Paid) != 0 {
				t.Fatalf("step %d: paid %s but the transactions sum to %s", i, inv.Paid, sum)
			}
			// Replaying the same command decides nothing more (observations
			// are idempotent), except a status change the clock alone makes.
			if _, ok := cmd.(ObservePayment); ok && err == nil {
				again, err := r.Decide(inv, cmd)
				if err != nil || len(again) != 0 {
					t.Fatalf("step %d: repeated observation decided %v, %v", i, again, err)
				}
			}
			if inv.Version != before.Version+uint64(len(evs)) {
				t.Fatalf("step %d: version %d after %d events from %d", i, inv.Version, len(evs), before.Version)
			}
		}
	})
}
