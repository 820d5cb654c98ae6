package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/maintenance"
)

// apiError is the one error shape of the API, flat as the hosted API and
// its official Go client have it:
// {"error":"<code>","message":"...","fields":[{"field":"...","message":"..."}]}.
// error is the stable machine code, message the human sentence.
type apiError struct {
	Status  int                 `json:"-"`
	Code    string              `json:"error"`
	Message string              `json:"message"`
	Fields  []engine.FieldError `json:"fields,omitempty"`
	// Allowed lists the permitted target statuses of a refused transition.
	Allowed []engine.Status `json:"allowed,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

func newError(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

// fieldError is an error about one field. Every message about a field has
// one grammar, "<field>: <sentence>", the field's message being the
// sentence.
func fieldError(status int, code, field, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: fieldMessage(field, msg), Fields: []engine.FieldError{{Field: field, Message: msg}}}
}

func fieldMessage(field, msg string) string { return field + ": " + msg }

var (
	errUnauthorized = newError(http.StatusUnauthorized, "unauthorized", "missing or invalid Api-key header")
	errForbidden    = newError(http.StatusForbidden, "forbidden", "this API key may not be used from your IP address")
	errNotFound     = newError(http.StatusNotFound, "not_found", "invoice not found")

	errAccountUnauthorized = newError(http.StatusUnauthorized, "unauthorized", "missing or invalid account key in the Api-key header")
	errAccountKeyRequired  = newError(http.StatusForbidden, "forbidden", "this route needs the account key; a project key may not use it")
	errProjectNotFound     = newError(http.StatusNotFound, "not_found", "project not found")
)

// toAPIError maps a domain error to its status and code. Anything not
// listed is a 500 whose detail is logged, never sent.
func toAPIError(err error) *apiError {
	var ae *apiError
	var ve *engine.ValidationError
	var te *engine.TransitionError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ve):
		msg := "validation failed"
		if len(ve.Fields) > 0 {
			msg = fieldMessage(ve.Fields[0].Field, ve.Fields[0].Message)
		}
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: msg, Fields: ve.Fields}
	case errors.As(err, &te):
		return &apiError{Status: http.StatusConflict, Code: "invalid_transition", Message: fieldMessage("status", te.Error()),
			Fields: []engine.FieldError{{Field: "status", Message: te.Error()}}, Allowed: te.Allowed}
	case errors.Is(err, engine.ErrNotFound):
		return errNotFound
	case errors.Is(err, invoice.ErrOrderIDConflict):
		return fieldError(http.StatusConflict, "order_id_conflict", "order_id", "is already used by another invoice of this project with a different request")
	case errors.Is(err, invoice.ErrIdempotencyConflict):
		return fieldError(http.StatusConflict, "idempotency_conflict", "Idempotency-Key", "was already used with a different request")
	case errors.Is(err, accounts.ErrProjectNotFound):
		return errProjectNotFound
	case errors.Is(err, accounts.ErrKeyNotFound):
		return newError(http.StatusNotFound, "not_found", "key not found among the project's live keys")
	case errors.Is(err, accounts.ErrLastKey):
		return newError(http.StatusConflict, "last_key", "this is the project's last live key; roll it instead, or revoke it with ?force=true")
	case errors.Is(err, accounts.ErrExpireOldIn):
		return fieldError(http.StatusUnprocessableEntity, "validation_failed", "expire_old_in", "must be a Go duration from 0 to 168h (7 days)")
	case errors.Is(err, accounts.ErrNameTaken):
		return fieldError(http.StatusConflict, "project_name_conflict", "name", "is already used by another project of this account")
	case errors.Is(err, maintenance.ErrBackupInProgress):
		return errBackupInProgress
	case errors.Is(err, engine.ErrNoRate):
		return fieldError(http.StatusServiceUnavailable, "rate_unavailable", "fiat_amount", "cannot be converted: no exchange rate is available for this currency right now")
	}
	return nil
}

// writeError sends err as the API error body. Unknown errors become a
// generic 500 and are logged with the request id.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae == nil {
		s.log.Error("request failed", slog.String("request_id", requestID(w)), slog.String("route", routeOf(r)), slog.Any("err", err))
		ae = newError(http.StatusInternalServerError, "internal_error", "internal error; quote the X-Request-Id when reporting it")
	}
	writeJSON(w, ae.Status, ae)
}
