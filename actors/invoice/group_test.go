package invoice

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

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
