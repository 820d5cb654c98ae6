package bench

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// StormFigures is the storm scenario: the API's creates measured while
// Invoices invoices expire at one instant and every one of their webhooks
// goes to a receiver that is down (Receiver "dead": a closed loopback port)
// or answers after 9 s ("slow"), side by side with the quiet phase before,
// and a healthy project's webhooks delivered meanwhile.
type StormFigures struct {
	Invoices int           `json:"invoices"`
	Receiver string        `json:"receiver"`
	SetupS   float64       `json:"setup_s"`
	Quiet    StormWindow   `json:"quiet"`
	Windows  []StormWindow `json:"storm_windows"`
	// CreateRatio is the worst storm window's creates/s over the quiet
	// phase's; P99Ratio the worst window's p99 over the quiet one's.
	CreateRatio float64 `json:"create_ratio"`
	P99Ratio    float64 `json:"p99_ratio"`
	// RSSGrowthMB is the highest RSS during the storm less the RSS after
	// the quiet phase (client and server: one process).
	RSSGrowthMB float64 `json:"rss_growth_mb"`
	// Healthy: another project's webhooks to a receiver that answers at
	// once, one PATCH cancel every healthyEvery during the storm; latency
	// from the PATCH to the arrival.
	HealthySent        int     `json:"healthy_sent"`
	HealthyDelivered   int     `json:"healthy_delivered"`
	HealthyToDelivered Latency `json:"healthy_to_delivered_ms"`
}

// StormWindow is one measured phase of creates.
type StormWindow struct {
	// AtS is the window's end, seconds after the clock passed expires_at
	// (0 for the quiet phase).
	AtS     float64 `json:"at_s"`
	Creates float64 `json:"creates_per_s"`
	P99Ms   float64 `json:"p99_ms"`
	RSSMB   float64 `json:"rss_mb"`
	// Backlog is invoiced_webhook_backlog at the window's end; Expired
	// invoiced_invoices{status="expired"}.
	Backlog float64 `json:"webhook_backlog"`
	Expired float64 `json:"expired"`
}

const (
	// stormWindows is how many create phases of the run's duration are
	// measured after the clock jump.
	stormWindows = 6
	// slowReceiverDelay is how long the slow receiver takes to answer,
	// within the 10 s attempt timeout.
	slowReceiverDelay = 9 * time.Second
	// healthyEvery paces the healthy project's webhooks.
	healthyEvery = 200 * time.Millisecond
)

// runStorm: see StormFigures.
func runStorm(ctx context.Context, x *eventRun) (Result, error) {
	ev := x.ev
	recvURL, stopRecv, err := stormReceiver(ev.StormReceiver)
	if err != nil {
		return Result{}, err
	}
	defer stopRecv()
	sink, err := startSink()
	if err != nil {
		return Result{}, err
	}
	defer sink.close()
	clock := &benchClock{}
	t0 := time.Now().Truncate(time.Second)
	clock.freeze(t0)
	cfg := x.serverConfig("storm")
	cfg.Clock, cfg.ExpiryInterval, cfg.AllowPrivateCallbacks = clock, serverExpiryInterval, true
	s, err := x.startServer(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer s.stop()
	poll := newClient(1, x.cfg.Timeout)
	defer poll.CloseIdleConnections()
	fig := &StormFigures{Invoices: ev.StormInvoices, Receiver: ev.StormReceiver}
	res := Result{Name: "storm", Unit: "creates", Storm: fig}
	env := &Env{Client: x.client, BaseURL: s.baseURL, ProjectKey: s.projectKey, Nonce: "st" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	phase := 0
	windowLen := cmp.Or(x.cfg.Shape.Duration, 2*time.Second)
	window := func(at time.Duration) (StormWindow, *measurement, error) {
		phase++
		ops := make([]Op, x.cfg.Shape.Conns)
		for w := range ops {
			ops[w] = newCreateOp(env, "s"+strconv.Itoa(phase)+"-", w)
		}
		m := drive(ctx, Shape{Conns: x.cfg.Shape.Conns, Duration: windowLen}, ops, nil)
		if err := ctx.Err(); err != nil {
			return StormWindow{}, nil, err
		}
		sample, err := scrape(ctx, poll, s.baseURL)
		if err != nil {
			return StormWindow{}, nil, err
		}
		w := StormWindow{AtS: at.Seconds(), Creates: float64(m.ok) / m.elapsed.Seconds(), P99Ms: latencyOf(m.hist).P99, RSSMB: vmRSS(),
			Expired: sample.sum("invoiced_invoices", `status="expired"`)}
		w.Backlog, _ = sample.lookup("invoiced_webhook_backlog")
		x.logf("storm    %5.0fs %7.0f creates/s p99 %6.1fms rss %5.0fMB backlog %6.0f expired %6.0f", w.AtS, w.Creates, w.P99Ms, w.RSSMB, w.Backlog, w.Expired)
		return w, m, nil
	}
	if fig.Quiet, _, err = window(0); err != nil {
		return Result{}, err
	}
	prefix := "storm-" + env.Nonce + "-"
	_, took, err := x.createInvoices(ctx, "storm", s.baseURL, s.projectKey, ev.StormInvoices, func(i int) []byte {
		return eventBody(prefix+strconv.Itoa(i), eventCurrencies[i%len(eventCurrencies)], "0.01", 1, recvURL)
	})
	if err != nil {
		return Result{}, err
	}
	fig.SetupS = took.Seconds()
	healthyKey, err := createProject(ctx, x.client, s.baseURL, s.srv.AccountKey, "invoicebench healthy")
	if err != nil {
		return Result{}, err
	}
	nHealthy := int((time.Duration(stormWindows) * windowLen) / healthyEvery)
	healthy, _, err := x.createInvoices(ctx, "storm", s.baseURL, healthyKey, nHealthy, func(i int) []byte {
		return eventBody(prefix+"h"+strconv.Itoa(i), "BTC", "0.01", 60, sink.url)
	})
	if err != nil {
		return Result{}, err
	}

	// Every storm invoice expires at t0+1m: the clock jumps past it.
	moved := time.Now()
	clock.run(t0.Add(time.Minute + time.Second))
	var wg sync.WaitGroup
	sent := make([]time.Time, len(healthy))
	stop := make(chan struct{})
	wg.Go(func() { fig.HealthySent = cancelPaced(ctx, x.client, s.baseURL, healthyKey, healthy, sent, stop) })
	hist := NewHistogram()
	rss0 := fig.Quiet.RSSMB
	for range stormWindows {
		w, m, err := window(time.Since(moved))
		if err != nil {
			close(stop)
			wg.Wait()
			return Result{}, err
		}
		fig.Windows = append(fig.Windows, w)
		fig.RSSGrowthMB = max(fig.RSSGrowthMB, w.RSSMB-rss0)
		res.Series = append(res.Series, Point{T: w.AtS, Throughput: w.Creates})
		if fig.CreateRatio == 0 || w.Creates/fig.Quiet.Creates < fig.CreateRatio {
			fig.CreateRatio = w.Creates / fig.Quiet.Creates
			hist = m.hist
		}
		fig.P99Ratio = max(fig.P99Ratio, w.P99Ms/fig.Quiet.P99Ms)
	}
	close(stop)
	wg.Wait()
	deadline := time.Now().Add(ev.Settle)
	for sink.count() < fig.HealthySent && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	arrived := map[string]time.Time{}
	sink.mu.Lock()
	for id, at := range sink.first {
		arrived[webhookInvoice(id)] = at
	}
	sink.mu.Unlock()
	lat := NewHistogram()
	for i, inv := range healthy {
		if at, ok := arrived[inv.ID]; ok && !sent[i].IsZero() {
			lat.Record(at.Sub(sent[i]))
			fig.HealthyDelivered++
		}
	}
	fig.HealthyToDelivered = latencyOf(lat)
	worst := slices.MinFunc(fig.Windows, func(a, b StormWindow) int { return cmp.Compare(a.Creates, b.Creates) })
	res.Throughput, res.Latency, res.ElapsedS = worst.Creates, latencyOf(hist), time.Since(moved).Seconds()
	if fig.HealthyDelivered < fig.HealthySent {
		res.noteErrors("healthy webhook not delivered", int64(fig.HealthySent-fig.HealthyDelivered),
			fmt.Errorf("%d of %d healthy webhooks delivered %v after the storm", fig.HealthyDelivered, fig.HealthySent, ev.Settle))
	}
	x.logf("storm    create ratio %.2f, p99 ratio %.2f, rss +%.0fMB, healthy webhooks p99 %s (%d of %d)",
		fig.CreateRatio, fig.P99Ratio, fig.RSSGrowthMB, fmtMs(fig.HealthyToDelivered.P99), fig.HealthyDelivered, fig.HealthySent)
	return res, nil
}

// cancelPaced PATCHes invoices cancelled one every healthyEvery until stop,
// noting when each was sent, and returns how many were.
func cancelPaced(ctx context.Context, c *http.Client, baseURL, key string, invs []created, sent []time.Time, stop <-chan struct{}) int {
	t := time.NewTicker(healthyEvery)
	defer t.Stop()
	body := []byte(`{"status":"cancelled","comment":"invoicebench storm"}`)
	n := 0
	for ; n < len(invs); n++ {
		select {
		case <-ctx.Done():
			return n
		case <-stop:
			return n
		case <-t.C:
		}
		req, err := apiRequest(ctx, http.MethodPatch, baseURL+"/api/v1/invoices/"+invs[n].ID, key, body)
		if err != nil {
			return n
		}
		sent[n] = time.Now()
		if err := send(c, req, nil); err != nil {
			sent[n] = time.Time{}
		}
	}
	return n
}

// stormReceiver returns the storm invoices' callback URL: a loopback port
// nothing listens on ("dead") or a server answering 200 after 9 s
// ("slow").
func stormReceiver(kind string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("storm receiver: %w", err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	switch kind {
	case "dead":
		ln.Close()
		return url, func() {}, nil
	case "slow":
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(slowReceiverDelay):
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusOK)
		})}
		go func() { _ = srv.Serve(ln) }()
		return url, func() { _ = srv.Close() }, nil
	}
	ln.Close()
	return "", nil, fmt.Errorf("storm receiver %q: want dead or slow", kind)
}
