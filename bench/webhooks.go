package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// webhookSink is the merchant's endpoint: it answers 200 to every POST and
// records when each X-Webhook-Id first arrived.
type webhookSink struct {
	srv *http.Server
	url string

	mu         sync.Mutex
	first      map[string]time.Time // X-Webhook-Id -> first arrival
	duplicates int64
	cond       chan struct{} // signalled (without blocking) on every new id
}

func startSink() (*webhookSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook sink: listen: %w", err)
	}
	s := &webhookSink{first: map[string]time.Time{}, cond: make(chan struct{}, 1), url: "http://" + ln.Addr().String() + "/hook"}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	now := time.Now()
	id := r.Header.Get("X-Webhook-Id")
	if r.Method != http.MethodPost || id == "" {
		http.Error(w, "want a POST with X-Webhook-Id", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if _, seen := s.first[id]; seen {
		s.duplicates++
	} else {
		s.first[id] = now
	}
	s.mu.Unlock()
	select {
	case s.cond <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

func (s *webhookSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.first)
}

func (s *webhookSink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}

// webhookInvoice is the invoice id in X-Webhook-Id (wh_<invoice>_<seq>).
func webhookInvoice(id string) string {
	id = strings.TrimPrefix(id, "wh_")
	if i := strings.LastIndexByte(id, '_'); i >= 0 {
		return id[:i]
	}
	return id
}

// runWebhooks creates WebhookInvoices invoices whose callback_url is a
// sink on loopback, then cancels them all with PATCH, conns at once: each
// cancel commits one invoice.status_changed webhook, which the dispatcher
// delivers. It measures deliveries per second and, per webhook, the time
// from sending its PATCH to its arrival at the sink.
//
// In-process, the scenario's server allows private callbacks. With -url the
// server must run on this machine with INVOICED_ALLOW_PRIVATE_CALLBACKS=true
// to reach the sink.
func runWebhooks(ctx context.Context, x *eventRun) (Result, error) {
	ev := x.ev
	sink, err := startSink()
	if err != nil {
		return Result{}, err
	}
	defer sink.close()
	baseURL, key := "", ""
	if x.env != nil {
		baseURL, key = x.env.BaseURL, x.env.ProjectKey
	} else {
		cfg := x.serverConfig("webhooks")
		cfg.AllowPrivateCallbacks = true
		s, err := x.startServer(ctx, cfg)
		if err != nil {
			return Result{}, err
		}
		defer s.stop()
		baseURL, key = s.baseURL, s.projectKey
	}
	prefix := "wh-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	invs, took, err := x.createInvoices(ctx, "webhooks", baseURL, key, ev.WebhookInvoices, func(i int) []byte {
		return eventBody(prefix+strconv.Itoa(i), eventCurrencies[i%len(eventCurrencies)], "0.01", 60, sink.url)
	})
	if err != nil {
		return Result{}, err
	}
	if got := sink.count(); got != 0 {
		return Result{}, fmt.Errorf("webhooks: %d webhooks arrived before any status change", got)
	}
	index := make(map[string]int, len(invs))
	for i, inv := range invs {
		index[inv.ID] = i
	}
	fig := &WebhookFigures{Invoices: ev.WebhookInvoices, SetupS: took.Seconds()}
	res := Result{Name: "webhooks", Unit: "webhooks", Webhooks: fig}

	sent := make([]time.Time, len(invs))
	body := []byte(`{"status":"cancelled","comment":"invoicebench"}`)
	cpu0 := processCPU()
	start := time.Now()
	pm := x.forEach(ctx, len(invs), func(ctx context.Context, i int) error {
		req, err := apiRequest(ctx, http.MethodPatch, baseURL+"/api/v1/invoices/"+invs[i].ID, key, body)
		if err != nil {
			return err
		}
		sent[i] = time.Now()
		return send(x.client, req, nil)
	})
	fig.PatchS = time.Since(start).Seconds()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if fig.PatchS > 0 {
		fig.PatchPerSecond = float64(pm.ok) / fig.PatchS
	}
	for kind, n := range pm.errKinds {
		res.noteErrors("PATCH "+kind, n, fmt.Errorf("%s", pm.errSamples[kind]))
	}
	want := int(pm.ok)
	deadline := time.Now().Add(ev.Settle)
	lastLog := time.Now()
	for sink.count() < want && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-sink.cond:
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(lastLog) >= time.Second {
			x.logf("webhooks %5.1fs %6d of %d delivered", time.Since(start).Seconds(), sink.count(), want)
			lastLog = time.Now()
		}
	}
	cpu := processCPU() - cpu0

	sink.mu.Lock()
	arrivals := make(map[string]time.Time, len(sink.first))
	for id, at := range sink.first {
		arrivals[id] = at
	}
	fig.Duplicates = sink.duplicates
	sink.mu.Unlock()
	hist := NewHistogram()
	var last time.Time
	perInvoice := make([]int, len(invs))
	var offsets []time.Duration
	for id, at := range arrivals {
		i, ok := index[webhookInvoice(id)]
		if !ok {
			res.noteErrors("unexpected", 1, fmt.Errorf("webhook %s is for no invoice of this run", id))
			continue
		}
		perInvoice[i]++
		hist.Record(at.Sub(sent[i]))
		offsets = append(offsets, at.Sub(start))
		if at.After(last) {
			last = at
		}
	}
	slices.Sort(offsets)
	cv := curve{at: offsets, v: make([]float64, len(offsets))}
	for i := range offsets {
		cv.v[i] = float64(i + 1)
	}
	res.Series = cv.series(0)
	fig.Delivered = int64(hist.Count())
	var missing, extra int64
	for _, n := range perInvoice {
		switch {
		case n == 0:
			missing++
		case n > 1:
			extra += int64(n - 1)
		}
	}
	if missing -= int64(len(invs) - want); missing > 0 { // failed PATCHes send nothing
		res.noteErrors("not delivered", missing, fmt.Errorf("%d of %d webhooks delivered %v after the PATCHes", fig.Delivered, want, ev.Settle))
	}
	if extra > 0 {
		res.noteErrors("extra", extra, fmt.Errorf("%d invoices got more than one webhook id; want one status_changed each", extra))
	}
	res.Requests = fig.Delivered
	if !last.IsZero() {
		fig.LastDeliveryS = last.Sub(start).Seconds()
		fig.DeliveriesPerSecond = float64(fig.Delivered) / fig.LastDeliveryS
		res.ElapsedS = fig.LastDeliveryS
		res.Throughput = fig.DeliveriesPerSecond
		res.CPUCores = cpu.Seconds() / fig.LastDeliveryS
	}
	if cpu > 0 {
		res.PerCPUSecond = float64(res.Requests) / cpu.Seconds()
	}
	res.Latency = latencyOf(hist)
	fig.CreateToDelivered = res.Latency
	x.logf("webhooks %d delivered in %.1fs after the first PATCH (%.0f/s), p99 %s", fig.Delivered, fig.LastDeliveryS, fig.DeliveriesPerSecond, fmtMs(res.Latency.P99))
	return res, nil
}
