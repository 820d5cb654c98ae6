package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/invoiced/invoiced/webhooks"
)

// receiver is a merchant's webhook endpoint on loopback that answers with
// status and keeps what it got.
type receiver struct {
	srv    *httptest.Server
	status int
	got    chan *http.Request
	bodies chan []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	rc := &receiver{status: status, got: make(chan *http.Request, 10), bodies: make(chan []byte, 10)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.got <- r
		rc.bodies <- b
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func TestSimulateWebhook(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")
	_, otherKey := e.project("other", "")
	ok := newReceiver(t, 204)
	inv := e.invoice(key, `{"order_id":"o","crypto_amount":"0.01","currency":"BTC","callback_url":"`+ok.srv.URL+`/hook"}`)
	id := inv["invoice_id"].(string)

	r := e.do("POST", "/api/v1/webhooks/simulate", key, `{"invoice_id":"`+id+`","status":"completed"}`)
	if r.status != 200 || r.json(t)["status"] != "success" || r.json(t)["message"] != "Webhook sent" {
		t.Fatalf("simulate: %d %s", r.status, r.body)
	}
	req, body := <-ok.got, <-ok.bodies
	err := webhooks.Verify(webhooks.SigningKey(key), req.Header.Get(webhooks.HeaderSignature), req.Header.Get(webhooks.HeaderTimestamp), body, time.Now(), 5*time.Minute)
	if err != nil {
		t.Fatalf("signature made with the project key does not verify: %v", err)
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil || payload["status"] != "completed" || payload["invoice_id"] != id || payload["event"] != "invoice.status_changed" || payload["order_id"] != "o" {
		t.Fatalf("payload = %s", body)
	}
	if st := e.do("GET", "/api/v1/invoices/"+id, key, "").json(t)["status"]; st != "new" {
		t.Fatalf("simulate changed the invoice to %v", st)
	}

	tests := []struct {
		name, key, body string
		status          int
		field           string
	}{
		{"other project", otherKey, `{"invoice_id":"` + id + `","status":"completed"}`, 404, ""},
		{"unknown status", key, `{"invoice_id":"` + id + `","status":"paid"}`, 422, "status"},
		{"bad id", key, `{"invoice_id":"nope","status":"completed"}`, 422, "invoice_id"},
		{"no key", "", `{"invoice_id":"` + id + `","status":"completed"}`, 401, ""},
	}
	for _, tt := range tests {
		r := e.do("POST", "/api/v1/webhooks/simulate", tt.key, tt.body)
		if _, field := r.errorField(t); r.status != tt.status || field != tt.field {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
		}
	}

	failing := newReceiver(t, 500)
	inv2 := e.invoice(key, `{"order_id":"o2","crypto_amount":"0.01","currency":"BTC","callback_url":"`+failing.srv.URL+`"}`)
	r = e.do("POST", "/api/v1/webhooks/simulate", key, `{"invoice_id":"`+inv2["invoice_id"].(string)+`","status":"expired"}`)
	if code, _ := r.errorField(t); r.status != http.StatusBadGateway || code != "webhook_failed" {
		t.Fatalf("failing receiver: %d %s", r.status, r.body)
	}
}

func TestSimulateWebhook_OffUnlessEnabled(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{noSimulate: true})
	_, key := e.project("shop", "")
	if r := e.do("POST", "/api/v1/webhooks/simulate", key, `{"invoice_id":"x","status":"new"}`); r.status != 404 {
		t.Fatalf("simulate when disabled: %d", r.status)
	}
}
