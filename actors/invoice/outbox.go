package invoice

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/view"
)

// Webhook event names: the "event" field of a webhook body.
const (
	EventStatusChanged = "invoice.status_changed"
	EventPaymentSeen   = "invoice.payment_seen"
)

// webhookEvent names the webhook an event causes, "" for none.
func webhookEvent(e engine.Event) string {
	switch e.(type) {
	case engine.StatusChanged:
		return EventStatusChanged
	case engine.PaymentSeen:
		return EventPaymentSeen
	}
	return ""
}

// WebhookID is the X-Webhook-Id of the webhook reporting the event at
// version of invoice: derived, so it is the same on every retry and after
// every restart.
func WebhookID(invoice uuid.UUID, version uint64) string {
	return fmt.Sprintf("wh_%s_%d", invoice, version)
}

// outboxRecords are the webhooks of one decision, committed to the outbox
// with its events (actors/webhook delivers them): one per status change and per payment
// seen, when the invoice has a callback URL. Every body carries the state
// after the whole decision (so a payment's webhook already shows the status
// it caused), the project's owner as its user_id (Config.Owner; nil: the
// nil UUID) and its checkout links under Config.PublicURL; Seq is the
// event's stream version.
func (s *Service) outboxRecords(before, after engine.Invoice, events []engine.Event) []persistence.OutboxRecord {
	if after.CallbackURL == "" {
		return nil
	}
	var out []persistence.OutboxRecord
	var inv view.Invoice
	created := s.cfg.Clock.Now().UnixNano()
	for i, e := range events {
		name := webhookEvent(e)
		if name == "" {
			continue
		}
		if out == nil {
			inv = view.FromInvoice(after, s.owner(after.ProjectID), s.cfg.Rules.Currencies, s.cfg.PublicURL)
		}
		w := view.Webhook{Invoice: inv, Event: name}
		body := w.AppendJSON(make([]byte, 0, 1024))
		seq := before.Version + 1 + uint64(i)
		out = append(out, persistence.OutboxRecord{
			Seq: seq, ID: WebhookID(after.ID, seq), Event: name, ProjectID: after.ProjectID,
			URL: after.CallbackURL, Body: body, CreatedAt: created,
		})
	}
	return out
}
