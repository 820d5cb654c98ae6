package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
	"github.com/invoiced/invoiced/webhooks"
)

// env is a real server on loopback over a real Pebble store in dir.
type env struct {
	t          *testing.T
	dir        string
	store      *persistence.Store
	accounts   *accounts.Service
	registry   *invoice.Service
	srv        *httptest.Server
	accountKey string
	closed     bool
}

type envOpts struct {
	rates       map[string]string // nil = defaults
	idleTimeout time.Duration
	noSimulate  bool // leave POST /webhooks/simulate unmounted, as prod mode does
	// refusePrivateCallbacks judges literal-IP callback URLs at creation,
	// as a server that does not allow private callbacks does.
	refusePrivateCallbacks bool
	rateLimit              float64
	rateBurst              int
	maxInFlight            int
	logger                 *slog.Logger
	// metrics mounts /metrics over the server's own registry.
	metrics bool
	// clock is the clock of key expiries and rate limits (nil = the wall
	// clock).
	clock clock.Clock
	// backups, when set, mounts POST /api/v1/admin/backup over it.
	backups interface {
		Backup(context.Context) (maintenance.BackupResult, error)
	}
}

func newEnv(t *testing.T, dir string, opts envOpts) *env {
	t.Helper()
	store, err := persistence.Open(dir, persistence.Options{Logger: opts.logger})
	if err != nil {
		t.Fatal(err)
	}
	opts.clock = clock.OrReal(opts.clock)
	accts, err := accounts.New(store, opts.clock, opts.logger)
	if err != nil {
		t.Fatal(err)
	}
	const accountKey = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	if _, err := accts.EnsureAccount(accountKey); err != nil {
		t.Fatal(err)
	}
	table := opts.rates
	if table == nil {
		table = rates.DefaultStaticRates()
	}
	src, err := rates.NewStatic(table, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rules := engine.DefaultRules()
	if opts.refusePrivateCallbacks {
		rules.CallbackHost = webhooks.CallbackHostRefusal
	}
	reg, err := invoice.New(invoice.Config{Store: store, Rules: rules, Deriver: devchain.NewDeriver(devchain.DevSeed()), Rates: src, Owner: accts.Owner, IdleTimeout: opts.idleTimeout, Logger: opts.logger, StateCacheBytes: invoice.DefaultStateCacheBytes, RenderCacheBytes: invoice.DefaultRenderCacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{
		Invoices: reg, Accounts: accts, Rules: rules, Rates: src,
		Webhooks:        webhooks.NewSender(webhooks.SenderOptions{AllowPrivate: true, AttemptTimeout: 2 * time.Second}),
		SimulateEnabled: !opts.noSimulate,
		RateLimit:       opts.rateLimit, RateBurst: opts.rateBurst, MaxConcurrent: opts.maxInFlight, Logger: opts.logger,
		Backups: opts.backups, Clock: opts.clock,
	}
	if opts.metrics {
		promReg := prometheus.NewRegistry()
		cfg.Registerer, cfg.Metrics = promReg, promhttp.HandlerFor(promReg, promhttp.HandlerOpts{})
	}
	api := httpapi.New(cfg)
	e := &env{t: t, dir: dir, store: store, accounts: accts, registry: reg, srv: httptest.NewServer(api), accountKey: accountKey}
	t.Cleanup(e.close)
	return e
}

// close stops the server, the actors and the store, as a shutdown does.
func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	e.srv.Close()
	e.registry.Shutdown()
	if err := e.accounts.Close(); err != nil {
		e.t.Errorf("flush accounts: %v", err)
	}
	if err := e.store.Close(); err != nil {
		e.t.Errorf("close store: %v", err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map, failing the test if it is not
// a JSON object.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// errorField returns the error code and the first field named by an error body.
func (r response) errorField(t *testing.T) (code, field string) {
	t.Helper()
	e := r.json(t)
	code, ok := e["error"].(string)
	if !ok {
		t.Fatalf("no error code in %s", r.body)
	}
	if fs, ok := e["fields"].([]any); ok && len(fs) > 0 {
		field, _ = fs[0].(map[string]any)["field"].(string)
	}
	return code, field
}

// do sends a request; a body is sent as application/json unless the
// header says otherwise. Every response is checked against openapi.json.
func (e *env) do(method, path, key, body string, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Api-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		e.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	checkResponse(e.t, req, resp.StatusCode, resp.Header, b)
	// A JSON document is written whole, with its length (writeRaw): no
	// chunked encoding, even for a list page of many KiB.
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && resp.ContentLength != int64(len(b)) {
		e.t.Errorf("%s %s: Content-Length %d for a %d-byte body (transfer encoding %v)", method, path, resp.ContentLength, len(b), resp.TransferEncoding)
	}
	if resp.StatusCode >= 400 {
		checkMessageGrammar(e.t, b)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// checkMessageGrammar asserts the one grammar of error messages on an
// error body: about a field, "<field>: <sentence>", the sentence being the
// field's message (lower case, no full stop, not repeating the field's
// name first); otherwise one sentence. Every error response env.do
// receives goes through it.
func checkMessageGrammar(t *testing.T, body []byte) {
	t.Helper()
	var e struct {
		Message string `json:"message"`
		Fields  []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("error body is not JSON: %s", body)
		return
	}
	sentence := func(s string) bool {
		return s != "" && !strings.HasSuffix(s, ".") && !strings.ContainsAny(s, "\n\r") && strings.TrimSpace(s) == s
	}
	if !sentence(e.Message) {
		t.Errorf("error message %q is not one sentence: %s", e.Message, body)
	}
	for i, f := range e.Fields {
		first, _ := utf8.DecodeRuneInString(f.Message)
		if !sentence(f.Message) || unicode.IsUpper(first) || strings.HasPrefix(f.Message, f.Field+" ") {
			t.Errorf("field %q message %q: want a lower-case sentence that does not start with the field: %s", f.Field, f.Message, body)
		}
		if i == 0 && e.Message != f.Field+": "+f.Message {
			t.Errorf("message %q, want %q: %s", e.Message, f.Field+": "+f.Message, body)
		}
	}
}

// project creates a project and returns its id and key.
func (e *env) project(name, allowedIPs string) (string, string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "api_allowed_ips": allowedIPs})
	r := e.do("POST", "/api/v1/projects", e.accountKey, string(body))
	if r.status != http.StatusCreated {
		e.t.Fatalf("create project: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	return m["project_id"].(string), m["api_key"].(string)
}

// invoice creates an invoice and returns its JSON.
func (e *env) invoice(key, body string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/api/v1/invoices", key, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create invoice: %d %s", r.status, r.body)
	}
	return r.json(e.t)
}

// total lists a project's invoices and returns total_records.
func (e *env) total(key, query string) int {
	e.t.Helper()
	r := e.do("GET", "/api/v1/invoices?"+query, key, "")
	if r.status != http.StatusOK {
		e.t.Fatalf("list: %d %s", r.status, r.body)
	}
	n, _ := r.json(e.t)["pagination"].(map[string]any)["total_records"].(json.Number).Int64()
	return int(n)
}
