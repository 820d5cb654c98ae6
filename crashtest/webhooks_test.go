package crashtest

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// sink is the merchant's webhook receiver: it checks each delivery's
// signature the way docs/keys.md tells merchants to, records it and answers
// 200, or 500 to a fraction of first attempts while failing is on (the
// server retries those about 10 s later, across kills).
type sink struct {
	srv     *httptest.Server
	key     atomic.Value // the project key, string; set before any invoice has a callback
	failing atomic.Bool

	mu sync.Mutex
	// byID is every delivery of each webhook id, in arrival order.
	byID map[string][]delivery
	// accepted is each invoice's webhook ids in the order of their first
	// 200.
	accepted map[uuid.UUID][]string
	failed   map[string]bool // ids answered 500 once
	requests int
	bad      []string // deliveries a merchant would reject
}

type delivery struct {
	status  int // what the sink answered
	at      time.Time
	event   string
	invoice uuid.UUID
	body    []byte
}

func newSink(t *testing.T) *sink {
	s := &sink{byID: map[string][]delivery{}, accepted: map[uuid.UUID][]string{}, failed: map[string]bool{}}
	s.key.Store("")
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// url is the callback_url of every invoice the load creates.
func (s *sink) url() string { return s.srv.URL + "/hook" }

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the server died mid-request: it sends this one again
	}
	id := r.Header.Get("X-Webhook-Id")
	var v struct {
		Invoice uuid.UUID `json:"invoice_id"`
		Event   string    `json:"event"`
	}
	problem := ""
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/hook" || r.Header.Get("Content-Type") != "application/json":
		problem = fmt.Sprintf("%s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	case !merchantVerify(s.key.Load().(string), r, body):
		problem = "bad signature or timestamp"
	case json.Unmarshal(body, &v) != nil:
		problem = "body is not an invoice"
	case !strings.HasPrefix(id, "wh_"+v.Invoice.String()+"_"):
		problem = "webhook id names another invoice"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if problem != "" {
		s.bad = append(s.bad, fmt.Sprintf("%s: %s: %.200s", id, problem, body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	d := delivery{status: http.StatusOK, at: time.Now(), event: v.Event, invoice: v.Invoice, body: body}
	if s.failing.Load() && !s.failed[id] && len(s.byID[id]) == 0 && rand.IntN(20) == 0 {
		s.failed[id] = true
		d.status = http.StatusInternalServerError
	}
	if d.status == http.StatusOK && !slices.ContainsFunc(s.byID[id], func(d delivery) bool { return d.status == http.StatusOK }) {
		s.accepted[v.Invoice] = append(s.accepted[v.Invoice], id)
	}
	s.byID[id] = append(s.byID[id], d)
	w.WriteHeader(d.status)
}

// merchantVerify is the check docs/keys.md gives merchants in Go ("Checking
// webhook signatures with several keys"), written out rather than calling
// webhooks.Verify: the documented recipe is what is under test.
func merchantVerify(apiKey string, r *http.Request, body []byte) bool {
	key := sha256.Sum256([]byte(apiKey))
	ts := r.Header.Get("X-Webhook-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || math.Abs(float64(time.Now().Unix()-sec)) > 300 {
		return false
	}
	mac := hmac.New(sha256.New, key[:])
	mac.Write([]byte(ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, entry := range strings.Split(r.Header.Get("X-Webhook-Signature"), ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(entry), "v1=")
		sig, err := hex.DecodeString(hexSig)
		if ok && err == nil && hmac.Equal(sig, want) {
			return true
		}
	}
	return false
}

// awaitWebhooks waits until the server has no webhook left to deliver
// (invoiced_webhook_backlog is 0) and none dead-lettered, and returns when
// it saw that: records written later (an expiry) may still be pending.
func awaitWebhooks(t *testing.T, p *proc, s *sink, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		bad := s.bad
		s.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("%d deliveries a merchant would reject, e.g. %s", len(bad), bad[0])
		}
		seen := time.Now()
		backlog, dead := webhookGauges(p)
		if dead != 0 {
			t.Fatalf("%d webhooks dead-lettered; the sink fails each one at most once", dead)
		}
		if backlog == 0 {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook backlog still %d after %s\n%s", backlog, timeout, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// webhookGauges reads the backlog and dead-letter gauges (-1 if unread).
func webhookGauges(p *proc) (backlog, dead int) {
	backlog, dead = -1, -1
	code, b, err := p.do(context.Background(), "GET", "/metrics", "", "")
	if err != nil || code != 200 {
		return
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "invoiced_webhook_backlog":
			backlog = int(n)
		case "invoiced_webhook_dead_letters":
			dead = int(n)
		}
	}
	return
}

// webhookFacts is what verifyWebhooks found, for the report.
type webhookFacts struct {
	records, owed, deliveries, duplicates, retried, late int
}

// verifyWebhooks checks the stopped server's outbox against its event logs
// and the sink (see the package comment): every status change and payment
// of an invoice with a callback URL has its webhook, no other webhook
// exists, each was received with the stored body (duplicates allowed:
// delivery is at least once), each invoice's in version order, and every
// acknowledged PATCH's webhook carries its status. Records written after
// settled that are still pending are only counted.
func verifyWebhooks(t *testing.T, dataDir string, facts storeFacts, a *acked, s *sink, settled time.Time) webhookFacts {
	t.Helper()
	st, err := persistence.Open(filepath.Join(dataDir, "store"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(s.bad) > 0 {
		t.Fatalf("%d deliveries a merchant would reject, e.g. %s", len(s.bad), s.bad[0])
	}
	var f webhookFacts
	seqOf := map[string]uint64{}  // every stored webhook's version, by id
	bodies := map[string][]byte{} // and its body
	for id, inv := range facts.invoices {
		queue, err := st.OutboxQueue(id)
		if err != nil {
			t.Fatal(err)
		}
		events, err := st.Events(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		// What the invoice owes: one webhook per status change and per
		// payment seen, at the event's version.
		owed := map[uint64]string{}
		for i, b := range events {
			e, err := engine.DecodeEvent(b)
			if err != nil {
				t.Fatal(err)
			}
			switch e.(type) {
			case engine.StatusChanged:
				owed[uint64(i+1)] = "invoice.status_changed"
			case engine.PaymentSeen:
				owed[uint64(i+1)] = "invoice.payment_seen"
			}
		}
		if inv.inv.CallbackURL == "" {
			owed = nil
		}
		f.owed += len(owed)
		f.records += len(queue)
		for _, e := range queue {
			r := e.Record
			want, ok := owed[r.Seq]
			if !ok || r.Event != want || r.ID != fmt.Sprintf("wh_%s_%d", id, r.Seq) {
				t.Fatalf("invoice %s: webhook %s (%s) at version %d reports no such event (owed there: %q)", id, r.ID, r.Event, r.Seq, want)
			}
			delete(owed, r.Seq)
			bodies[r.ID] = r.Body
			seqOf[r.ID] = r.Seq
			got := s.byID[r.ID]
			if e.State.Status == persistence.OutboxDead {
				t.Fatalf("webhook %s dead-lettered: %+v", r.ID, e.State.Attempts)
			}
			if !slices.ContainsFunc(got, func(d delivery) bool { return d.status == http.StatusOK }) {
				if e.State.Status == persistence.OutboxPending && time.Unix(0, r.CreatedAt).After(settled) {
					f.late++
					continue
				}
				t.Fatalf("webhook %s (%s of invoice %s, %s) was never received (%d attempts to the sink)", r.ID, r.Event, id, e.State.Status, len(got))
			}
			accepted := 0
			for _, d := range got {
				if string(d.body) != string(r.Body) || d.event != r.Event {
					t.Fatalf("webhook %s arrived as %s %.200s; stored %s %.200s", r.ID, d.event, d.body, r.Event, r.Body)
				}
				if d.status == http.StatusOK {
					accepted++
				}
			}
			f.deliveries += len(got)
			if accepted > 1 {
				f.duplicates += accepted - 1
			}
			if s.failed[r.ID] {
				f.retried++
			}
		}
		if len(owed) > 0 {
			t.Fatalf("invoice %s has events without their webhook (version: event): %v", id, owed)
		}
	}
	for id := range s.byID {
		if _, ok := seqOf[id]; !ok {
			t.Fatalf("webhook %s was delivered but the store has no such webhook (sent before its commit?)", id)
		}
	}
	// In order per invoice: the first 200 of each webhook in increasing
	// version order.
	for inv, order := range s.accepted {
		for i := 1; i < len(order); i++ {
			if seqOf[order[i]] <= seqOf[order[i-1]] {
				t.Fatalf("invoice %s: webhook %s was first received after %s: %v", inv, order[i-1], order[i], order)
			}
		}
	}
	// Every acknowledged PATCH is a status change the merchant heard of,
	// with the status it set (a PATCH's decision has no other event).
	for _, p := range a.patches {
		events := facts.invoices[p.invoice].events
		v := slices.IndexFunc(events, func(e engine.Event) bool {
			sc, ok := e.(engine.StatusChanged)
			return ok && sc.Reason == engine.ReasonManual && string(sc.To) == p.status && sc.Comment == p.comment
		}) + 1
		id := fmt.Sprintf("wh_%s_%d", p.invoice, v)
		var body struct {
			Status string `json:"status"`
			Event  string `json:"event"`
		}
		if v == 0 || json.Unmarshal(bodies[id], &body) != nil || body.Status != p.status || body.Event != "invoice.status_changed" {
			t.Fatalf("acknowledged PATCH of %s to %s (%s) has no webhook with that status: %s %s", p.invoice, p.status, p.comment, id, bodies[id])
		}
		if len(s.byID[id]) == 0 {
			t.Fatalf("acknowledged PATCH of %s to %s: webhook %s never received", p.invoice, p.status, id)
		}
	}
	return f
}
