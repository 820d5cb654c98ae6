package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
	"strconv"

	"github.com/julienschmidt/httprouter"
)

// openAPIDocument is the OpenAPI 3 description of every route New can
// mount. openapi_test.go checks it against the router in both directions
// and validates every response of the HTTP tests against it, so a route or
// a field added without documenting it fails the tests.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the document. It is public, like the currencies: it holds
// nothing about any account.
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	w.WriteHeader(http.StatusOK)
	w.Write(openAPIDocument)
}

// Route is one registered route: its method and its httprouter pattern
// ("/api/v1/invoices/:invoice_id").
type Route struct {
	Method, Pattern string
}

// Routes lists the routes this server mounted, in registration order; which
// ones depends on the Config (dev, simulate, metrics, outbox).
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }
