package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/engine"
)

// devChains is the dev chain faucet: pay an address and mine blocks. Only
// dev mode has one; in prod mode the routes do not exist (404).
type devChains interface {
	Pay(currency, address string, amount engine.Units) (string, error)
	Mine(currency string, blocks int) (uint64, error)
}

type devPayBody struct {
	Currency string `json:"currency"`
	Address  string `json:"address"`
	Amount   string `json:"amount"`
}

// devPay puts a payment into the dev chain's mempool. Amounts are decimal
// strings validated like the API's.
func (s *Server) devPay(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body devPayBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	errs := &engine.ValidationError{}
	cur, ok := s.cfg.Rules.Currencies.Lookup(body.Currency)
	if !ok {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "currency", Message: "unsupported currency; supported: " + strings.Join(s.cfg.Rules.Currencies.Codes(), ", ")})
	}
	if body.Address == "" || len(body.Address) > 200 {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "address", Message: "is required (at most 200 characters)"})
	}
	var amount engine.Units
	if ok {
		a, err := engine.ParseDecimal(body.Amount, cur.Decimals)
		switch {
		case err != nil:
			errs.Fields = append(errs.Fields, engine.FieldError{Field: "amount", Message: "must be a positive decimal string with at most the currency's decimals: " + err.Error()})
		case a.Sign() <= 0:
			errs.Fields = append(errs.Fields, engine.FieldError{Field: "amount", Message: "must be greater than 0"})
		}
		amount = a
	}
	if len(errs.Fields) > 0 {
		s.writeError(w, r, errs)
		return
	}
	txid, err := s.cfg.Dev.Pay(cur.Code, body.Address, amount)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"txid": txid})
}

type devMineBody struct {
	Currency string   `json:"currency"`
	Blocks   intField `json:"blocks"`
}

func (s *Server) devMine(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body devMineBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	blocks, err := body.Blocks.ptr("blocks")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	n := int64(1)
	if blocks != nil {
		n = *blocks
	}
	cur, ok := s.cfg.Rules.Currencies.Lookup(body.Currency)
	switch {
	case !ok:
		s.writeError(w, r, fieldError(http.StatusUnprocessableEntity, "validation_failed", "currency", "unsupported currency"))
		return
	case n < 1 || n > 1000:
		s.writeError(w, r, fieldError(http.StatusUnprocessableEntity, "validation_failed", "blocks", "must be from 1 to 1000"))
		return
	}
	height, err := s.cfg.Dev.Mine(cur.Code, int(n))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"height": height})
}

// devExpirer expires an invoice at once (the checkout page's dev panel).
type devExpirer interface {
	ExpireNow(ctx context.Context, id uuid.UUID) (engine.Invoice, error)
}

type devExpireBody struct {
	InvoiceID string `json:"invoice_id"`
}

// devExpire lets an invoice expire now, as if its expires_at had passed.
func (s *Server) devExpire(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var body devExpireBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := uuid.Parse(body.InvoiceID)
	if err != nil {
		s.writeError(w, r, fieldError(http.StatusUnprocessableEntity, "validation_failed", "invoice_id", "must be an invoice id (UUID)"))
		return
	}
	inv, err := s.cfg.DevExpire.ExpireNow(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": string(inv.Status)})
}
