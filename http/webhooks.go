package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/actors/webhook"
	"github.com/invoiced/invoiced/persistence"
)

// webhookLog is what the webhook routes need of the webhook deliverer.
type webhookLog interface {
	Webhooks(ctx context.Context, project, invoice uuid.UUID) ([]webhook.WebhookRecord, error)
	Redeliver(ctx context.Context, project, invoice uuid.UUID, webhookID string) (webhook.WebhookRecord, error)
}

var errWebhookNotFound = newError(http.StatusNotFound, "not_found", "webhook not found")

type webhookJSON struct {
	WebhookID     string        `json:"webhook_id"`
	Event         string        `json:"event"`
	Status        string        `json:"status"`
	Attempts      []attemptJSON `json:"attempts"`
	NextAttemptAt *time.Time    `json:"next_attempt_at"`
	CreatedAt     time.Time     `json:"created_at"`
}

type attemptJSON struct {
	At         time.Time `json:"at"`
	HTTPStatus *int      `json:"http_status"`
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
}

func toWebhookJSON(w webhook.WebhookRecord) webhookJSON {
	out := webhookJSON{WebhookID: w.ID, Event: w.Event, Status: w.Status, Attempts: make([]attemptJSON, len(w.Attempts)), CreatedAt: w.CreatedAt}
	if !w.NextAttemptAt.IsZero() {
		next := w.NextAttemptAt
		out.NextAttemptAt = &next
	}
	for i, a := range w.Attempts {
		j := attemptJSON{At: a.At, DurationMS: a.Duration.Milliseconds()}
		if a.HTTPStatus != 0 {
			st := a.HTTPStatus
			j.HTTPStatus = &st
		}
		if a.Error != "" {
			e := a.Error
			j.Error = &e
		}
		out.Attempts[i] = j
	}
	return out
}

// listWebhooks is GET /api/v1/invoices/{invoice_id}/webhooks: every webhook
// of the invoice in order, with its attempts.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p persistence.Project) {
	id, err := invoiceID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.cfg.Outbox.Webhooks(r.Context(), p.ID, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]webhookJSON, len(list))
	for i, wh := range list {
		out[i] = toWebhookJSON(wh)
	}
	writeJSON(w, http.StatusOK, map[string][]webhookJSON{"webhooks": out})
}

// redeliverWebhook is POST /api/v1/invoices/{invoice_id}/webhooks/{webhook_id}/redeliver:
// the webhook is queued again for an attempt now (202: it is sent
// asynchronously, like every webhook).
func (s *Server) redeliverWebhook(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p persistence.Project) {
	id, err := invoiceID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, err := s.cfg.Outbox.Redeliver(r.Context(), p.ID, id, ps.ByName("webhook_id"))
	if errors.Is(err, webhook.ErrWebhookNotFound) {
		err = errWebhookNotFound
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, toWebhookJSON(wh))
}
