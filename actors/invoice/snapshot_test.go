package invoice

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/view"
)

// TestSnapshots_EveryEightVersions: an invoice's state is snapshotted by the
// commit that reaches version 8, 16, ...; whatever the snapshot's age, the
// state read back (store reads and a reactivated actor) is the state the
// actor decided.
func TestSnapshots_EveryEightVersions(t *testing.T) {
	r, store := newTestService(t)
	project := uuid.New()
	inv, _, err := r.Create(context.Background(), project, engine.CreateRequest{OrderID: "snap", Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
	if err != nil {
		t.Fatal(err)
	}
	// One payment, then its confirmations one block at a time: every
	// observation is an event, so the stream passes version 8 and 16.
	at := time.Now()
	var last engine.Invoice
	for conf := 0; last.Version < 19; conf++ {
		cmd := engine.ObservePayment{TxID: "tx", Index: 0, Amount: engine.NewUnits(100_000), At: at, Confirmations: conf}
		if conf > 0 {
			cmd.Height, cmd.BlockHash = uint64(100+conf), fmt.Sprintf("h%d", conf)
		}
		decided, err := r.Apply(context.Background(), inv.ID, cmd)
		if err != nil {
			t.Fatalf("confirmation %d: %v", conf, err)
		}
		if decided.Version <= last.Version {
			t.Fatalf("confirmation %d decided nothing (version %d)", conf, decided.Version)
		}
		last = decided
		_, snapVersion, events, err := store.Load(inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := last.Version / snapshotEvery * snapshotEvery; snapVersion != want || uint64(len(events)) != last.Version-want {
			t.Fatalf("at version %d: snapshot at %d and %d events after it, want the snapshot at %d", last.Version, snapVersion, len(events), want)
		}
		got, err := r.Get(context.Background(), project, inv.ID)
		if err != nil || !reflect.DeepEqual(got, last) {
			t.Fatalf("at version %d: read back %+v (%v)\nwant %+v", last.Version, got, err, last)
		}
		// Get may have come from the state cache; the store must agree.
		if got, err := Load(store, inv.ID); err != nil || !reflect.DeepEqual(got, last) {
			t.Fatalf("at version %d: store read back %+v (%v)\nwant %+v", last.Version, got, err, last)
		}
	}
	list, _, err := r.AppendList(nil, persistence.Query{ProjectID: project, Limit: 10})
	if want := view.FromInvoice(last, uuid.Nil, r.cfg.Rules.Currencies, ""); err != nil || string(list) != string(want.AppendJSON(nil)) {
		t.Fatalf("list: %v %s", err, list)
	}
}
