package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// expiryBatch is how many due invoices one scan sends Expire to at once.
const expiryBatch = 512

// StartExpiry runs the expiry scheduler: an actor that every interval scans
// the persisted expiry schedule for invoices whose expires_at has passed and
// asks each to expire. The schedule is an index in the store written in the
// same batch as the invoice's events, not a timer per invoice, so a restart
// loses nothing and a million pending expiries cost no goroutines.
func (r *Registry) StartExpiry(ctx context.Context, interval time.Duration) {
	startTicking(ctx, r.system, interval, nil, r.guarded(func(ctx context.Context) {
		if _, err := r.ExpireDue(ctx); err != nil {
			r.cfg.Logger.Warn("expiry scan failed", slog.Any("err", err))
		}
	}))
}

// ExpireDue sends Expire to every invoice due by now and returns how many
// were asked. An invoice a payment keeps alive ignores it (and leaves the
// schedule with its next commit); each one that expires leaves the schedule
// in its commit, so the scan makes progress.
func (r *Registry) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		now := r.cfg.Now()
		ids, err := r.cfg.Store.DueExpiries(now.UnixNano(), expiryBatch)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		errs := make(chan error, len(ids))
		for _, id := range ids {
			go func(id uuid.UUID) {
				rep, err := r.ask(ctx, id, decideMsg{internal: true, cmd: engine.Expire{At: now}})
				if err == nil {
					err = rep.err
				}
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
		r.metrics.expirySweeps.Add(float64(len(ids)))
		if len(failed) > 0 {
			return total, errors.Join(failed...)
		}
		if len(ids) < expiryBatch {
			return total, nil
		}
	}
}

// ExpireNow expires an invoice as if its expires_at had passed: the dev
// mode's "let it expire" button, so a merchant can see the expired page
// without waiting. The event is dated expires_at (or now, if later);
// whether the invoice expires is the engine's usual rule, so a payment
// seen still keeps it alive.
func (r *Registry) ExpireNow(ctx context.Context, id uuid.UUID) (engine.Invoice, error) {
	inv, err := r.loadInvoice(id)
	if err != nil {
		return engine.Invoice{}, err
	}
	at := r.cfg.Now()
	if at.Before(inv.ExpiresAt) {
		at = inv.ExpiresAt
	}
	rep, err := r.ask(ctx, id, decideMsg{internal: true, cmd: engine.Expire{At: at}})
	if err != nil {
		return engine.Invoice{}, fmt.Errorf("expire %s: %w", id, err)
	}
	return rep.inv, rep.err
}
