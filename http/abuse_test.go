package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRateLimit_PerKey429WithRetryAfter(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{rateLimit: 0.5, rateBurst: 3})
	_, keyA := e.project("a", "") // the account key spends 2 of its 3 tokens here
	_, keyB := e.project("b", "")
	for i := range 3 {
		if r := e.do("GET", "/api/v1/invoices", keyA, ""); r.status != 200 {
			t.Fatalf("request %d within the burst: %d", i+1, r.status)
		}
	}
	r := e.do("GET", "/api/v1/invoices", keyA, "")
	code, _ := r.errorField(t)
	if r.status != http.StatusTooManyRequests || code != "rate_limited" {
		t.Fatalf("over the burst: %d %s", r.status, r.body)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Fatalf("Retry-After = %q, want 1..2 s at 0.5 req/s", r.header.Get("Retry-After"))
	}
	// Another key has its own bucket.
	if r := e.do("GET", "/api/v1/invoices", keyB, ""); r.status != 200 {
		t.Fatalf("other key limited too: %d", r.status)
	}
	// Unauthenticated requests never reach a bucket: they are 401, not 429.
	if r := e.do("GET", "/api/v1/invoices", strings.Repeat("0", 64), ""); r.status != 401 {
		t.Fatalf("wrong key: %d", r.status)
	}
}

func TestConcurrencyCap_503WhenFull(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{maxInFlight: 1, metrics: true})
	_, key := e.project("a", "")
	// A client that sends its headers and then stalls the body holds the
	// only slot.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/invoices HTTP/1.1\r\nHost: x\r\nApi-Key: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", key)
	// Wait until the stalled request is being served (it holds the slot),
	// watching /metrics, which the cap does not cover (two in flight: it
	// and the scrape); a request sent before that could take the slot
	// first and leave the stalled one refused instead.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(e.do("GET", "/metrics", "", "").body), "\ninvoiced_http_requests_in_flight 2\n") {
		if time.Now().After(deadline) {
			t.Fatal("the stalled request never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := e.do("GET", "/api/v1/invoices", key, "")
	if code, _ := r.errorField(t); r.status != http.StatusServiceUnavailable || code != "overloaded" || r.header.Get("Retry-After") == "" {
		t.Fatalf("with the only slot held: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
	// Health stays reachable under overload.
	if r := e.do("GET", "/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz under overload: %d", r.status)
	}
}

func TestDecode_DeepJSONRefused(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("a", "")
	deep := `{"order_id":"o","currency":"BTC","crypto_amount":1,"order_name":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`
	r := e.do("POST", "/api/v1/invoices", key, deep)
	if code, _ := r.errorField(t); r.status != 400 || code != "invalid_json" || !strings.Contains(string(r.body), "deeper") {
		t.Fatalf("deep JSON: %d %s", r.status, r.body)
	}
	// Brackets inside strings are text, not nesting.
	ok := `{"order_id":"` + strings.Repeat("[", 40) + `","currency":"BTC","crypto_amount":1}`
	if r := e.do("POST", "/api/v1/invoices", key, ok); r.status != 201 {
		t.Fatalf("brackets in a string: %d %s", r.status, r.body)
	}
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogs_NeverContainKeysOrKeyHashes(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, t.TempDir(), envOpts{logger: logger})
	_, key := e.project("a", "")
	inv := e.invoice(key, `{"order_id":"o","crypto_amount":"0.01","currency":"BTC"}`)
	e.do("GET", "/api/v1/invoices/"+inv["invoice_id"].(string), key, "")
	e.do("PATCH", "/api/v1/invoices/"+inv["invoice_id"].(string), key, `{"status":"completed"}`)
	e.do("GET", "/api/v1/invoices", strings.Repeat("f", 64), "") // a wrong key
	e.do("POST", "/api/v1/projects", key, `{"name":"x"}`)        // a key of the wrong kind
	e.do("POST", "/api/v1/invoices", key, `{"order_id":`)        // malformed
	e.close()

	out := logs.String()
	if !strings.Contains(out, "level=") {
		t.Fatal("nothing was logged: the test would prove nothing")
	}
	for _, secret := range []string{e.accountKey, key, strings.Repeat("f", 64)} {
		h := sha256.Sum256([]byte(secret))
		for _, s := range []string{secret, hex.EncodeToString(h[:]), string(h[:])} {
			if strings.Contains(out, s) {
				t.Fatalf("a key or its hash appears in the logs")
			}
		}
	}
}

// TestHostileInput_RoundTwo is issue 19's probes beyond the create table
// (TestErrors_BadInputChangesNothing): duplicate keys on every route that
// reads a body, what stays accepted next to each refusal, and that the
// literal-IP check belongs to servers that refuse private callbacks.
func TestHostileInput_RoundTwo(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{refusePrivateCallbacks: true})
	_, key := e.project("shop", "")
	inv := e.invoice(key, `{"order_id":"o-1","crypto_amount":"0.01","currency":"BTC","callback_url":"https://shop.example/h"}`)
	id := inv["invoice_id"].(string)

	// Every body is refused with a duplicate key, naming it; nothing changes.
	for _, tc := range []struct{ method, path, key, body, field string }{
		{"PATCH", "/api/v1/invoices/" + id, key, `{"status":"cancelled","status":"archived"}`, "status"},
		{"POST", "/api/v1/projects", e.accountKey, `{"name":"a","name":"b"}`, "name"},
		{"POST", "/api/v1/webhooks/simulate", key, `{"invoice_id":"` + id + `","status":"completed","Status":"new"}`, "Status"},
		{"POST", "/api/v1/archived", key, `{"order_id":"a","order_id":"b","crypto_amount":1,"currency":"BTC"}`, "order_id"},
	} {
		r := e.do(tc.method, tc.path, tc.key, tc.body)
		if code, field := r.errorField(t); r.status != 400 || code != "duplicate_key" || field != tc.field {
			t.Errorf("%s %s %s: %d %s, want 400 duplicate_key naming %s", tc.method, tc.path, tc.body, r.status, r.body, tc.field)
		}
	}
	if got := e.do("GET", "/api/v1/invoices/"+id, key, "").json(t)["status"]; got != "new" {
		t.Errorf("status after refused PATCHes = %v", got)
	}
	if n := e.total(key, ""); n != 1 {
		t.Errorf("%d invoices after the refusals, want 1", n)
	}

	// Next to each refusal, what a merchant legitimately sends still works.
	for _, body := range []string{
		`{"order_id":"a b","crypto_amount":"21000000","currency":"BTC"}`,                            // inner space; the whole supply
		`{"order_id":"o-2","crypto_amount":"0.01","currency":"BTC","order_name":"می\u200cخواهم"}`,   // ZWNJ in Persian
		`{"order_id":"o-3","crypto_amount":"0.01","currency":"BTC","order_name":"👨\u200d👩\u200d👧"}`, // ZWJ emoji sequence
		`{"order_id":"o-4","crypto_amount":"0.01","currency":"BTC","order_name":"שלום abc"}`,        // right-to-left text itself
		`{"order_id":"o-5","crypto_amount":"0.01","currency":"BTC","callback_url":"http://93.184.215.14/h"}`,
		`{"order_id":"o-6","crypto_amount":"0.01","currency":"BTC","callback_url":"http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/h"}`,
		`{"order_id":"o-7","crypto_amount":"0.01","currency":"BTC","callback_url":"http://localhost/h"}`, // a name: judged when dialed
		`{"order_id":"o-8","fiat_amount":"1000000","currency":"BTC"}`,
	} {
		if r := e.do("POST", "/api/v1/invoices", key, body); r.status != 201 {
			t.Errorf("%s: %d %s, want 201", body, r.status, r.body)
		}
	}

	// A server that allows private callbacks (development) takes literal
	// private addresses too.
	dev := newEnv(t, t.TempDir(), envOpts{})
	_, devKey := dev.project("dev", "")
	if r := dev.do("POST", "/api/v1/invoices", devKey, `{"order_id":"o","crypto_amount":1,"currency":"BTC","callback_url":"http://127.0.0.1:9/h"}`); r.status != 201 {
		t.Errorf("loopback callback with private callbacks allowed: %d %s", r.status, r.body)
	}
}
