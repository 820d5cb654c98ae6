package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/view"
	"github.com/invoiced/invoiced/webhooks"
)

// webhookSender delivers one signed webhook.
type webhookSender interface {
	Send(ctx context.Context, d webhooks.Delivery) (webhooks.Result, error)
}

type simulateBody struct {
	InvoiceID string `json:"invoice_id"`
	Status    string `json:"status"`
}

// simulateWebhook sends the invoice's callback_url a signed webhook that
// carries the requested status, without changing the invoice: merchants
// test their receiver with it. It is sent at once, through the same signer
// and SSRF-guarded client as real deliveries.
func (s *Server) simulateWebhook(w http.ResponseWriter, r *http.Request, _ httprouter.Params, p persistence.Project) {
	var body simulateBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	errs := &engine.ValidationError{}
	id, err := uuid.Parse(body.InvoiceID)
	if body.InvoiceID == "" {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "invoice_id", Message: "is required"})
	} else if err != nil {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "invoice_id", Message: "must be a UUID"})
	}
	if !engine.Status(body.Status).Valid() {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "status", Message: "must be one of new, pending, completed, expired, cancelled, paid_partial, archived"})
	}
	if len(errs.Fields) > 0 {
		s.writeError(w, r, errs)
		return
	}
	inv, err := s.cfg.Invoices.Get(r.Context(), p.ID, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if inv.CallbackURL == "" {
		s.writeError(w, r, fieldError(http.StatusUnprocessableEntity, "validation_failed", "invoice_id", "names an invoice without a callback_url"))
		return
	}
	payload := view.Webhook{Invoice: view.FromInvoice(inv, p.AccountID, s.cfg.Rules.Currencies, s.cfg.PublicURL), Event: "invoice.status_changed", Simulated: true}
	payload.Status = engine.Status(body.Status)
	raw := payload.AppendJSON(nil)
	res, err := s.cfg.Webhooks.Send(r.Context(), webhooks.Delivery{
		URL: inv.CallbackURL, ID: "sim_" + uuid.NewString(), Body: raw,
		// One signature per live key of the project, as real deliveries.
		Keys:      s.cfg.Accounts.SigningKeys(p.ID),
		Timestamp: s.cfg.Clock.Now(),
	})
	if err != nil {
		msg := "the receiver did not accept the webhook: " + err.Error()
		if errors.Is(err, webhooks.ErrNon2xx) {
			msg = fmt.Sprintf("the receiver answered HTTP %d", res.StatusCode)
		}
		s.writeError(w, r, newError(http.StatusBadGateway, "webhook_failed", msg))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success", "message": "Webhook sent"})
}
