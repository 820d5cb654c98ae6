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

// batch is how many due invoices one read of the schedule returns at most.
const batch = 512

// Config is what the scheduler needs; cmd builds it once.
type Config struct {
	// System, Store and Invoices are required.
	System   *actors.System
	Store    *persistence.Store
	Invoices *invoice.Service
	// Interval is how often the schedule is scanned (default 1 s).
	Interval time.Duration
	// Rate bounds the expiries per second (default DefaultRate): a round
	// expires at most Rate×Interval invoices, paced in tenths of a second,
	// and leaves the rest due for the next round, so a mass expiry is
	// spread over time instead of taking the API's CPU and fsyncs at once
	// (each costs about 0.4 ms of CPU with its share of compaction).
	// Rate is the ceiling: Budget scales it down while the API needs the
	// machine, and expired invoices are late by at most their backlog
	// divided by the effective rate, Rate × Budget's factor.
	Rate int
	// Budget is the factor in (0, 1] Rate is multiplied by, read at every
	// slice of a round (nil = 1: a fixed rate); admission.Controller is
	// the real one.
	Budget budget
	// Workers bounds the expiries in flight (default DefaultWorkers); they
	// commit together as one group, one synced batch with their counter
	// deltas summed, so a mass expiry costs the disk a sync per group
	// instead of queueing hundreds of fsyncs ahead of the API's.
	Workers int
	Clock   clock.Clock  // nil = the wall clock
	Logger  *slog.Logger // nil = discard
	// Metrics receives the scheduler's metrics (nil = none).
	Metrics prometheus.Registerer
}

// budget scales background rates to the machine's room.
type budget interface {
	Factor() float64
}

// fixed is the budget of a scheduler without one: always its full Rate.
type fixed struct{}

func (fixed) Factor() float64 { return 1 }

// The expiry budget's defaults.
const (
	DefaultRate    = 1000
	DefaultWorkers = 50
)

// slice is how finely a round paces its expiries: Rate/10 of them each
// tenth of a second, not a second's worth in one burst.
const slice = 100 * time.Millisecond

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
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Budget == nil {
		cfg.Budget = fixed{}
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

// ExpireDue sends Expire to the invoices due by now, at most one
// interval's worth at the effective rate (Rate × the budget's factor, read
// again each tenth of a second), Workers at a time, and returns how many
// were asked. An invoice a payment keeps alive ignores it (and leaves the
// schedule with its next commit); each one that expires leaves the
// schedule in its commit, so the scan makes progress.
func (s *Scheduler) ExpireDue(ctx context.Context) (int, error) {
	start := s.cfg.Clock.Now()
	// next is when the next slice may start: each slice of n expiries
	// moves it n/rate later, and the round ends once it has spent its
	// interval, so a round expires at most Rate×Interval at a factor of 1.
	next, total := start, 0
	// left is how many expiries the rest of the interval affords at rate:
	// the round ends when not one more does, rather than wait on the clock
	// for a fraction of one.
	left := func(rate float64) int { return int(rate*(s.cfg.Interval-next.Sub(start)).Seconds() + 1e-6) }
	// after is the last key an earlier slice of this round asked: the next
	// slice reads on from it instead of stepping again over the tombstones
	// of the keys the round has expired (or over an invoice a payment keeps
	// alive, asked once a round). Each round reads from the first key, so a
	// key that lands below it (an invoice back to new after a reorg, a
	// failed expiry) is found by the next round, an interval later at most.
	var after *persistence.ExpiryDue
	for {
		rate := max(1, float64(s.cfg.Rate)*min(1, s.cfg.Budget.Factor()))
		n := max(1, min(batch, int(rate*slice.Seconds()), left(rate)))
		now := s.cfg.Clock.Now()
		due, err := s.cfg.Store.DueExpiries(now.UnixNano(), after, n)
		if err != nil {
			return total, err
		}
		if len(due) == 0 {
			return total, nil
		}
		after = &due[len(due)-1]
		ids := make([]uuid.UUID, len(due))
		for i, d := range due {
			ids[i] = d.Invoice
		}
		if err := s.expire(ctx, ids, now); err != nil {
			return total + len(ids), err
		}
		total += len(ids)
		next = next.Add(time.Duration(float64(len(ids)) / rate * float64(time.Second)))
		if len(ids) < n || left(rate) < 1 {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, nil
		case <-s.cfg.Clock.After(next.Sub(s.cfg.Clock.Now())):
		}
	}
}

// expire asks every invoice of ids to expire, Workers at a time, each
// Workers committed together as one group (see invoice.Service.ApplyAll).
func (s *Scheduler) expire(ctx context.Context, ids []uuid.UUID, now time.Time) error {
	var failed []error
	for len(ids) > 0 {
		n := min(s.cfg.Workers, len(ids))
		for i, err := range s.cfg.Invoices.ApplyAll(ctx, ids[:n], engine.Expire{At: now}) {
			if err != nil {
				failed = append(failed, fmt.Errorf("expire %s: %w", ids[i], err))
			}
		}
		s.swept.Add(float64(n))
		ids = ids[n:]
	}
	return errors.Join(failed...)
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
