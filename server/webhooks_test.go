package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/actors/webhook"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/webhooks"
)

// whHarness is a server in dev mode whose webhooks may reach loopback
// receivers; mod adjusts its config.
type whHarness struct {
	*harness
	mod func(*Config)
}

func newWebhookHarness(t *testing.T, mod func(*Config)) *whHarness {
	w := &whHarness{harness: &harness{t: t, dir: t.TempDir(), clock: clock.NewTest(time.Now().UTC()), poll: 10 * time.Millisecond}, mod: mod}
	w.start()
	var p struct {
		APIKey string `json:"api_key"`
	}
	w.call("POST", "/api/v1/projects", accountKey, `{"name":"shop"}`, 201, &p)
	w.key = p.APIKey
	return w
}

func (w *whHarness) start() {
	w.t.Helper()
	cfg := Config{
		Listen: "127.0.0.1:0", DataDir: w.dir, Mode: "dev", BootstrapAccountKey: accountKey,
		ChainPoll: w.poll, ExpiryInterval: w.poll, Clock: w.clock,
		AllowPrivateCallbacks: true, WebhookInterval: 10 * time.Millisecond,
	}
	if w.mod != nil {
		w.mod(&cfg)
	}
	srv, err := Start(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.srv = srv
	w.t.Cleanup(w.stop)
}

// webhookView is one element of GET /api/v1/invoices/{id}/webhooks.
type webhookView struct {
	WebhookID string `json:"webhook_id"`
	Event     string `json:"event"`
	Status    string `json:"status"`
	Attempts  []struct {
		At         time.Time `json:"at"`
		HTTPStatus *int      `json:"http_status"`
		Error      *string   `json:"error"`
		DurationMS int64     `json:"duration_ms"`
	} `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
}

func (w *whHarness) webhooks(id string) []webhookView {
	w.t.Helper()
	var out struct {
		Webhooks []webhookView `json:"webhooks"`
	}
	w.call("GET", "/api/v1/invoices/"+id+"/webhooks", w.key, "", 200, &out)
	if out.Webhooks == nil {
		w.t.Fatalf("webhooks of %s: no webhooks array", id)
	}
	return out.Webhooks
}

// awaitWebhooks polls the invoice's webhooks until cond holds (a bounded
// loop; retry delays are crossed by moving the clock, never by sleeping).
func (w *whHarness) awaitWebhooks(id, what string, cond func([]webhookView) bool) []webhookView {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := w.webhooks(id)
		if cond(list) {
			return list
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("webhooks of %s: %s never happened; last %+v", id, what, list)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// attempted waits until webhook i of the invoice has n attempts recorded.
func (w *whHarness) attempted(id string, i, n int) webhookView {
	w.t.Helper()
	return w.awaitWebhooks(id, fmt.Sprintf("webhook %d with %d attempts", i, n), func(l []webhookView) bool {
		return len(l) > i && len(l[i].Attempts) >= n
	})[i]
}

// skipTo moves the clock just past t.
func (w *whHarness) skipTo(t time.Time) {
	if d := t.Sub(w.clock.Now()); d > 0 {
		w.clock.Add(d + time.Second)
	}
}

func (w *whHarness) metric(line string) bool {
	w.t.Helper()
	resp, err := http.Get("http://" + w.srv.Addr + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return slices.Contains(strings.Split(string(b), "\n"), line)
}

func (w *whHarness) awaitMetric(line string) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !w.metric(line) {
		if time.Now().After(deadline) {
			w.t.Fatalf("/metrics never showed %s", line)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hook is one request a receiver got.
type hook struct {
	id, ts  string
	body    []byte
	payload struct {
		Event     string `json:"event"`
		InvoiceID string `json:"invoice_id"`
		UserID    string `json:"user_id"`
		Status    string `json:"status"`
	}
	verifyErr error // the merchant's signature check, made on receipt
}

// receiver is a merchant endpoint on loopback. answer picks the status for
// the n-th request (from 0) and may block; by default every request gets
// 204.
type receiver struct {
	srv    *httptest.Server
	key    [32]byte
	now    func() time.Time
	answer func(n int, h hook, r *http.Request) int

	mu  sync.Mutex
	got []hook
}

func newWebhookReceiver(t *testing.T, w *whHarness, answer func(n int, h hook, r *http.Request) int) *receiver {
	rc := &receiver{key: webhooks.SigningKey(w.key), now: w.clock.Now, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(rw http.ResponseWriter, r *http.Request) {
	var h hook
	h.body, _ = io.ReadAll(r.Body)
	h.id, h.ts = r.Header.Get(webhooks.HeaderID), r.Header.Get(webhooks.HeaderTimestamp)
	h.verifyErr = webhooks.Verify(rc.key, r.Header.Get(webhooks.HeaderSignature), h.ts, h.body, rc.now(), 5*time.Minute)
	_ = json.Unmarshal(h.body, &h.payload)
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, h)
	rc.mu.Unlock()
	status := http.StatusNoContent
	if rc.answer != nil {
		status = rc.answer(n, h, r)
	}
	rw.WriteHeader(status)
}

func (rc *receiver) hooks() []hook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *receiver) callback() string { return rc.srv.URL + "/hook" }

// ids are the X-Webhook-Ids received for invoice, in arrival order.
func (rc *receiver) ids(invoice string) []string {
	var out []string
	for _, h := range rc.hooks() {
		if h.payload.InvoiceID == invoice {
			out = append(out, h.id)
		}
	}
	return out
}

func (w *whHarness) patch(id, status string) {
	w.t.Helper()
	w.call("PATCH", "/api/v1/invoices/"+id, w.key, `{"status":"`+status+`"}`, 200, nil)
}

func (w *whHarness) invoiceWithCallback(orderID, url string) apiInvoice {
	w.t.Helper()
	return w.create(fmt.Sprintf(`{"order_id":%q,"crypto_amount":"0.001","currency":"BTC","callback_url":%q}`, orderID, url))
}

func allDelivered(n int) func([]webhookView) bool {
	return func(l []webhookView) bool {
		if len(l) != n {
			return false
		}
		for _, wh := range l {
			if wh.Status != "delivered" {
				return false
			}
		}
		return true
	}
}

func TestWebhooks_PaymentLifecycleDeliveredInOrderAndSigned(t *testing.T) {
	w := newWebhookHarness(t, nil)
	rc := newWebhookReceiver(t, w, nil)
	inv := w.invoiceWithCallback("o", rc.callback())
	w.pay("BTC", inv.BlockchainDetails.Address, "0.001")
	w.await(inv.ID, "pending", "100000")
	w.mine("BTC", 1)
	w.await(inv.ID, "completed", "100000")
	list := w.awaitWebhooks(inv.ID, "three delivered", allDelivered(3))

	got := rc.hooks()
	if len(got) != 3 {
		t.Fatalf("receiver got %d webhooks, want 3", len(got))
	}
	want := []struct{ event, status string }{
		{invoice.EventPaymentSeen, "pending"}, // the state after the decision: the payment made it pending
		{invoice.EventStatusChanged, "pending"},
		{invoice.EventStatusChanged, "completed"},
	}
	lastSeq := -1
	for i, h := range got {
		if h.payload.Event != want[i].event || h.payload.Status != want[i].status || h.payload.InvoiceID != inv.ID {
			t.Errorf("webhook %d = %s %s for %s, want %+v", i, h.payload.Event, h.payload.Status, h.payload.InvoiceID, want[i])
		}
		if h.payload.UserID != inv.UserID || inv.UserID == "" || inv.UserID == uuid.Nil.String() {
			t.Errorf("webhook %d user_id %q, the invoice's is %q", i, h.payload.UserID, inv.UserID)
		}
		if h.verifyErr != nil {
			t.Errorf("webhook %d: signature does not verify with SHA-256 of the project key: %v", i, h.verifyErr)
		}
		var seq int
		if _, err := fmt.Sscanf(strings.TrimPrefix(h.id, "wh_"+inv.ID+"_"), "%d", &seq); err != nil || seq <= lastSeq {
			t.Errorf("webhook %d id %q: want wh_%s_<increasing version>", i, h.id, inv.ID)
		}
		lastSeq = seq
		if h.id != list[i].WebhookID || list[i].Event != want[i].event {
			t.Errorf("list entry %d = %s %s, receiver got %s", i, list[i].WebhookID, list[i].Event, h.id)
		}
		if len(list[i].Attempts) != 1 || list[i].Attempts[0].HTTPStatus == nil || *list[i].Attempts[0].HTTPStatus != 204 ||
			list[i].Attempts[0].Error != nil || list[i].NextAttemptAt != nil {
			t.Errorf("list entry %d = %+v", i, list[i])
		}
	}
	// The hosted API's webhook fields are at the top level.
	var fields map[string]any
	if err := json.Unmarshal(got[2].body, &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"invoice_id", "status", "order_id", "currency", "crypto_amount", "fiat_amount", "fiat_currency",
		"actual_crypto_amount_paid", "actual_crypto_amount_paid_in_units", "updated_at", "event"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("payload lacks %q: %s", f, got[2].body)
		}
	}
	w.awaitMetric(`invoiced_webhook_deliveries_total{result="delivered"} 3`)
	for _, line := range []string{`invoiced_webhook_backlog 0`, `invoiced_webhook_dead_letters 0`, `invoiced_webhook_delivery_duration_seconds_count 3`} {
		if !w.metric(line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
}

func TestWebhooks_FailingReceiverRetriedWithSameIDAndLaterWebhookWaits(t *testing.T) {
	const failures = 3
	w := newWebhookHarness(t, nil)
	rc := newWebhookReceiver(t, w, func(n int, _ hook, _ *http.Request) int {
		if n < failures {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	inv := w.invoiceWithCallback("o", rc.callback())
	w.patch(inv.ID, "cancelled")
	w.patch(inv.ID, "archived")

	for k := 1; k <= failures; k++ {
		first := w.attempted(inv.ID, 0, k)
		a := first.Attempts[k-1]
		if first.Status != "pending" || a.HTTPStatus == nil || *a.HTTPStatus != 500 || a.Error == nil || first.NextAttemptAt == nil {
			t.Fatalf("after failure %d: %+v", k, first)
		}
		wait := first.NextAttemptAt.Sub(a.At)
		if base := webhook.DefaultRetrySchedule[k-1]; wait < base*8/10 || wait > base*12/10 {
			t.Fatalf("wait after failure %d is %s, want %s ±20%%", k, wait, base)
		}
		if ids := rc.ids(inv.ID); len(ids) != k {
			t.Fatalf("after failure %d the receiver got %v: the later webhook must wait for the first", k, ids)
		}
		w.skipTo(*first.NextAttemptAt)
	}
	list := w.awaitWebhooks(inv.ID, "both delivered", allDelivered(2))
	if n := len(list[0].Attempts); n != failures+1 {
		t.Fatalf("first webhook took %d attempts, want %d", n, failures+1)
	}
	ids := rc.ids(inv.ID)
	wantIDs := []string{list[0].WebhookID, list[0].WebhookID, list[0].WebhookID, list[0].WebhookID, list[1].WebhookID}
	if !slices.Equal(ids, wantIDs) {
		t.Fatalf("receiver got %v, want %v", ids, wantIDs)
	}
	got := rc.hooks()
	for i := 1; i <= failures; i++ {
		if !bytes.Equal(got[i].body, got[0].body) || got[i].verifyErr != nil {
			t.Fatalf("retry %d changed the body or its signature fails: %v", i, got[i].verifyErr)
		}
	}
	if got[4].payload.Status != "archived" || got[0].payload.Status != "cancelled" {
		t.Fatalf("statuses %s then %s", got[0].payload.Status, got[4].payload.Status)
	}
	w.awaitMetric(`invoiced_webhook_deliveries_total{result="failed"} 3`)
}

func TestWebhooks_RestartMidScheduleStillDelivered(t *testing.T) {
	w := newWebhookHarness(t, nil)
	rc := newWebhookReceiver(t, w, func(n int, _ hook, _ *http.Request) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	inv := w.invoiceWithCallback("o", rc.callback())
	w.patch(inv.ID, "cancelled")
	first := w.attempted(inv.ID, 0, 1)
	if first.Status != "pending" || first.NextAttemptAt == nil {
		t.Fatalf("after the failure: %+v", first)
	}

	w.stop()
	w.skipTo(*first.NextAttemptAt)
	w.start()
	list := w.awaitWebhooks(inv.ID, "delivered after the restart", allDelivered(1))
	if a := list[0].Attempts; len(a) != 2 || *a[0].HTTPStatus != 503 || *a[1].HTTPStatus != 204 {
		t.Fatalf("attempts %+v", a)
	}
	if ids := rc.ids(inv.ID); len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("receiver got %v", ids)
	}
}

// TestWebhooks_ShutdownMidAttemptResendsAfterRestart: an attempt cut off by
// a shutdown (or a crash) left no trace, so the webhook is still due and the
// restarted server sends it again, with the same id: at least once.
func TestWebhooks_ShutdownMidAttemptResendsAfterRestart(t *testing.T) {
	w := newWebhookHarness(t, nil)
	rc := newWebhookReceiver(t, w, func(n int, _ hook, r *http.Request) int {
		if n == 0 {
			<-r.Context().Done() // hangs until the server gives up on it
		}
		return http.StatusNoContent
	})
	inv := w.invoiceWithCallback("o", rc.callback())
	w.patch(inv.ID, "cancelled")
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.hooks()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the webhook was never attempted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.stop()
	w.start()
	list := w.awaitWebhooks(inv.ID, "delivered after the restart", allDelivered(1))
	if len(list[0].Attempts) != 1 {
		t.Fatalf("attempts %+v: the cut-off one must leave no record", list[0].Attempts)
	}
	if ids := rc.ids(inv.ID); len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("receiver got %v, want the same id twice", ids)
	}
}

func TestWebhooks_DeadLetteredAfterScheduleThenRedelivered(t *testing.T) {
	w := newWebhookHarness(t, nil)
	var mu sync.Mutex
	status := http.StatusBadGateway
	rc := newWebhookReceiver(t, w, func(int, hook, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		return status
	})
	inv := w.invoiceWithCallback("o", rc.callback())
	w.patch(inv.ID, "cancelled")
	maxAttempts := len(webhook.DefaultRetrySchedule) + 1
	var wh webhookView
	for k := 1; k <= maxAttempts; k++ {
		wh = w.attempted(inv.ID, 0, k)
		if k < maxAttempts {
			if wh.Status != "pending" || wh.NextAttemptAt == nil {
				t.Fatalf("after %d failures: %+v", k, wh)
			}
			w.skipTo(*wh.NextAttemptAt)
		}
	}
	wh = w.awaitWebhooks(inv.ID, "dead-lettered", func(l []webhookView) bool { return l[0].Status == "dead" })[0]
	if len(wh.Attempts) != maxAttempts || wh.NextAttemptAt != nil {
		t.Fatalf("dead letter %+v", wh)
	}
	if span := wh.Attempts[maxAttempts-1].At.Sub(wh.Attempts[0].At); span < 54*time.Hour || span > 83*time.Hour {
		t.Fatalf("retries spanned %s, want about three days", span)
	}
	// The store's counts change with the dead letter's write, the
	// deliverer's counters just after it: each is awaited, not read once.
	for _, line := range []string{`invoiced_webhook_dead_letters 1`, `invoiced_webhook_backlog 0`,
		`invoiced_webhook_deliveries_total{result="dead"} 1`,
		fmt.Sprintf(`invoiced_webhook_deliveries_total{result="failed"} %d`, maxAttempts-1)} {
		w.awaitMetric(line)
	}

	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	var requeued webhookView
	w.call("POST", "/api/v1/invoices/"+inv.ID+"/webhooks/"+wh.WebhookID+"/redeliver", w.key, "", 202, &requeued)
	if requeued.WebhookID != wh.WebhookID || requeued.Status != "pending" || requeued.NextAttemptAt == nil {
		t.Fatalf("redeliver answered %+v", requeued)
	}
	list := w.awaitWebhooks(inv.ID, "delivered on redelivery", allDelivered(1))
	if n := len(list[0].Attempts); n != maxAttempts+1 {
		t.Fatalf("%d attempts, want %d", n, maxAttempts+1)
	}
	w.awaitMetric(`invoiced_webhook_dead_letters 0`)
}

func TestWebhooks_SlowReceiverTimesOutAndIsRetried(t *testing.T) {
	const timeout = 300 * time.Millisecond
	w := newWebhookHarness(t, func(c *Config) { c.WebhookAttemptTimeout = timeout })
	rc := newWebhookReceiver(t, w, func(n int, _ hook, r *http.Request) int {
		if n == 0 {
			<-r.Context().Done() // never answers: the attempt times out
		}
		return http.StatusNoContent
	})
	inv := w.invoiceWithCallback("o", rc.callback())
	w.patch(inv.ID, "cancelled")
	first := w.attempted(inv.ID, 0, 1)
	a := first.Attempts[0]
	if first.Status != "pending" || a.HTTPStatus != nil || !isTimeout(a.Error) {
		t.Fatalf("timed-out attempt: %+v (error %q)", first, deref(a.Error))
	}
	if d := time.Duration(a.DurationMS) * time.Millisecond; d < timeout-50*time.Millisecond || d > 5*time.Second {
		t.Fatalf("timed-out attempt took %s, want about %s", d, timeout)
	}
	w.skipTo(*first.NextAttemptAt)
	w.awaitWebhooks(inv.ID, "delivered on retry", allDelivered(1))
}

func TestWebhooks_OrderPerInvoiceWhileOtherInvoicesProceed(t *testing.T) {
	const n = 12
	w := newWebhookHarness(t, nil)
	release := make(chan struct{})
	var blocked, failing string // invoice ids, set before any webhook exists
	var mu sync.Mutex
	failedOnce := false
	rc := newWebhookReceiver(t, w, func(_ int, h hook, r *http.Request) int {
		mu.Lock()
		isBlocked := h.payload.InvoiceID == blocked && h.payload.Status == "cancelled"
		mu.Unlock()
		if isBlocked {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if h.payload.InvoiceID == failing && !failedOnce {
			failedOnce = true
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	var ids []string
	for i := range n {
		ids = append(ids, w.invoiceWithCallback(fmt.Sprintf("o-%d", i), rc.callback()).ID)
	}
	mu.Lock()
	blocked, failing = ids[0], ids[1]
	mu.Unlock()
	for _, id := range ids {
		w.patch(id, "cancelled")
		w.patch(id, "archived")
	}
	// Every other invoice gets both webhooks while the first one's first
	// webhook hangs and the second's fails.
	for _, id := range ids[2:] {
		w.awaitWebhooks(id, "both delivered", allDelivered(2))
	}
	if got := rc.ids(blocked); len(got) != 1 {
		t.Fatalf("blocked invoice: receiver got %v, want only its first webhook", got)
	}
	failed := w.attempted(failing, 0, 1)
	if got := rc.ids(failing); len(got) != 1 {
		t.Fatalf("failing invoice: receiver got %v, want only its first webhook", got)
	}
	close(release)
	w.skipTo(*failed.NextAttemptAt)
	w.awaitWebhooks(blocked, "both delivered", allDelivered(2))
	w.awaitWebhooks(failing, "both delivered", allDelivered(2))

	for _, id := range ids {
		list := w.webhooks(id)
		got := rc.ids(id)
		want := []string{list[0].WebhookID, list[1].WebhookID}
		if id == failing {
			want = []string{list[0].WebhookID, list[0].WebhookID, list[1].WebhookID}
		}
		if !slices.Equal(got, want) {
			t.Errorf("invoice %s: receiver got %v, want %v", id, got, want)
		}
	}
}

func TestWebhooks_ListAndRedeliverEndpoints(t *testing.T) {
	w := newWebhookHarness(t, nil)
	rc := newWebhookReceiver(t, w, nil)
	var other struct {
		APIKey string `json:"api_key"`
	}
	w.call("POST", "/api/v1/projects", accountKey, `{"name":"other"}`, 201, &other)

	plain := w.create(`{"order_id":"plain","crypto_amount":"0.001","currency":"BTC"}`)
	w.patch(plain.ID, "cancelled")
	if l := w.webhooks(plain.ID); len(l) != 0 {
		t.Fatalf("an invoice without callback_url has webhooks: %+v", l)
	}

	inv := w.invoiceWithCallback("o", rc.callback())
	w.patch(inv.ID, "cancelled")
	wh := w.awaitWebhooks(inv.ID, "delivered", allDelivered(1))[0]
	if wh.Event != invoice.EventStatusChanged || wh.CreatedAt.IsZero() || wh.WebhookID != invoice.WebhookID(uuidOf(t, inv.ID), 2) {
		t.Fatalf("webhook %+v", wh)
	}
	redeliver := "/api/v1/invoices/" + inv.ID + "/webhooks/" + wh.WebhookID + "/redeliver"
	var requeued webhookView
	w.call("POST", redeliver, w.key, "", 202, &requeued)
	if requeued.Status != "pending" || len(requeued.Attempts) != 1 {
		t.Fatalf("redeliver answered %+v", requeued)
	}
	w.awaitWebhooks(inv.ID, "delivered again", func(l []webhookView) bool { return l[0].Status == "delivered" && len(l[0].Attempts) == 2 })
	if ids := rc.ids(inv.ID); len(ids) != 2 || ids[0] != wh.WebhookID || ids[1] != wh.WebhookID {
		t.Fatalf("receiver got %v", ids)
	}

	for _, tc := range []struct {
		name, method, path, key string
		want                    int
	}{
		{"list, other project", "GET", "/api/v1/invoices/" + inv.ID + "/webhooks", other.APIKey, 404},
		{"redeliver, other project", "POST", redeliver, other.APIKey, 404},
		{"redeliver, unknown webhook", "POST", "/api/v1/invoices/" + inv.ID + "/webhooks/wh_nope/redeliver", w.key, 404},
		{"redeliver, another invoice's webhook", "POST", "/api/v1/invoices/" + plain.ID + "/webhooks/" + wh.WebhookID + "/redeliver", w.key, 404},
		{"list, unknown invoice", "GET", "/api/v1/invoices/00000000-0000-0000-0000-000000000001/webhooks", w.key, 404},
		{"list, malformed id", "GET", "/api/v1/invoices/nope/webhooks", w.key, 404},
		{"list, no key", "GET", "/api/v1/invoices/" + inv.ID + "/webhooks", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.call(tc.method, tc.path, tc.key, "", tc.want, nil)
		})
	}
}

func TestWebhooks_PrivateCallbackRefusedUnlessAllowed(t *testing.T) {
	w := newWebhookHarness(t, func(c *Config) { c.AllowPrivateCallbacks = false })
	rc := newWebhookReceiver(t, w, nil)
	// A literal loopback address is refused at creation, naming the field;
	// nothing is stored.
	var refused struct {
		Code    string `json:"error"`
		Message string `json:"message"`
	}
	w.call("POST", "/api/v1/invoices", w.key, fmt.Sprintf(`{"order_id":"lit","crypto_amount":"0.001","currency":"BTC","callback_url":%q}`, rc.callback()), 422, &refused)
	if refused.Code != "validation_failed" || !strings.HasPrefix(refused.Message, "callback_url: host 127.0.0.1 is a loopback address") {
		t.Fatalf("literal loopback callback: %+v", refused)
	}
	if n := w.total(); n != 0 {
		t.Fatalf("%d invoices stored after the refusals", n)
	}
	// A host name is judged when dialed, as its address may change: the
	// invoice is created and the delivery refused.
	inv := w.invoiceWithCallback("o", strings.Replace(rc.callback(), "127.0.0.1", "localhost", 1))
	w.patch(inv.ID, "cancelled")
	wh := w.attempted(inv.ID, 0, 1)
	if a := wh.Attempts[0]; a.Error == nil || !strings.Contains(*a.Error, "refused") || a.HTTPStatus != nil || wh.Status != "pending" {
		t.Fatalf("attempt to a loopback callback: %+v", wh)
	}
	if n := len(rc.hooks()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
}

func uuidOf(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// isTimeout accepts either way the attempt's deadline shows: the context's
// or the transport's response-header timeout, which race at the same limit.
func isTimeout(err *string) bool {
	return err != nil && (strings.Contains(*err, "deadline exceeded") || strings.Contains(*err, "timeout"))
}
