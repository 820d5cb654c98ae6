package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// createBody is the JSON of POST /invoices and POST /archived. created_at
// belongs only to the latter, expire_min and redirect_url only to the
// former; each endpoint refuses the other's fields as unknown.
type createBody struct {
	OrderID             string       `json:"order_id"`
	FiatAmount          decimalField `json:"fiat_amount"`
	FiatCurrency        *string      `json:"fiat_currency"`
	CryptoAmount        decimalField `json:"crypto_amount"`
	Currency            string       `json:"currency"`
	AllowedErrorPercent intField     `json:"allowed_error_percent"`
	OrderName           *string      `json:"order_name"`
	CallbackURL         *string      `json:"callback_url"`
	RedirectURL         *string      `json:"redirect_url"`
	ExpireMin           intField     `json:"expire_min"`
	CreatedAt           *string      `json:"created_at"`
}

func unknownField(field string) error {
	return fieldError(http.StatusBadRequest, "unknown_field", field, "is not a known field")
}

func (b createBody) request() (engine.CreateRequest, error) {
	req := engine.CreateRequest{OrderID: b.OrderID, Currency: b.Currency, FiatCurrency: b.FiatCurrency, OrderName: b.OrderName, CallbackURL: b.CallbackURL, RedirectURL: b.RedirectURL}
	var err error
	if req.FiatAmount, err = b.FiatAmount.ptr("fiat_amount"); err != nil {
		return req, err
	}
	if req.CryptoAmount, err = b.CryptoAmount.ptr("crypto_amount"); err != nil {
		return req, err
	}
	if req.AllowedErrorPercent, err = b.AllowedErrorPercent.ptr("allowed_error_percent"); err != nil {
		return req, err
	}
	return req, nil
}

// idempotencyKey reads the optional Idempotency-Key header.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if len(k) > 255 {
		return "", fieldError(http.StatusUnprocessableEntity, "validation_failed", "Idempotency-Key", "must be at most 255 characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "", fieldError(http.StatusUnprocessableEntity, "validation_failed", "Idempotency-Key", "must be printable ASCII without spaces")
		}
	}
	return k, nil
}

func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request, _ httprouter.Params, p persistence.Project) {
	var body createBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.CreatedAt != nil {
		s.writeError(w, r, unknownField("created_at"))
		return
	}
	req, err := body.request()
	if err == nil {
		req.ExpireMin, err = body.ExpireMin.ptr("expire_min")
	}
	key, kerr := idempotencyKey(r)
	if err == nil {
		err = kerr
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	inv, created, err := s.cfg.Invoices.Create(r.Context(), p.ID, req, key)
	s.writeCreated(w, r, inv, created, err)
}

func (s *Server) createArchived(w http.ResponseWriter, r *http.Request, _ httprouter.Params, p persistence.Project) {
	var body createBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.ExpireMin.set || body.ExpireMin.bad {
		s.writeError(w, r, unknownField("expire_min"))
		return
	}
	if body.RedirectURL != nil { // an archived invoice has no checkout page
		s.writeError(w, r, unknownField("redirect_url"))
		return
	}
	req, err := body.request()
	req.CreatedAt = body.CreatedAt
	key, kerr := idempotencyKey(r)
	if err == nil {
		err = kerr
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	inv, created, err := s.cfg.Invoices.CreateArchived(r.Context(), p.ID, req, key)
	s.writeCreated(w, r, inv, created, err)
}

// writeCreated answers 201 for a new invoice and 200 for a repeated
// request that returned the earlier one.
func (s *Server) writeCreated(w http.ResponseWriter, r *http.Request, inv engine.Invoice, created bool, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !created {
		s.writeInvoice(w, http.StatusOK, inv)
		return
	}
	w.Header().Set("Location", "/api/v1/invoices/"+inv.ID.String())
	writeRendered(w, http.StatusCreated, s.cfg.Invoices.AppendNewJSON, inv)
}

// invoiceID parses the path id; a malformed id cannot name an invoice, so
// it is a 404 like any unknown one.
func invoiceID(ps httprouter.Params) (uuid.UUID, error) {
	return pathID(ps, "invoice_id", errNotFound)
}

// pathID parses the path parameter name as a UUID in its canonical
// 36-character form, or returns notFound: a malformed id names nothing.
func pathID(ps httprouter.Params, name string, notFound error) (uuid.UUID, error) {
	id, err := uuid.Parse(ps.ByName(name))
	if err != nil || len(ps.ByName(name)) != 36 {
		return uuid.UUID{}, notFound
	}
	return id, nil
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p persistence.Project) {
	id, err := invoiceID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	buf := jsonBuffers.Get().(*[]byte)
	defer jsonBuffers.Put(buf)
	*buf, err = s.cfg.Invoices.AppendInvoice((*buf)[:0], p.ID, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, *buf)
}

type patchBody struct {
	Status  *string `json:"status"`
	Comment *string `json:"comment"`
}

func (s *Server) patchInvoice(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p persistence.Project) {
	id, err := invoiceID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body patchBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Status == nil || *body.Status == "" {
		s.writeError(w, r, fieldError(http.StatusUnprocessableEntity, "validation_failed", "status", "is required"))
		return
	}
	comment := ""
	if body.Comment != nil {
		comment = *body.Comment
	}
	inv, err := s.cfg.Invoices.ChangeStatus(r.Context(), p.ID, id, engine.Status(*body.Status), comment)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeInvoice(w, http.StatusOK, inv)
}

// Pagination defaults of the API.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// pagination is the list's page, in the official ItisPay client's names.
type pagination struct {
	CurrentPage  int  `json:"current_page"`
	PageSize     int  `json:"page_size"`
	TotalPages   int  `json:"total_pages"`
	TotalRecords int  `json:"total_records"`
	HasNext      bool `json:"has_next"`
	HasPrevious  bool `json:"has_previous"`
}

// pageOf describes page (1-based, possibly past the end) of size over
// total records: has_next when a later page holds records, has_previous
// when records come before this page (so the empty page past the end of a
// non-empty list has a previous one, and no page of an empty list does).
func pageOf(page, size, total int) pagination {
	pages := (total + size - 1) / size
	return pagination{
		CurrentPage: page, PageSize: size, TotalPages: pages, TotalRecords: total,
		HasNext: page < pages, HasPrevious: page > 1 && total > 0,
	}
}

var sortFields = map[string]persistence.SortField{
	"created_at":    persistence.SortCreatedAt,
	"updated_at":    persistence.SortUpdatedAt,
	"fiat_amount":   persistence.SortFiatAmount,
	"crypto_amount": persistence.SortCryptoAmount,
}

// parseListQuery validates the list parameters, collecting every problem
// (422 naming each parameter), into the store's query: page and page_size
// become Offset and Limit.
func (s *Server) parseListQuery(r *http.Request, project uuid.UUID) (persistence.Query, error) {
	v := r.URL.Query()
	q := persistence.Query{ProjectID: project, SortBy: persistence.SortCreatedAt, Desc: true}
	page, pageSize := 1, defaultPageSize
	errs := &engine.ValidationError{}
	bad := func(field, msg string) {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: field, Message: msg})
	}

	if st := v.Get("status"); st != "" {
		if !engine.Status(st).Valid() {
			bad("status", "must be one of new, pending, completed, expired, cancelled, paid_partial, archived")
		}
		q.Status = st
	}
	if c := v.Get("currency"); c != "" {
		cur, ok := s.cfg.Rules.Currencies.Lookup(c)
		if !ok {
			bad("currency", "unsupported currency; supported: "+strings.Join(s.cfg.Rules.Currencies.Codes(), ", "))
		}
		q.Currency = cur.Code
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"created_after", &q.CreatedAfter}, {"created_before", &q.CreatedBefore}} {
		if t := v.Get(f.name); t != "" {
			parsed, err := time.Parse(time.RFC3339Nano, t)
			if err != nil {
				bad(f.name, "must be an RFC3339 date-time such as 2026-01-02T15:04:05Z")
			}
			if !parsed.IsZero() {
				*f.dst = parsed.UnixNano() // exclusive; <= 0 = unbounded
			}
		}
	}
	if t := v.Get("page"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > math.MaxInt32 {
			bad("page", "must be an integer of at least 1")
		}
		page = n
	}
	if t := v.Get("page_size"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > maxPageSize {
			bad("page_size", "must be an integer from 1 to 100")
		}
		pageSize = n
	}
	if t := v.Get("sort_by"); t != "" {
		f, ok := sortFields[t]
		if !ok {
			bad("sort_by", "must be one of created_at, updated_at, fiat_amount, crypto_amount")
		}
		q.SortBy = f
	}
	switch v.Get("sort_order") {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		bad("sort_order", "must be asc or desc")
	}
	if len(errs.Fields) > 0 {
		return q, errs
	}
	q.Offset, q.Limit = (page-1)*pageSize, pageSize
	return q, nil
}

func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request, _ httprouter.Params, p persistence.Project) {
	q, err := s.parseListQuery(r, p.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// {"items":[...],"pagination":{...}}, the items as the invoice service
	// renders (or kept) them
	buf := jsonBuffers.Get().(*[]byte)
	defer jsonBuffers.Put(buf)
	b, total, err := s.cfg.Invoices.AppendList(append((*buf)[:0], `{"items":[`...), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := pageOf(q.Offset/q.Limit+1, q.Limit, total)
	pb, err := json.Marshal(page)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode pagination: %w", err))
		return
	}
	*buf = append(append(append(b, `],"pagination":`...), pb...), '}')
	writeRaw(w, http.StatusOK, *buf)
}

// writeInvoice answers with the JSON of inv, a committed state.
func (s *Server) writeInvoice(w http.ResponseWriter, status int, inv engine.Invoice) {
	writeRendered(w, status, s.cfg.Invoices.AppendJSON, inv)
}

// writeRendered answers with inv's JSON as render appends it, in a pooled
// buffer.
func writeRendered(w http.ResponseWriter, status int, render func([]byte, engine.Invoice) []byte, inv engine.Invoice) {
	buf := jsonBuffers.Get().(*[]byte)
	*buf = render((*buf)[:0], inv)
	writeRaw(w, status, *buf)
	jsonBuffers.Put(buf)
}
