package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invoiced/invoiced/actors/webhook"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/webhooks"
)

// webhookEnv is env's store and actors behind an API that also serves the
// webhook routes, backed by a running webhook deliverer. Every response is checked
// against openapi.json by do.
func webhookEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, t.TempDir(), envOpts{})
	ctx, cancel := context.WithCancel(context.Background())
	d, err := webhook.Start(ctx, webhook.Config{
		System: e.registry.System(), Store: e.store, Invoices: e.registry,
		Sender:   webhooks.NewSender(webhooks.SenderOptions{AllowPrivate: true, AttemptTimeout: 2 * time.Second}),
		Keys:     e.accounts,
		Interval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); d.Stop() }) // before env's cleanup closes the store
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Invoices: e.registry, Accounts: e.accounts, Rules: engine.DefaultRules(), Outbox: d}))
	t.Cleanup(srv.Close)
	w := *e
	w.srv = srv
	return &w
}

// flakyReceiver answers every webhook with its current status and passes on
// the ids it got.
type flakyReceiver struct {
	srv    *httptest.Server
	status atomic.Int32
	got    chan string
}

func newFlakyReceiver(t *testing.T, status int) *flakyReceiver {
	rc := &flakyReceiver{got: make(chan string, 10)}
	rc.status.Store(int32(status))
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.got <- r.Header.Get(webhooks.HeaderID)
		w.WriteHeader(int(rc.status.Load()))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func TestWebhookRoutes_ListAndRedeliverMatchTheDocument(t *testing.T) {
	e := webhookEnv(t)
	_, key := e.project("shop", "")
	_, otherKey := e.project("other", "")
	failing := newFlakyReceiver(t, http.StatusInternalServerError)
	inv := e.invoice(key, `{"order_id":"o","crypto_amount":"0.01","currency":"BTC","callback_url":"`+failing.srv.URL+`/hook"}`)
	id := inv["invoice_id"].(string)
	if r := e.do("PATCH", "/api/v1/invoices/"+id, key, `{"status":"cancelled"}`); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	<-failing.got

	type listed struct {
		Webhooks []struct {
			WebhookID string `json:"webhook_id"`
			Status    string `json:"status"`
			Attempts  []struct {
				HTTPStatus *int `json:"http_status"`
			} `json:"attempts"`
		} `json:"webhooks"`
	}
	var l listed
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.do("GET", "/api/v1/invoices/"+id+"/webhooks", key, "")
		if r.status != 200 || json.Unmarshal(r.body, &l) != nil || len(l.Webhooks) != 1 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		if len(l.Webhooks[0].Attempts) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt recorded: %s", r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wh := l.Webhooks[0]
	if wh.Status != "pending" || *wh.Attempts[0].HTTPStatus != 500 || wh.WebhookID != "wh_"+id+"_2" {
		t.Fatalf("webhook %+v", wh)
	}

	failing.status.Store(http.StatusOK) // the next retry is 10 s away: only the redelivery comes now
	r := e.do("POST", "/api/v1/invoices/"+id+"/webhooks/"+wh.WebhookID+"/redeliver", key, "")
	if r.status != http.StatusAccepted || r.json(t)["status"] != "pending" {
		t.Fatalf("redeliver: %d %s", r.status, r.body)
	}
	if got := <-failing.got; got != wh.WebhookID {
		t.Fatalf("redelivered %s, want %s", got, wh.WebhookID)
	}

	for _, tc := range []struct {
		name, method, path, key string
		status                  int
	}{
		{"other project's list", "GET", "/api/v1/invoices/" + id + "/webhooks", otherKey, 404},
		{"other project's redeliver", "POST", "/api/v1/invoices/" + id + "/webhooks/" + wh.WebhookID + "/redeliver", otherKey, 404},
		{"unknown webhook", "POST", "/api/v1/invoices/" + id + "/webhooks/wh_x/redeliver", key, 404},
		{"no key", "GET", "/api/v1/invoices/" + id + "/webhooks", "", 401},
	} {
		if r := e.do(tc.method, tc.path, tc.key, ""); r.status != tc.status {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
}
