package invoice

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// TestFollow_DeliversCommitsWithoutActivating: a follower sees each commit
// of its invoice (the latest when it lags), nothing of other invoices, and
// nothing after stop; looking the invoice up activates no actor.
func TestFollow_DeliversCommitsWithoutActivating(t *testing.T) {
	r, _ := newTestService(t)
	ctx := context.Background()
	inv, _, err := r.Create(ctx, uuid.New(), engine.CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := r.Create(ctx, uuid.New(), engine.CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
	if err != nil {
		t.Fatal(err)
	}
	states, stop := r.Follow(inv.ID)
	got, err := r.Lookup(inv.ID)
	if err != nil || got.Version != 1 || r.LiveActors() != 0 {
		t.Fatalf("Lookup: version %d, %v, %d live actors; want version 1 and none", got.Version, err, r.LiveActors())
	}
	if _, err := r.Lookup(uuid.New()); err != engine.ErrNotFound {
		t.Fatalf("Lookup of an unknown id: %v, want ErrNotFound", err)
	}
	observe := func(id uuid.UUID, conf int) {
		t.Helper()
		cmd := engine.ObservePayment{TxID: "tx", Amount: engine.NewUnits(100_000), At: time.Now(), Confirmations: conf}
		if conf > 0 {
			cmd.Height, cmd.BlockHash = 100, "h"
		}
		if _, err := r.Apply(ctx, id, cmd); err != nil {
			t.Fatal(err)
		}
	}
	observe(other.ID, 0)
	observe(inv.ID, 0)
	if s := <-states; s.ID != inv.ID || s.Status != engine.StatusPending {
		t.Fatalf("followed state %v %s, want %v pending", s.ID, s.Status, inv.ID)
	}
	observe(inv.ID, 1) // confirms: pending → completed, two commits unread
	observe(inv.ID, 2)
	if s := <-states; s.Status != engine.StatusCompleted || s.Transactions[0].Confirmations != 2 {
		t.Fatalf("lagging follower got %s with %d confirmations, want the latest state", s.Status, s.Transactions[0].Confirmations)
	}
	select {
	case s := <-states:
		t.Fatalf("a lagging follower got a second, older state: version %d", s.Version)
	default:
	}
	stop()
	stop() // idempotent
	if n := r.feed.followers.Load(); n != 0 {
		t.Fatalf("%d followers after stop", n)
	}
	observe(inv.ID, 3)
	select {
	case s := <-states:
		t.Fatalf("stopped follower got version %d", s.Version)
	default:
	}
}
