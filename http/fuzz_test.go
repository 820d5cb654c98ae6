package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
	"github.com/invoiced/invoiced/webhooks"
)

// The request decoders are fuzzed through a real server (as in env_test.go)
// so what is fuzzed is what a client reaches: strict JSON decoding, the
// amount and time parsers, validation, the error table. Every target checks:
//   - no 5xx (a panic or an unmapped error is a 500) and no hang;
//   - every error body has the one error shape;
//   - a 2xx only for input that holds what it claims (the invoice answered
//     carries the order_id sent, the status asked for...);
//   - input that is refused writes nothing: the project's list total and
//     the account's projects do not change.
// Seed corpora are in testdata/fuzz/<FuzzName>/; CI runs each briefly.

var fuzzPositiveInteger = regexp.MustCompile(`^[1-9][0-9]*$`)

const fuzzAccountKey = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0"

type fuzzEnv struct {
	srv        *httptest.Server
	projectKey string
	invoiceID  string // an invoice of the project, for PATCH
	store      *persistence.Store
	client     *http.Client
}

// newFuzzEnv starts one server for a whole fuzz run (every worker process
// builds its own).
func newFuzzEnv(f *testing.F) *fuzzEnv {
	// An in-memory store: the decoders are what is fuzzed, and fsyncs
	// would cut the executions per second tenfold.
	store, err := persistence.Open("fuzz", persistence.Options{FS: vfs.NewMem()})
	if err != nil {
		f.Fatal(err)
	}
	accts, err := accounts.New(store, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := accts.EnsureAccount(fuzzAccountKey); err != nil {
		f.Fatal(err)
	}
	src, err := rates.NewStatic(rates.DefaultStaticRates(), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	rules := engine.DefaultRules()
	rules.CallbackHost = webhooks.CallbackHostRefusal // as in production
	reg, err := invoice.New(invoice.Config{Store: store, Rules: rules, Deriver: devchain.NewDeriver(devchain.DevSeed()), Rates: src, Owner: accts.Owner, StateCacheBytes: invoice.DefaultStateCacheBytes, RenderCacheBytes: invoice.DefaultRenderCacheBytes})
	if err != nil {
		f.Fatal(err)
	}
	e := &fuzzEnv{store: store, srv: httptest.NewServer(httpapi.New(httpapi.Config{Invoices: reg, Accounts: accts, Rules: rules, Rates: src})),
		client: &http.Client{Timeout: 10 * time.Second}}
	f.Cleanup(func() {
		e.srv.Close()
		reg.Shutdown()
		_ = store.Close()
	})
	code, b := e.send(f, "POST", "/api/v1/projects", fuzzAccountKey, "application/json", []byte(`{"name":"fuzz"}`))
	var p struct {
		APIKey string `json:"api_key"`
	}
	if code != 201 || json.Unmarshal(b, &p) != nil {
		f.Fatalf("project: %d %s", code, b)
	}
	e.projectKey = p.APIKey
	code, b = e.send(f, "POST", "/api/v1/invoices", e.projectKey, "application/json", []byte(`{"order_id":"fuzz-base","crypto_amount":"0.01","currency":"BTC"}`))
	var inv struct {
		ID string `json:"invoice_id"`
	}
	if code != 201 || json.Unmarshal(b, &inv) != nil {
		f.Fatalf("invoice: %d %s", code, b)
	}
	e.invoiceID = inv.ID
	return e
}

func (e *fuzzEnv) send(t testing.TB, method, path, key, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Api-Key", key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s with %q answered %d: %s", method, path, body, resp.StatusCode, b)
	}
	if resp.StatusCode >= 400 {
		fuzzCheckErrorShape(t, resp.StatusCode, b)
	}
	return resp.StatusCode, b
}

// fuzzCheckErrorShape asserts the flat error shape
// {"error":"<code>","message"[,"fields"][,"allowed"]} and nothing else.
func fuzzCheckErrorShape(t testing.TB, code int, b []byte) {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%d error body is not a JSON object: %s", code, b)
	}
	for k := range raw {
		switch k {
		case "error", "message", "fields", "allowed":
		default:
			t.Fatalf("%d error has unknown member %q: %s", code, k, b)
		}
	}
	var e struct {
		Code    string `json:"error"`
		Message string `json:"message"`
		Fields  []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("%d error without code or message: %s", code, b)
	}
	for _, f := range e.Fields {
		// An unknown field may be named "" ({"":1}); everything else
		// names its field.
		if f.Field == "" && e.Code != "unknown_field" || f.Message == "" {
			t.Fatalf("%d error field without name or message: %s", code, b)
		}
	}
	if len(e.Fields) > 0 && e.Message != e.Fields[0].Field+": "+e.Fields[0].Message {
		t.Fatalf("%d message is not \"<field>: <sentence>\": %s", code, b)
	}
}

// total is the project's list total_records.
func (e *fuzzEnv) total(t testing.TB) int {
	t.Helper()
	code, b := e.send(t, "GET", "/api/v1/invoices?page_size=1", e.projectKey, "", nil)
	var l struct {
		Pagination struct {
			Total int `json:"total_records"`
		} `json:"pagination"`
	}
	if code != 200 || json.Unmarshal(b, &l) != nil {
		t.Fatalf("list: %d %s", code, b)
	}
	return l.Pagination.Total
}

// fuzzCreate is FuzzCreateInvoice and FuzzCreateArchived.
func fuzzCreate(f *testing.F, path string) {
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		ct := "application/json"
		if !isJSON {
			ct = "text/plain"
		}
		before := e.total(t)
		code, b := e.send(t, "POST", path, e.projectKey, ct, body)
		after := e.total(t)
		switch {
		case code == 201 && after != before+1:
			t.Fatalf("201 but the total went %d -> %d", before, after)
		case code != 201 && after != before:
			t.Fatalf("%d (%s) but the total went %d -> %d", code, b, before, after)
		case code == 200 || code == 201:
			fuzzCheckCreated(t, e, path, body, b)
		case code < 400:
			t.Fatalf("unexpected %d: %s", code, b)
		}
	})
}

// fuzzCheckCreated checks that an accepted create was what it asked for.
func fuzzCheckCreated(t *testing.T, e *fuzzEnv, path string, body, resp []byte) {
	t.Helper()
	var in struct {
		OrderID  string `json:"order_id"`
		Currency string `json:"currency"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatalf("input %q accepted although it is not a JSON object: %v", body, err)
	}
	if key, dup := httpapi.ReferenceDuplicateKey(body); dup {
		t.Fatalf("input %q accepted although it holds the key %q twice", body, key)
	}
	if strings.TrimSpace(in.OrderID) != in.OrderID || strings.ContainsFunc(in.OrderID, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) {
		t.Fatalf("order_id %q accepted with padding or a format character", in.OrderID)
	}
	var out struct {
		ID       string      `json:"invoice_id"`
		OrderID  string      `json:"order_id"`
		Currency string      `json:"currency"`
		Status   string      `json:"status"`
		Units    json.Number `json:"crypto_amount_in_units"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		t.Fatalf("answer is not an invoice: %s", resp)
	}
	wantStatus := "new"
	if strings.HasSuffix(path, "/archived") {
		wantStatus = "archived"
	}
	if out.OrderID != in.OrderID || !strings.EqualFold(out.Currency, in.Currency) || (out.Status != wantStatus && out.Status != "new" && out.Status != "archived") {
		t.Fatalf("accepted %q as %s", body, resp)
	}
	if !fuzzPositiveInteger.MatchString(string(out.Units)) {
		t.Fatalf("accepted %q with amount %s units", body, out.Units)
	}
	if code, b := e.send(t, "GET", "/api/v1/invoices/"+out.ID, e.projectKey, "", nil); code != 200 {
		t.Fatalf("accepted invoice %s not readable: %d %s", out.ID, code, b)
	}
}

func FuzzCreateInvoice(f *testing.F) {
	for _, s := range []string{
		`{"order_id":"a","crypto_amount":"0.01","currency":"BTC"}`,
		`{"order_id":"b","fiat_amount":12.5,"fiat_currency":"EUR","currency":"ETH","expire_min":60,"allowed_error_percent":1,"callback_url":"https://shop.example/h","order_name":"x"}`,
		`{"order_id":"c","crypto_amount":1e-8,"currency":"ltc"}`,
		`{"order_id":"","crypto_amount":"-1","currency":"XXX"}`,
		`{"order_id":"d","crypto_amount":"0.01","currency":"BTC","created_at":"2024-01-01"}`,
		`{"order_id":"e","crypto_amount":null,"fiat_amount":"1e400","currency":"USDT"}`,
		`[1,2]`, `{"order_id":1}`, `{`, ``,
	} {
		f.Add([]byte(s), true)
	}
	fuzzCreate(f, "/api/v1/invoices")
}

func FuzzCreateArchived(f *testing.F) {
	for _, s := range []string{
		`{"order_id":"a","crypto_amount":"1","currency":"BTC","created_at":"2024-01-02"}`,
		`{"order_id":"b","fiat_amount":"10","crypto_amount":"0.5","currency":"LTC","created_at":"02/01/2024 10:00:00"}`,
		`{"order_id":"c","fiat_amount":"10","currency":"ETH","created_at":"2024-01-02T03:04:05.999999999+02:00"}`,
		`{"order_id":"d","crypto_amount":"1","currency":"BTC","created_at":"2999-01-01"}`,
		`{"order_id":"e","crypto_amount":"1","currency":"BTC","expire_min":5}`,
		`{"order_id":"f","crypto_amount":"1","currency":"BTC","created_at":"2024-02-30 25:61:00"}`,
	} {
		f.Add([]byte(s), true)
	}
	fuzzCreate(f, "/api/v1/archived")
}

func FuzzPatchInvoice(f *testing.F) {
	for _, s := range []string{`{"status":"cancelled","comment":"x"}`, `{"status":"archived"}`, `{"status":"bogus"}`, `{"status":""}`, `{"comment":5}`, `{}`, `null`} {
		f.Add([]byte(s), true)
	}
	f.Add([]byte(`{"status":"completed"}`), false)
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, own bool) {
		id := e.invoiceID
		if !own {
			id = "00000000-0000-7000-8000-000000000000"
		}
		code, b := e.send(t, "PATCH", "/api/v1/invoices/"+id, e.projectKey, "application/json", body)
		if code >= 200 && code < 300 {
			var in struct {
				Status string `json:"status"`
			}
			var out struct {
				Status string `json:"status"`
			}
			if !own || json.Unmarshal(body, &in) != nil || json.Unmarshal(b, &out) != nil || in.Status != out.Status {
				t.Fatalf("PATCH %q answered %d: %s", body, code, b)
			}
		}
	})
}

func FuzzCreateProject(f *testing.F) {
	for _, s := range []string{
		`{"name":"shop","description":"d","api_allowed_ips":"10.0.0.0/8, ::1"}`,
		`{"name":"x","api_allowed_ips":"999.1.1.1"}`,
		`{"name":""}`, `{"name":"y","api_allowed_ips":","}`, `{"name":"z","extra":1}`, `{"name":"fuzz"}`,
	} {
		f.Add([]byte(s))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		before, err := e.store.Projects()
		if err != nil {
			t.Fatal(err)
		}
		code, b := e.send(t, "POST", "/api/v1/projects", fuzzAccountKey, "application/json", body)
		after, err := e.store.Projects()
		if err != nil {
			t.Fatal(err)
		}
		if code == 201 {
			var in struct {
				Name string  `json:"name"`
				IPs  *string `json:"api_allowed_ips"`
			}
			var out struct {
				ID  string `json:"project_id"`
				Key string `json:"api_key"`
			}
			if json.Unmarshal(body, &in) != nil || json.Unmarshal(b, &out) != nil || in.Name == "" || len(out.Key) != 64 || len(after) != len(before)+1 {
				t.Fatalf("accepted project %q: %s (%d -> %d projects)", body, b, len(before), len(after))
			}
			if in.IPs != nil {
				if _, err := accounts.ParseIPList(*in.IPs); err != nil {
					t.Fatalf("accepted api_allowed_ips %q that ParseIPList refuses: %v", *in.IPs, err)
				}
			}
		} else if len(after) != len(before) {
			t.Fatalf("%d (%s) but a project was written", code, b)
		}
	})
}

func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"status=new&currency=btc&sort_by=crypto_amount&sort_order=asc&page=1&page_size=100",
		"created_after=2020-01-01T00:00:00Z&created_before=2999-01-01T00:00:00.5%2B01:00",
		"page=0", "page_size=101", "page=99999999999999999999", "sort_by=nope&sort_order=up", "status=%ff", "a=%zz&&&=",
	} {
		f.Add(s)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsAny(query, "# \x00\r\n") {
			return // not a raw query a client can send
		}
		if _, err := url.Parse("http://h/?" + query); err != nil {
			return
		}
		code, b := e.send(t, "GET", "/api/v1/invoices?"+query, e.projectKey, "", nil)
		if code == 200 {
			var l struct {
				Items      []json.RawMessage `json:"items"`
				Pagination struct {
					PageSize int `json:"page_size"`
				} `json:"pagination"`
			}
			if err := json.Unmarshal(b, &l); err != nil || l.Items == nil || l.Pagination.PageSize < 1 || l.Pagination.PageSize > 100 || len(l.Items) > l.Pagination.PageSize {
				t.Fatalf("list %q: %s", query, b)
			}
		} else if code != 400 && code != 422 {
			t.Fatalf("list %q answered %d: %s", query, code, b)
		}
	})
}
