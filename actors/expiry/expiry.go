// Package expiry owns the expiry scheduler: an actor that every interval
// scans the persisted expiry schedule for invoices whose expires_at has
// passed and asks each invoice actor to expire.
//
// The schedule is an index in the store written in the same batch as the
// invoice's events, not a timer per invoice, so a restart loses nothing and
// a million pending expiries cost no goroutines.
package expiry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
)

// batch is how many due invoices one scan sends Expire to at once.
const batch = 512

// Config is what the scheduler needs; cmd builds it once.
type Config struct {
	// System, Store and Invoices are required.
	System   *actors.System
	Store    *persistence.Store
	Invoices *invoice.Service
	// Interval is how often the schedule is scanned (default 1 s).
	Interval time.Duration
	Clock    clock.Clock  // nil = the wall clock
	Logger   *slog.Logger // nil = discard
	// Metrics receives the scheduler's metrics (nil = none).
	Metrics prometheus.Registerer
}

// Scheduler expires invoices whose expires_at has passed.
type Scheduler struct {
	cfg   Config
	swept prometheus.Counter
}

// New returns a Scheduler; Start runs it.
func New(cfg Config) (*Scheduler, error) {
	if cfg.System == nil || cfg.Store == nil || cfg.Invoices == nil {
		return nil, errors.New("expiry: System, Store and Invoices are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{cfg: cfg, swept: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "invoiced_invoices_expired_total", Help: "Expire commands sent to invoices whose expires_at passed.",
	})}
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(s.swept)
	}
	return s, nil
}

// Start scans every interval until ctx ends.
func (s *Scheduler) Start(ctx context.Context) {
	s.cfg.System.StartTicking(ctx, s.cfg.Interval, nil, func(ctx context.Context) {
		if _, err := s.ExpireDue(ctx); err != nil {
			s.cfg.Logger.Warn("expiry scan failed", slog.Any("err", err))
		}
	})
}

// ExpireDue sends Expire to every invoice due by now and returns how many
// were asked. An invoice a payment keeps alive ignores it (and leaves the
// schedule with its next commit); each one that expires leaves the schedule
// in its commit, so the scan makes progress.
func (s *Scheduler) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		now := s.cfg.Clock.Now()
		ids, err := s.cfg.Store.DueExpiries(now.UnixNano(), batch)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		errs := make(chan error, len(ids))
		for _, id := range ids {
			go func(id uuid.UUID) {
				_, err := s.cfg.Invoices.Apply(ctx, id, engine.Expire{At: now})
				if err != nil {
					err = fmt.Errorf("expire %s: %w", id, err)
				}
				errs <- err
			}(id)
		}
		var failed []error
		for range ids {
			if err := <-errs; err != nil {
				failed = append(failed, err)
			}
		}
		total += len(ids)
		s.swept.Add(float64(len(ids)))
		if len(failed) > 0 {
			return total, errors.Join(failed...)
		}
		if len(ids) < batch {
			return total, nil
		}
	}
}

// ExpireNow expires an invoice as if its expires_at had passed: the dev
// mode's "let it expire" button, so a merchant can see the expired page
// without waiting. The event is dated expires_at (or now, if later);
// whether the invoice expires is the engine's usual rule, so a payment
// seen still keeps it alive.
func (s *Scheduler) ExpireNow(ctx context.Context, id uuid.UUID) (engine.Invoice, error) {
	inv, err := s.cfg.Invoices.Lookup(id)
	if err != nil {
		return engine.Invoice{}, err
	}
	at := s.cfg.Clock.Now()
	if at.Before(inv.ExpiresAt) {
		at = inv.ExpiresAt
	}
	inv, err = s.cfg.Invoices.Apply(ctx, id, engine.Expire{At: at})
	if err != nil {
		return engine.Invoice{}, fmt.Errorf("expire %s: %w", id, err)
	}
	return inv, nil
}
