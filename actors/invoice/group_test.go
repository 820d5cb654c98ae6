package invoice

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/internal/actortest"
	"github.com/invoiced/invoiced/engine"
)

// TestGroup_MembersThatCommitNothingLeave: decisions sent with a chain
// round's group commit as its members, and those with nothing to commit (a
// refused change, an unknown invoice) leave it, so the group completes at
// once; the group's wait is an hour, so a member that neither committed
// nor left would make every ask time out.
func TestGroup_MembersThatCommitNothingLeave(t *testing.T) {
	s, store := newTestService(t)
	ctx := context.Background()
	project := uuid.New()
	var ids []uuid.UUID
	for i := range 3 {
		inv, _, err := s.Create(ctx, project, engine.CreateRequest{OrderID: fmt.Sprint(i), Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.ID)
	}
	group := store.NewGroup(4, time.Hour)
	cmds := []struct {
		id     uuid.UUID
		target engine.Status
		ok     bool
	}{
		{ids[0], engine.StatusCancelled, true},
		{ids[1], engine.StatusCancelled, true},
		{ids[2], engine.StatusNew, false},           // refused: nothing to commit
		{uuid.New(), engine.StatusCancelled, false}, // no such invoice
	}
	errs := make(chan error, len(cmds))
	for _, c := range cmds {
		go func() {
			rep, err := s.ask(ctx, c.id, decideMsg{from: fromSystem, cmds: []engine.Command{engine.ChangeStatus{Target: c.target, At: time.Now()}}, group: group})
			if err == nil {
				err = rep.Err
			}
			if (err == nil) != c.ok {
				errs <- fmt.Errorf("%s to %s: %v, want success %v", c.id, c.target, err, c.ok)
				return
			}
			errs <- nil
		}()
	}
	for range cmds {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids[:2] {
		inv, err := Load(store, id)
		if err != nil || inv.Status != engine.StatusCancelled {
			t.Fatalf("invoice %s: %s, %v; want cancelled on disk", id, inv.Status, err)
		}
	}
}

// TestApplyAll_OneGroupAndEachInvoicesOwnOutcome: a mass expiry committed
// as one group expires the invoices that are due, leaves alone the one a
// payment keeps alive and reports the unknown id, each with its own
// result, and the actors are gone after. The group's wait is half an
// hour and the asks' deadline a minute, so a member that neither committed
// nor left the group would make every ask fail.
func TestApplyAll_OneGroupAndEachInvoicesOwnOutcome(t *testing.T) {
	p := actortest.New(t)
	s, err := New(Config{Store: p.Store, Rules: p.Rules, Deriver: p.Deriver, Rates: p.Rates, RequestTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	project := uuid.New()
	var ids []uuid.UUID
	for i := range 5 {
		inv, _, err := s.Create(ctx, project, engine.CreateRequest{OrderID: fmt.Sprint(i), Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.ID)
	}
	paid, _ := Load(p.Store, ids[4])
	if _, err := s.Apply(ctx, paid.ID, engine.ObservePayment{TxID: "tx", Amount: paid.Amount, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	unknown := uuid.New()
	errs := s.ApplyAll(ctx, append(ids, unknown), engine.Expire{At: paid.ExpiresAt.Add(time.Second)})
	for i, id := range ids {
		want := engine.StatusExpired
		if id == paid.ID {
			want = engine.StatusPending
		}
		inv, err := Load(p.Store, id)
		if errs[i] != nil || err != nil || inv.Status != want {
			t.Errorf("invoice %d: %v; on disk %s (%v), want %s", i, errs[i], inv.Status, err, want)
		}
	}
	if errs[len(ids)] == nil {
		t.Error("an unknown invoice expired without an error")
	}
	for deadline := time.Now().Add(5 * time.Second); s.LiveActors() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d invoice actors left in memory", s.LiveActors())
		}
	}
}

// TestGroup_AMessageWaitsForTheCommitInFlight: an invoice actor does not
// wait for its group commit, but decides nothing else until it is durable:
// a PATCH arriving meanwhile is answered only after the group commits, and
// is decided on the state the payment left (a completed invoice cannot be
// cancelled), never on the state before it.
func TestGroup_AMessageWaitsForTheCommitInFlight(t *testing.T) {
	s, store := newTestService(t)
	ctx := context.Background()
	project := uuid.New()
	inv, _, err := s.Create(ctx, project, engine.CreateRequest{OrderID: "1", Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
	if err != nil {
		t.Fatal(err)
	}
	group := store.NewGroup(2, time.Hour) // its second member leaves below
	pay := engine.ObservePayment{TxID: "tx", Amount: inv.Amount, Height: 1, BlockHash: "b1", Confirmations: 1, At: time.Now()}
	paid, err := s.table.Request(ctx, inv.ID, s.actorFor(inv.ID), decideMsg{from: fromSystem, cmds: []engine.Command{pay}, group: group})
	if err != nil {
		t.Fatal(err)
	}
	cancelled := make(chan Reply, 1)
	go func() {
		rep, err := s.ask(ctx, inv.ID, decideMsg{from: fromMerchant, project: project, cmds: []engine.Command{engine.ChangeStatus{Target: engine.StatusCancelled, At: time.Now()}}})
		if err != nil {
			rep.Err = err
		}
		cancelled <- rep
	}()
	select {
	case rep := <-cancelled:
		t.Fatalf("the PATCH was answered (%v, %v) while the payment's commit was in flight", rep.Invoice.Status, rep.Err)
	case <-time.After(200 * time.Millisecond):
	}
	group.Leave()
	rep, err := AwaitReply(paid, inv.ID)
	if err != nil || rep.Err != nil || rep.Invoice.Status != engine.StatusCompleted {
		t.Fatalf("payment: %s, %v, %v; want completed", rep.Invoice.Status, err, rep.Err)
	}
	if rep := <-cancelled; !errors.Is(rep.Err, engine.ErrTransition) {
		t.Fatalf("PATCH after the payment: %s, %v; want a refused transition", rep.Invoice.Status, rep.Err)
	}
	if onDisk, err := Load(store, inv.ID); err != nil || onDisk.Status != engine.StatusCompleted {
		t.Fatalf("on disk: %s, %v; want completed", onDisk.Status, err)
	}
}
