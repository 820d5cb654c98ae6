package expiry

import (
	"cmp"
	"context"
	"fmt"
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
	svc, s, clk := newScheduler(t, Config{})
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

// TestExpireNow_DatedAtExpiresAtAndPaymentsStillCount: the dev panel's
// expiry acts as if expires_at had passed (the event is dated then, not
// now), the engine's rule still applies (a payment seen keeps an invoice
// alive), and an unknown id is ErrNotFound.
func TestExpireNow_DatedAtExpiresAtAndPaymentsStillCount(t *testing.T) {
	svc, s, clk := newScheduler(t, Config{})
	ctx, project := context.Background(), uuid.New()
	amount, minutes := "0.001", int64(30)
	create := func(order string) engine.Invoice {
		t.Helper()
		inv, _, err := svc.Create(ctx, project, engine.CreateRequest{OrderID: order, Currency: "BTC", CryptoAmount: &amount, ExpireMin: &minutes}, "")
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	idle, paid := create("idle"), create("paid")
	if _, err := svc.Apply(ctx, paid.ID, engine.ObservePayment{TxID: "tx", Amount: paid.Amount, At: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ExpireNow(ctx, idle.ID)
	if err != nil || got.Status != engine.StatusExpired || !got.UpdatedAt.Equal(idle.ExpiresAt) {
		t.Fatalf("idle invoice: %s updated %s (%v), want expired at %s", got.Status, got.UpdatedAt, err, idle.ExpiresAt)
	}
	if got, err := s.ExpireNow(ctx, paid.ID); err != nil || got.Status != engine.StatusPending {
		t.Fatalf("invoice with a payment seen: %s (%v), want pending", got.Status, err)
	}
	if _, err := s.ExpireNow(ctx, uuid.New()); err != engine.ErrNotFound {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}
}

// newScheduler is a Scheduler of cfg over an invoice Service on a real
// store, both on a test clock standing at 2026-03-01 12:00 UTC.
func newScheduler(t testing.TB, cfg Config) (*invoice.Service, *Scheduler, *clock.Test) {
	t.Helper()
	p := actortest.New(t)
	clk := clock.NewTest(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	svc, err := invoice.New(invoice.Config{Store: p.Store, Rules: p.Rules, Deriver: p.Deriver, Rates: p.Rates, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Shutdown)
	cfg.System, cfg.Store, cfg.Invoices, cfg.Clock = svc.System(), p.Store, svc, clk
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, s, clk
}

// A mass expiry runs within its budget: one round expires at most
// Rate×Interval invoices, paced in tenths of a second on the injected
// clock, and the actors it activated are gone when it returns.
func TestExpireDue_PacedWithinItsBudgetAndLeavesNoActors(t *testing.T) {
	svc, s, clk := newScheduler(t, Config{Rate: 100, Workers: 3})
	ctx := context.Background()
	createDue(t, svc, clk, 150)
	run := func() (int, int, error) { return runRound(ctx, s, clk) }
	// 100 a second: the round's second of budget in ten tenths.
	if n, waits, err := run(); err != nil || n != 100 || waits != 9 {
		t.Fatalf("asked %d (%v) after %d paced waits; want 100 after 9", n, err, waits)
	}
	// Each actor retires just after its reply.
	for deadline := time.Now().Add(5 * time.Second); svc.LiveActors() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d invoice actors left in memory by the expiry", svc.LiveActors())
		}
	}
	if n, _, err := run(); err != nil || n != 50 {
		t.Fatalf("the next round asked %d (%v), want the 50 left", n, err)
	}
}

// budgetFunc is a budget whose factor the test sets.
type budgetFunc func() float64

func (f budgetFunc) Factor() float64 { return f() }

// A round's limit and pacing follow Rate × the budget's factor, read again
// each slice, so a round that starts while the API is busy (a factor at
// its floor) expires a tenth as many, and one whose factor rises midway
// speeds up at once; Rate stays the ceiling.
func TestExpireDue_RateTimesTheBudgetsFactor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		factors  []float64 // the factor at each read; the last one holds
		interval time.Duration
		asked    int
		waits    int
	}{
		{"full speed", []float64{1}, 0, 100, 9},
		{"a quarter: 2 a slice, 1 to end the second", []float64{0.25}, 0, 25, 12},
		{"at a floor of 0.1", []float64{0.1}, 0, 10, 9},
		{"over 1 is still Rate", []float64{3}, 0, 100, 9},
		{"rising midway", []float64{0.1, 0.1, 0.1, 0.1, 0.1, 1}, 0, 55, 9},
		// 100 × 0.5 a second × 50 ms = 2.5: two, and no wait for the half.
		{"a short interval ends without waiting for a fraction", []float64{0.5}, 50 * time.Millisecond, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads := 0
			svc, s, clk := newScheduler(t, Config{Rate: 100, Workers: 3, Interval: tc.interval, Budget: budgetFunc(func() float64 {
				f := tc.factors[min(reads, len(tc.factors)-1)]
				reads++
				return f
			})})
			ctx := context.Background()
			createDue(t, svc, clk, 150)
			start := clk.Now()
			n, waits, err := runRound(ctx, s, clk)
			if err != nil || n != tc.asked || waits != tc.waits {
				t.Fatalf("asked %d (%v) after %d paced waits; want %d after %d", n, err, waits, tc.asked, tc.waits)
			}
			if spent, interval := clk.Now().Sub(start), cmp.Or(tc.interval, time.Second); spent > interval {
				t.Fatalf("the round took %s of its %s interval", spent, interval)
			}
		})
	}
}

// runRound runs one round, moving the clock through each paced wait.
func runRound(ctx context.Context, s *Scheduler, clk *clock.Test) (n int, waits int, err error) {
	done := make(chan error, 1)
	go func() {
		var err error
		n, err = s.ExpireDue(ctx)
		done <- err
	}()
	for {
		select {
		case w := <-clk.Waits():
			waits++
			clk.Add(w)
		case err := <-done:
			return n, waits, err
		}
	}
}

// createDue creates n invoices that expire in a minute, then moves the
// clock a minute on: they are all due.
func createDue(t testing.TB, svc *invoice.Service, clk *clock.Test, n int) {
	t.Helper()
	project, amount, minutes := uuid.New(), "0.001", int64(1)
	for i := range n {
		if _, _, err := svc.Create(context.Background(), project, engine.CreateRequest{OrderID: fmt.Sprint(i), Currency: "BTC", CryptoAmount: &amount, ExpireMin: &minutes}, ""); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(time.Minute)
}
