package expiry

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/internal/actortest"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
)

// TestExpireDue_OnlyWhatThePersistedScheduleSaysIsDue: the scan expires an
// invoice once the clock passes its expires_at, not before, and a second
// scan finds nothing (the expired invoice left the schedule in its commit).
func TestExpireDue_OnlyWhatThePersistedScheduleSaysIsDue(t *testing.T) {
	p := actortest.New(t)
	clk := clock.NewTest(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc, err := invoice.New(invoice.Config{Store: p.Store, Rules: p.Rules, Deriver: p.Deriver, Rates: p.Rates, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Shutdown)
	s, err := New(Config{System: svc.System(), Store: p.Store, Invoices: svc, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, project := context.Background(), uuid.New()
	amount, minutes := "0.001", int64(30)
	inv, _, err := svc.Create(ctx, project, engine.CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: &amount, ExpireMin: &minutes}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		advance time.Duration
		asked   int
		status  engine.Status
	}{
		{29 * time.Minute, 0, engine.StatusNew},
		{time.Minute, 1, engine.StatusExpired},
		{time.Hour, 0, engine.StatusExpired},
	} {
		clk.Add(tc.advance)
		n, err := s.ExpireDue(ctx)
		if err != nil || n != tc.asked {
			t.Fatalf("at %s: asked %d (%v), want %d", clk.Now(), n, err, tc.asked)
		}
		got, err := svc.Get(ctx, project, inv.ID)
		if err != nil || got.Status != tc.status {
			t.Fatalf("at %s: %s (%v), want %s", clk.Now(), got.Status, err, tc.status)
		}
	}
}
