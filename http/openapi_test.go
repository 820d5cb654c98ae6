package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/actors/webhook"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/http/checkout"
	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/webhooks"
)

// openAPI is the document, loaded and validated once for every test.
var openAPI = sync.OnceValues(func() (*openapi3.T, error) {
	b, err := os.ReadFile("openapi.json") // the file the server embeds
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return doc, nil
})

var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openAPI()
	if err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// checkResponse fails the test when a response does not match the
// document: an undocumented status, content type, header or body field.
// Every response env.do receives goes through it. A request no documented
// operation matches (an unknown route, a wrong method) must still answer
// with the error body.
func checkResponse(t *testing.T, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	doc, err := openAPI()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("openapi.json router: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s is not in openapi.json but answered %d", req.Method, req.URL.Path, status)
		}
		v, err := openapi3filter.JSONBodyDecoder(bytes.NewReader(body), header, nil, nil)
		if err != nil {
			t.Errorf("%s %s: %d body is not JSON: %v", req.Method, req.URL.Path, status, err)
			return
		}
		if err := doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.SetSchemaErrorMessageCustomizer(schemaError)); err != nil {
			t.Errorf("%s %s: %d body is not the error shape: %v\n%s", req.Method, req.URL.Path, status, err, body)
		}
		return
	}
	if err != nil {
		t.Errorf("%s %s: find route in openapi.json: %v", req.Method, req.URL.Path, err)
		return
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	opts.WithCustomSchemaErrorFunc(schemaError)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: response %d does not match openapi.json: %v\n%s", req.Method, req.URL.Path, status, err, body)
	}
}

// schemaError says where in the body and what, without kin-openapi's
// default dump of the whole schema.
func schemaError(e *openapi3.SchemaError) string {
	return fmt.Sprintf("at /%s: %s", strings.Join(e.JSONPointer(), "/"), e.Reason)
}

func TestOpenAPI_ServedDocumentIsTheValidFile(t *testing.T) {
	doc, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %s", doc.OpenAPI)
	}
	e := newEnv(t, t.TempDir(), envOpts{})
	r := e.do("GET", "/api/v1/openapi.json", "", "")
	want, _ := os.ReadFile("openapi.json")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, want) {
		t.Fatalf("GET /api/v1/openapi.json: %d %s, %d bytes; want the %d bytes of openapi.json", r.status, r.header.Get("Content-Type"), len(r.body), len(want))
	}
}

// TestOpenAPI_DocumentsEveryRouteAndNoOther compares the router of a server
// with every optional route mounted with the document's operations, both
// ways.
func TestOpenAPI_DocumentsEveryRouteAndNoOther(t *testing.T) {
	doc, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{
		Rules:           engine.DefaultRules(),
		Webhooks:        webhooks.NewSender(webhooks.SenderOptions{}),
		SimulateEnabled: true,
		Metrics:         http.NotFoundHandler(),
		Dev:             noDevChain{},
		Outbox:          noOutbox{},
		Backups:         noBackups{},
		Checkout:        &checkout.Config{Rules: engine.DefaultRules()},
		DevExpire:       noDevExpire{},
	})
	served := map[string]bool{}
	for _, r := range srv.Routes() {
		served[r.Method+" "+openAPIPath(r.Pattern)] = true
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes the server does not serve:\n  %s", strings.Join(extra, "\n  "))
	}
	if len(served) < 10 {
		t.Fatalf("only %d routes recorded: %v", len(served), srv.Routes())
	}
}

// TestOpenAPI_OperatorAndDevRoutesMatch covers the routes the env does not
// mount: /metrics, a failing /readyz and the dev faucet.
func TestOpenAPI_OperatorAndDevRoutesMatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{
		Rules:      engine.DefaultRules(),
		Metrics:    promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Registerer: reg,
		Dev:        fakeDevChain{},
		Ready:      func() error { return errors.New("chain: devchain-BTC: connection refused") },
	}))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 503},
		{"POST", "/dev/pay", `{"currency":"BTC","address":"bcrt1qexample","amount":"0.001"}`, 200},
		{"POST", "/dev/pay", `{"currency":"BTC","address":"","amount":"-1"}`, 422},
		{"POST", "/dev/mine", `{"currency":"BTC"}`, 200},
		{"POST", "/dev/mine", `{"currency":"BTC","blocks":"2"}`, 400},
		{"GET", "/metrics", "", 200},
		{"GET", "/api/v1/openapi.json", "", 200},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.status)
		}
		checkResponse(t, req, resp.StatusCode, resp.Header, b)
	}
}

// TestOpenAPI_WebhookRoutesMatch checks the webhook log's JSON against the
// document with a fake outbox: one dead webhook with a failed attempt that
// got no response, one delivered.
func TestOpenAPI_WebhookRoutesMatch(t *testing.T) {
	store, err := persistence.Open(t.TempDir(), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	accts, err := accounts.New(store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := accts.EnsureAccount(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := accts.CreateProject(a.ID, accounts.NewProject{Name: "shop"}, accounts.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Rules: engine.DefaultRules(), Accounts: accts, Outbox: fakeOutbox{}}))
	defer srv.Close()
	inv := uuid.NewString()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/v1/invoices/" + inv + "/webhooks", 200},
		{"POST", "/api/v1/invoices/" + inv + "/webhooks/wh_1/redeliver", 202},
		{"POST", "/api/v1/invoices/" + inv + "/webhooks/wh_unknown/redeliver", 404},
		{"GET", "/api/v1/invoices/not-a-uuid/webhooks", 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		req.Header.Set("Api-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, b, tc.status)
		}
		checkResponse(t, req, resp.StatusCode, resp.Header, b)
	}
}

type fakeOutbox struct{}

func (fakeOutbox) Webhooks(context.Context, uuid.UUID, uuid.UUID) ([]webhook.WebhookRecord, error) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	return []webhook.WebhookRecord{
		{ID: "wh_1", Event: invoice.EventPaymentSeen, Status: "dead", CreatedAt: at,
			Attempts: []webhook.WebhookAttempt{{At: at, Error: "dial tcp: connection refused", Duration: time.Millisecond}}},
		{ID: "wh_2", Event: invoice.EventStatusChanged, Status: "delivered", CreatedAt: at,
			Attempts: []webhook.WebhookAttempt{{At: at, HTTPStatus: 204, Duration: 40 * time.Millisecond}}},
	}, nil
}

func (fakeOutbox) Redeliver(_ context.Context, _, _ uuid.UUID, id string) (webhook.WebhookRecord, error) {
	if id != "wh_1" {
		return webhook.WebhookRecord{}, webhook.ErrWebhookNotFound
	}
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	return webhook.WebhookRecord{ID: id, Event: invoice.EventPaymentSeen, Status: "pending", CreatedAt: at, NextAttemptAt: at.Add(time.Second)}, nil
}

type fakeDevChain struct{}

func (fakeDevChain) Pay(string, string, engine.Units) (string, error) { return "f00d", nil }
func (fakeDevChain) Mine(string, int) (uint64, error)                 { return 7, nil }

// openAPIPath turns an httprouter pattern into the document's form:
// "/a/:id/b" is "/a/{id}/b".
func openAPIPath(pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// noDevChain, noOutbox and noBackups only make New mount the dev, webhook
// and backup routes; the coverage test never calls them.
type noDevChain struct{}

func (noDevChain) Pay(string, string, engine.Units) (string, error) { return "", errors.ErrUnsupported }
func (noDevChain) Mine(string, int) (uint64, error)                 { return 0, errors.ErrUnsupported }

type noOutbox struct{}

func (noOutbox) Webhooks(context.Context, uuid.UUID, uuid.UUID) ([]webhook.WebhookRecord, error) {
	return nil, errors.ErrUnsupported
}

func (noOutbox) Redeliver(context.Context, uuid.UUID, uuid.UUID, string) (webhook.WebhookRecord, error) {
	return webhook.WebhookRecord{}, errors.ErrUnsupported
}

type noBackups struct{}

func (noBackups) Backup(context.Context) (maintenance.BackupResult, error) {
	return maintenance.BackupResult{}, errors.ErrUnsupported
}

type noDevExpire struct{}

func (noDevExpire) ExpireNow(context.Context, uuid.UUID) (engine.Invoice, error) {
	return engine.Invoice{}, engine.ErrNotFound
}
