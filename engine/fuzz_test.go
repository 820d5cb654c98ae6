package engine

import (
	"testing"
	"time"
)

// FuzzCommandSequence drives one invoice through a random sequence of
// commands and checks the invariants after every step: decisions only
// produce transitions in the table, Apply follows Decide, the status is
// always in the enum, the amount paid is never negative, and a refused
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
			switch {
			case b < 200:
				cmd = ChangeStatus{Target: Statuses[int(b)%len(Statuses)], At: at}
			case b < 230:
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
					if !Allowed(sc.From, sc.To, sc.Reason == ReasonManual) {
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
			if inv.Version != before.Version+uint64(len(evs)) {
				t.Fatalf("step %d: version %d after %d events from %d", i, inv.Version, len(evs), before.Version)
			}
		}
	})
}
