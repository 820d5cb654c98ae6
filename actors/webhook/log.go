package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/persistence"
)

// WebhookRecord is what the API shows of one webhook: its delivery status,
// every attempt, and when the next one is due.
type WebhookRecord struct {
	ID    string
	Event string
	// Status is "pending", "delivered" or "dead".
	Status   string
	Attempts []WebhookAttempt
	// NextAttemptAt is zero unless the webhook is pending.
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// WebhookAttempt is one delivery attempt.
type WebhookAttempt struct {
	At time.Time
	// HTTPStatus is 0 when no response arrived (Error says why).
	HTTPStatus int
	Error      string
	Duration   time.Duration
}

func webhookRecord(e persistence.OutboxEntry) WebhookRecord {
	w := WebhookRecord{
		ID: e.Record.ID, Event: e.Record.Event, Status: string(e.State.Status),
		Attempts:  make([]WebhookAttempt, len(e.State.Attempts)),
		CreatedAt: time.Unix(0, e.Record.CreatedAt).UTC(),
	}
	if e.State.Status == persistence.OutboxPending {
		w.NextAttemptAt = time.Unix(0, e.State.Next).UTC()
	}
	for i, a := range e.State.Attempts {
		w.Attempts[i] = WebhookAttempt{At: time.Unix(0, a.At).UTC(), HTTPStatus: a.HTTPStatus, Error: a.Error, Duration: time.Duration(a.Duration)}
	}
	return w
}

// Webhooks lists a project's invoice's webhooks in order. Another project's
// invoice is engine.ErrNotFound.
func (d *Deliverer) Webhooks(ctx context.Context, project, invoice uuid.UUID) ([]WebhookRecord, error) {
	if _, err := d.cfg.Invoices.Get(ctx, project, invoice); err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.stopped {
		return nil, errStopped
	}
	q, err := d.store.OutboxQueue(invoice)
	if err != nil {
		return nil, err
	}
	out := make([]WebhookRecord, len(q))
	for i, e := range q {
		out[i] = webhookRecord(e)
	}
	return out, nil
}

// Redeliver queues a webhook again, delivered or dead-lettered ones too, for
// an attempt now (after any earlier pending webhook of the invoice) with a
// fresh retry schedule, and returns it. An unknown id is ErrWebhookNotFound,
// another project's invoice engine.ErrNotFound.
func (d *Deliverer) Redeliver(ctx context.Context, project, invoice uuid.UUID, id string) (WebhookRecord, error) {
	if _, err := d.cfg.Invoices.Get(ctx, project, invoice); err != nil {
		return WebhookRecord{}, err
	}
	timeout := d.cfg.RequestTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if timeout <= 0 {
		return WebhookRecord{}, ctx.Err()
	}
	res, err := d.cfg.System.Root().RequestFuture(d.pid, redeliverMsg{invoice: invoice, id: id}, timeout).Result()
	if err != nil {
		return WebhookRecord{}, fmt.Errorf("redeliver %s: %w", id, err)
	}
	rep, ok := res.(redeliverReply)
	if !ok {
		return WebhookRecord{}, fmt.Errorf("redeliver %s: unexpected reply %T", id, res)
	}
	return rep.rec, rep.err
}

// requeue runs on the Deliverer actor, the only writer of delivery states.
func (d *Deliverer) requeue(m redeliverMsg) (WebhookRecord, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.stopped {
		return WebhookRecord{}, errStopped
	}
	q, err := d.store.OutboxQueue(m.invoice)
	if err != nil {
		return WebhookRecord{}, err
	}
	for _, e := range q {
		if e.Record.ID != m.id {
			continue
		}
		next := e.State
		next.Status, next.Next, next.Failures = persistence.OutboxPending, d.clock.Now().UnixNano(), 0
		next.Requeues++
		if err := d.store.UpdateOutbox([]persistence.OutboxUpdate{{Invoice: m.invoice, Seq: e.Record.Seq, Old: e.State, New: next}}); err != nil {
			return WebhookRecord{}, fmt.Errorf("redeliver %s: %w", m.id, err)
		}
		// A merchant asking again has likely fixed the endpoint: if its
		// circuit is open, probe it now rather than after the cooldown.
		d.breakers.probeNow(hostOf(e.Record.URL), d.clock.Now())
		e.State = next
		return webhookRecord(e), nil
	}
	return WebhookRecord{}, fmt.Errorf("redeliver %s: %w", m.id, ErrWebhookNotFound)
}
