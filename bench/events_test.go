package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/server"
)

func tinyEvents() EventConfig {
	return EventConfig{BlockOutputs: 15, Watched: 5, Blocks: 2, ExpiryInvoices: 12, RestartInvoices: 30, WebhookInvoices: 12, Settle: time.Minute}
}

func TestRun_EventScenariosTiny(t *testing.T) {
	events, _ := LookupScenarios("events")
	dataDir := t.TempDir()
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Config{
		Scenarios: events, Shape: Shape{Conns: 4}, Baseline: true, DataDir: dataDir, Progress: &progress, Events: tinyEvents(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Interrupted || len(rep.Baselines) != 0 || len(rep.Scenarios) != 4 || rep.ClientCeiling != nil || len(rep.Targets) != 0 {
		t.Fatalf("interrupted %v, %d baselines (want none without a request scenario), %d scenarios, ceiling %v, targets %v",
			rep.Interrupted, len(rep.Baselines), len(rep.Scenarios), rep.ClientCeiling, rep.Targets)
	}
	for _, r := range rep.Scenarios {
		if r.Errors != 0 || r.Requests == 0 || !r.Event() || r.VsTrivial != nil {
			t.Errorf("%s: %d done, %d errors %v, unit %q; want some done and no errors", r.Name, r.Requests, r.Errors, r.ErrorSamples, r.Unit)
		}
	}
	if p := rep.Scenario("payments"); p == nil || p.Payments == nil {
		t.Error("no payments figures")
	} else if f := p.Payments; p.Requests != 30 || f.Matched != 30 || f.MatchedPerSecond <= 0 || p.Throughput != f.MatchedPerSecond ||
		len(f.BlockToAllCompletedMs) != 2 || len(f.MineMs) != 2 || len(f.PayMs) != 2 || len(f.BlockToDispatchMs) != 2 ||
		f.BlockToCompleted.P99 <= 0 || f.BlockToCompleted.P99 > f.BlockToAllCompletedMs[0]+f.BlockToAllCompletedMs[1] ||
		f.WatchedAddresses < 35 || f.SeenInMempool > 30 || len(p.Series) == 0 {
		t.Errorf("payments: %d completed, figures %+v, %d points", p.Requests, *f, len(p.Series))
	}
	if e := rep.Scenario("expiry"); e == nil || e.Expiry == nil {
		t.Error("no expiry figures")
	} else if f := e.Expiry; e.Requests != 12 || f.AllExpiredMs <= 0 || f.FirstExpiredMs > f.AllExpiredMs || e.Latency.Max <= 0 || e.Throughput <= 0 {
		t.Errorf("expiry: %d expired, figures %+v, latency %+v", e.Requests, *f, e.Latency)
	}
	if r := rep.Scenario("restart"); r == nil || r.Restart == nil {
		t.Error("no restart figures")
	} else if f := r.Restart; f.Invoices != 30 || f.TimeToReadyMs <= 0 || f.FirstGetMs <= 0 || f.StartMs <= 0 || f.StartMs > f.TimeToReadyMs ||
		f.ShutdownMs <= 0 || f.StoreMB <= 0 || f.HeapAfterMB <= 0 || (runtime.GOOS == "linux" && (f.RSSBeforeMB <= 0 || f.RSSAfterMB <= 0 || f.PeakRSSMB < f.RSSAfterMB)) {
		t.Errorf("restart: figures %+v", *f)
	}
	if w := rep.Scenario("webhooks"); w == nil || w.Webhooks == nil {
		t.Error("no webhooks figures")
	} else if f := w.Webhooks; w.Requests != 12 || f.Delivered != 12 || f.Duplicates != 0 || f.DeliveriesPerSecond <= 0 ||
		f.CreateToDelivered.P50 <= 0 || f.PatchPerSecond <= 0 || f.LastDeliveryS <= 0 {
		t.Errorf("webhooks: figures %+v", *f)
	}
	if left, _ := os.ReadDir(dataDir); len(left) != 0 {
		t.Errorf("the run left %d entries in the data dir", len(left))
	}

	var table strings.Builder
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"event scenarios", "payments matched/s", "block → completed", "all expired after", "time to ready", "VmRSS", "deliveries/s", "PATCH → delivered"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if strings.Contains(table.String(), "req/s÷triv") {
		t.Errorf("an events-only table has the request table:\n%s", table.String())
	}
	b, _ := json.Marshal(rep)
	for _, key := range []string{`"payments_matched_per_second"`, `"block_to_completed_ms"`, `"block_to_all_completed_ms"`, `"all_expired_ms"`,
		`"time_to_ready_ms"`, `"rss_before_mb"`, `"deliveries_per_second"`, `"create_to_delivered_ms"`, `"unit":"payments"`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	var svg strings.Builder
	writeSVG(&svg, rep)
	if n := checkSVG(t, []byte(svg.String())); n != 0 {
		t.Errorf("%d polylines for event scenarios, want none (they are not requests)", n)
	}
}

func TestRun_ColdPayments(t *testing.T) {
	payments, _ := LookupScenarios("payments")
	rep, err := Run(context.Background(), Config{
		Scenarios: payments, Shape: Shape{Conns: 2}, DataDir: t.TempDir(),
		Events: EventConfig{BlockOutputs: 5, Blocks: 1, Cold: true, Settle: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Scenario("payments")
	if p == nil || p.Errors != 0 || p.Requests != 5 || !p.Payments.Cold {
		t.Fatalf("cold payments: %+v", p)
	}
}

func TestRun_WebhooksAgainstARunningServer(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	srv, err := server.Start(server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: key,
		DefaultExpireMin: 30, MaxExpireMin: 43200, AllowPrivateCallbacks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	webhooks, _ := LookupScenarios("webhooks")
	rep, err := Run(context.Background(), Config{
		Scenarios: webhooks, Shape: Shape{Conns: 2}, URL: "http://" + srv.Addr, AccountKey: key, DataDir: t.TempDir(),
		Events: EventConfig{WebhookInvoices: 6, Settle: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := rep.Scenario("webhooks")
	if w == nil || w.Errors != 0 || w.Webhooks.Delivered != 6 {
		t.Fatalf("webhooks by -url: %+v", w)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP invoiced_invoice_status_transitions_total Invoice status changes.
# TYPE invoiced_invoice_status_transitions_total counter
invoiced_invoice_status_transitions_total{from="new",to="completed"} 7
invoiced_invoice_status_transitions_total{from="pending",to="completed"} 3
invoiced_invoice_status_transitions_total{from="new",to="pending"} 3
invoiced_invoices{status="expired"} 1.2e+06
invoiced_watched_addresses 42
go_goroutines 12
`
	m, err := parseMetrics([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want []string
		v    float64
	}{
		{"invoiced_invoice_status_transitions_total", []string{`to="completed"`}, 10},
		{"invoiced_invoice_status_transitions_total", []string{`from="new"`, `to="pending"`}, 3},
		{"invoiced_invoice_status_transitions_total", []string{`to="new"`}, 0},
		{"invoiced_invoice_status_transitions_total", nil, 13},
		{"invoiced_invoices", []string{`status="expired"`}, 1.2e6},
		{"invoiced_watched_addresses", nil, 42},
		{"go_goroutines", nil, 0},
	} {
		if got := m.sum(tt.name, tt.want...); got != tt.v {
			t.Errorf("sum(%s, %v) = %v, want %v", tt.name, tt.want, got, tt.v)
		}
	}
	if _, err := parseMetrics([]byte("invoiced_x{a=\"b\"} nope\n")); err == nil {
		t.Error("a bad value must be an error")
	}
}

func TestCurve(t *testing.T) {
	cv := curve{base: 10, at: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 1500 * time.Millisecond, 2100 * time.Millisecond},
		v: []float64{10, 13, 14, 20}}
	h := NewHistogram()
	cv.record(h)
	if h.Count() != 10 || h.Min() != 40*time.Millisecond || h.Max() != 2100*time.Millisecond {
		t.Fatalf("histogram: %d values, %v..%v", h.Count(), h.Min(), h.Max())
	}
	if f, ok := cv.first(); !ok || f != 40*time.Millisecond {
		t.Errorf("first %v %v", f, ok)
	}
	if r, ok := cv.reached(20); !ok || r != 2100*time.Millisecond {
		t.Errorf("reached %v %v", r, ok)
	}
	if _, ok := cv.reached(21); ok {
		t.Error("reached a count never seen")
	}
	var total int64
	pts := cv.series(0)
	for _, p := range pts {
		total += p.Requests
	}
	if len(pts) != 3 || total != 10 || pts[0].Requests != 3 || pts[0].T != 1 {
		t.Errorf("series %+v", pts)
	}
}

func TestWebhookInvoice(t *testing.T) {
	if got := webhookInvoice("wh_01a20f78-6c1e-7d3a-9c55-2f0e4b1d8a90_3"); got != "01a20f78-6c1e-7d3a-9c55-2f0e4b1d8a90" {
		t.Fatal(got)
	}
}

func TestRun_StormTiny(t *testing.T) {
	storm, err := LookupScenarios("storm")
	if err != nil {
		t.Fatal(err)
	}
	if events, _ := LookupScenarios("events"); len(events) != 4 {
		t.Fatalf("the events group has %d scenarios; the storm runs only when named", len(events))
	}
	ev := tinyEvents()
	ev.StormInvoices, ev.StormReceiver = 40, "dead"
	rep, err := Run(context.Background(), Config{
		Scenarios: storm, Shape: Shape{Conns: 4, Duration: 300 * time.Millisecond}, DataDir: t.TempDir(), Events: ev,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Scenario("storm")
	if r == nil || r.Storm == nil {
		t.Fatal("no storm figures")
	}
	f := r.Storm
	if r.Errors != 0 || len(f.Windows) != stormWindows || f.Quiet.Creates <= 0 || f.CreateRatio <= 0 || f.P99Ratio <= 0 ||
		f.HealthySent == 0 || f.HealthyDelivered != f.HealthySent || f.HealthyToDelivered.P99 <= 0 {
		t.Fatalf("storm: %d errors %v, figures %+v", r.Errors, r.ErrorSamples, *f)
	}
	if last := f.Windows[len(f.Windows)-1]; last.Expired != 40 {
		t.Errorf("%v expired at the end, want the 40", last.Expired)
	}
	var table strings.Builder
	if err := writeEvents(&table, rep.Scenarios); err != nil || !strings.Contains(table.String(), "create ratio") {
		t.Errorf("table: %v\n%s", err, table.String())
	}
}
