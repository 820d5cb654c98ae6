package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/server"
)

// Event scenarios (payments, expiry, restart, webhooks) are not streams of
// requests: each sets up its own load (invoices, a dev chain block, a clock
// jump, a restart, a burst of status changes), then measures how long the
// engine takes to work through it, by polling /metrics or by recording
// what arrives at a webhook sink. Each starts a server of its own,
// in-process, on a fresh data dir (the webhooks scenario drives the -url
// server instead when one is given), so its figures do not depend on which
// scenarios ran before it.

// EventConfig sizes the event scenarios.
type EventConfig struct {
	// BlockOutputs is how many invoices each payments block pays.
	BlockOutputs int
	// Watched is how many more invoices (unpaid, same currency) the
	// payments scenario creates first, so each block is matched against
	// BlockOutputs×Blocks+Watched watched addresses.
	Watched int
	// Blocks is how many blocks the payments scenario mines, one at a time.
	Blocks int
	// Cold makes the payments scenario wait until no invoice actor is in
	// memory before paying, as in production where a block arrives minutes
	// after checkout. A create spawns no actor, so this only matters for
	// actors something else woke (a payment seen in a mempool, say).
	Cold bool
	// ExpiryInvoices expire at the same instant in the expiry scenario.
	ExpiryInvoices int
	// RestartInvoices are on disk when the restart scenario restarts.
	RestartInvoices int
	// WebhookInvoices are cancelled, one webhook each, in the webhooks
	// scenario.
	WebhookInvoices int
	// StormInvoices expire at one instant in the storm scenario, their
	// webhooks going to a StormReceiver that is "dead" or "slow" (9 s).
	StormInvoices int
	StormReceiver string
	// Settle bounds each wait for payments, expiries or deliveries; what
	// has not happened by then counts as errors. 0 means 2 minutes.
	Settle time.Duration
}

// DefaultEventConfig is the command line's defaults.
func DefaultEventConfig() EventConfig {
	return EventConfig{
		BlockOutputs: 10_000, Blocks: 3, ExpiryInvoices: 10_000, RestartInvoices: 100_000,
		WebhookInvoices: 5_000, StormInvoices: 100_000, StormReceiver: "dead", Settle: 2 * time.Minute,
	}
}

// The event scenarios' figures, beside Result's common ones.

// PaymentsFigures is the payments scenario: blocks paying invoices.
type PaymentsFigures struct {
	Blocks       int `json:"blocks"`
	BlockOutputs int `json:"block_outputs"`
	ExtraWatched int `json:"extra_watched"`
	// WatchedAddresses is invoiced_watched_addresses before the first
	// block: every address a block's outputs were matched against.
	WatchedAddresses int64 `json:"watched_addresses"`
	Cold             bool  `json:"cold"`
	// Chain is where the payments were made and mined: "dev chain" or
	// "litecoind" (a real node, polled every 20 ms).
	Chain string `json:"chain"`
	// SetupS is the time spent creating the invoices (not measured).
	SetupS float64 `json:"setup_s"`
	// MatchedPerSecond is every payment over the sum of the blocks' mine →
	// all completed times.
	MatchedPerSecond float64 `json:"payments_matched_per_second"`
	// BlockToAllCompletedMs is, per block, from Mine returning to
	// every invoice it paid counted completed on /metrics.
	BlockToAllCompletedMs []float64 `json:"block_to_all_completed_ms"`
	// BlockToCompleted is per invoice (Result.Latency is the same): from
	// Mine returning to the /metrics sample that first counted it.
	BlockToCompleted Latency `json:"block_to_completed_ms"`
	// BlockToDispatchMs is, per block, updated_at of its paid invoices
	// after Mine returned: when the monitor's round that applied the block
	// began its dispatch (every invoice of a round gets the round's time;
	// before it, the round read the block and saved its state).
	BlockToDispatchMs []float64 `json:"block_to_dispatch_ms"`
	// PayMs is, per block, putting its payments into the mempool (one
	// devchain Pay each): the window in which the monitor may see them
	// unconfirmed.
	PayMs []float64 `json:"pay_ms"`
	// MineMs is devchain Mine itself per block (it writes the dev chain
	// file): before the measured time, which starts when it returns.
	MineMs []float64 `json:"mine_ms"`
	// SeenInMempool counts invoices the monitor saw paid (new → pending)
	// before their block: the payments go into the mempool first, and the
	// monitor may read it between the first Pay and Mine.
	SeenInMempool int64 `json:"seen_in_mempool"`
	// Matched is the rise of invoiced_chain_payments_matched_total.
	Matched          int64   `json:"matched"`
	SampleIntervalMs float64 `json:"sample_interval_ms"`
}

// ExpiryFigures is the expiry scenario: invoices expiring at one instant.
type ExpiryFigures struct {
	Invoices        int     `json:"invoices"`
	SetupS          float64 `json:"setup_s"`
	ExpiryIntervalS float64 `json:"expiry_interval_s"`
	// FirstExpiredMs and AllExpiredMs count from the clock jump past
	// expires_at to the /metrics sample showing the first and the last
	// invoice expired (invoiced_invoices{status="expired"}).
	FirstExpiredMs float64 `json:"first_expired_ms"`
	AllExpiredMs   float64 `json:"all_expired_ms"`
	// ExpiredPerSecond is invoices over (all - first): the rate once the
	// scan found them, without the wait for the next scan.
	ExpiredPerSecond float64 `json:"expired_per_second"`
	SampleIntervalMs float64 `json:"sample_interval_ms"`
}

// RestartFigures is the restart scenario: recovery on the same data dir.
type RestartFigures struct {
	Invoices int     `json:"invoices"`
	SetupS   float64 `json:"setup_s"`
	StoreMB  float64 `json:"store_mb"` // the data dir on disk at shutdown
	// ShutdownMs is Shutdown (drain, actors, store close).
	ShutdownMs float64 `json:"shutdown_ms"`
	// StartMs, TimeToReadyMs and FirstGetMs count from calling
	// server.Start again: to its return (listening), to the first /readyz
	// 200, to the first 200 GET of an invoice created before the restart.
	StartMs       float64 `json:"start_ms"`
	TimeToReadyMs float64 `json:"time_to_ready_ms"`
	FirstGetMs    float64 `json:"first_get_ms"`
	// VmRSS of this process (client and server), each read after a GC that
	// returns freed memory to the OS: before the shutdown (every invoice
	// actor passivated), after it, and once ready again.
	RSSBeforeMB        float64 `json:"rss_before_mb"`
	RSSAfterShutdownMB float64 `json:"rss_after_shutdown_mb"`
	RSSAfterMB         float64 `json:"rss_after_mb"`
	// PeakRSSMB is the process's peak VmRSS (VmHWM) over the whole run:
	// the setup's creates at full load included.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// ServerBeforeMB and ServerAfterMB are the server's share: VmRSS before
	// the shutdown and once ready again, less VmRSS after the shutdown
	// (what the rest of the process holds: the client, and the servers of
	// scenarios that ran before, whose actors' idle timers keep some of
	// their memory for up to 2 minutes).
	ServerBeforeMB float64 `json:"server_before_mb"`
	ServerAfterMB  float64 `json:"server_after_mb"`
	// Go heap in use at the same three points.
	HeapBeforeMB        float64 `json:"heap_before_mb"`
	HeapAfterShutdownMB float64 `json:"heap_after_shutdown_mb"`
	HeapAfterMB         float64 `json:"heap_after_mb"`
}

// WebhookFigures is the webhooks scenario: one status_changed webhook per
// invoice, triggered by PATCH cancel.
type WebhookFigures struct {
	Invoices int     `json:"invoices"`
	SetupS   float64 `json:"setup_s"`
	// Delivered counts distinct X-Webhook-Id at the sink; Duplicates the
	// repeated ones (at-least-once delivery).
	Delivered  int64 `json:"delivered"`
	Duplicates int64 `json:"duplicates"`
	// PatchS is how long sending every PATCH took, PatchPerSecond their
	// rate (conns at once).
	PatchS         float64 `json:"patch_s"`
	PatchPerSecond float64 `json:"patch_per_second"`
	// DeliveriesPerSecond is Delivered over first PATCH sent → last
	// delivery.
	DeliveriesPerSecond float64 `json:"deliveries_per_second"`
	// CreateToDelivered (Result.Latency too): from sending the PATCH that
	// creates the webhook (in its commit) to its arrival at the sink.
	CreateToDelivered Latency `json:"create_to_delivered_ms"`
	LastDeliveryS     float64 `json:"last_delivery_s"`
}

// eventRun is what an event scenario gets.
type eventRun struct {
	cfg    Config
	ev     EventConfig
	root   string // the run's temporary directory
	env    *Env   // the -url target and its project; nil in-process
	client *http.Client
	logf   func(format string, args ...any)
}

// scenarioServer is an in-process server of one event scenario with the
// run's project on it.
type scenarioServer struct {
	srv        *server.Server
	cfg        server.Config
	baseURL    string
	projectKey string
}

func (x *eventRun) serverConfig(name string) server.Config {
	return server.Config{
		Listen: "127.0.0.1:0", DataDir: filepath.Join(x.root, name), Mode: "dev",
		BootstrapAccountKey: benchAccountKey, DefaultExpireMin: 30, MaxExpireMin: 43200,
		ActorIdle: 2 * time.Minute, StateCacheBytes: invoice.DefaultStateCacheBytes, RenderCacheBytes: invoice.DefaultRenderCacheBytes,
	}
}

// startServer starts cfg in-process and creates a project on it.
func (x *eventRun) startServer(ctx context.Context, cfg server.Config) (*scenarioServer, error) {
	srv, err := server.Start(cfg)
	if err != nil {
		return nil, fmt.Errorf("start in-process server: %w", err)
	}
	s := &scenarioServer{srv: srv, cfg: cfg, baseURL: "http://" + srv.Addr}
	if s.projectKey, err = createProject(ctx, x.client, s.baseURL, srv.AccountKey, "invoicebench "+filepath.Base(cfg.DataDir)); err != nil {
		s.stop()
		return nil, err
	}
	x.logf("in-process server on %s, data in %s", s.baseURL, cfg.DataDir)
	return s, nil
}

func (s *scenarioServer) stop() {
	if s == nil || s.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.srv = nil
}

// created is what the benchmark keeps of an invoice it created.
type created struct {
	ID      string
	Address string
	Units   *big.Int // crypto_amount_in_units: what pays it exactly
}

// eventBody is a create request of the event scenarios: a crypto amount
// (so no exchange rate is involved), an explicit expiry and optionally a
// callback URL.
func eventBody(orderID, currency, amount string, expireMin int, callback string) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"order_id":"`...)
	b = append(b, orderID...)
	b = append(b, `","currency":"`...)
	b = append(b, currency...)
	b = append(b, `","crypto_amount":"`...)
	b = append(b, amount...)
	b = append(b, `","expire_min":`...)
	b = strconv.AppendInt(b, int64(expireMin), 10)
	if callback != "" {
		b = append(b, `,"callback_url":"`...)
		b = append(b, callback...)
		b = append(b, '"')
	}
	b = append(b, '}')
	return b
}

// createInvoices creates n invoices with up to conns requests at once,
// body(i) being the i-th, and returns them in order. Any failure fails it.
func (x *eventRun) createInvoices(ctx context.Context, label, baseURL, key string, n int, body func(i int) []byte) ([]created, time.Duration, error) {
	out := make([]created, n)
	if n == 0 {
		return out, 0, nil
	}
	workers := min(x.cfg.Shape.Conns, n)
	var next atomic.Int64
	url := baseURL + "/api/v1/invoices"
	ops := make([]Op, workers)
	for w := range ops {
		ops[w] = func(ctx context.Context) error {
			i := int(next.Add(1) - 1)
			var inv struct {
				InvoiceID  string      `json:"invoice_id"`
				Units      json.Number `json:"crypto_amount_in_units"`
				Blockchain struct {
					Address string `json:"blockchainAddress"`
				} `json:"blockchain_details"`
			}
			if err := callJSON(ctx, x.client, http.MethodPost, url, key, body(i), &inv); err != nil {
				return err
			}
			units, ok := new(big.Int).SetString(inv.Units.String(), 10)
			if !ok || inv.InvoiceID == "" {
				return fmt.Errorf("create: answer without invoice_id or crypto_amount_in_units")
			}
			out[i] = created{ID: inv.InvoiceID, Address: inv.Blockchain.Address, Units: units}
			return nil
		}
	}
	x.logf("%-8s creating %d invoices", label, n)
	start := time.Now()
	m := drive(ctx, Shape{Conns: workers, Requests: int64(n)}, ops, func(p Point) {
		x.logf("%-8s setup %5.1fs %6.0f creates/s", label, p.T, p.Throughput)
	})
	took := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, took, err
	}
	if m.errors > 0 {
		for kind, msg := range m.errSamples {
			return nil, took, fmt.Errorf("%s: create invoices: %d of %d failed (%s: %s)", label, m.errors, n, kind, msg)
		}
	}
	x.logf("%-8s created %d invoices in %.1fs (%.0f creates/s)", label, n, took.Seconds(), float64(n)/took.Seconds())
	return out, took, nil
}

// forEach calls fn(i) once for each i in [0, n), up to conns at once, and
// returns the tally (successes, errors by kind).
func (x *eventRun) forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) *measurement {
	workers := min(x.cfg.Shape.Conns, n)
	var next atomic.Int64
	ops := make([]Op, workers)
	for w := range ops {
		ops[w] = func(ctx context.Context) error { return fn(ctx, int(next.Add(1)-1)) }
	}
	return drive(ctx, Shape{Conns: workers, Requests: int64(n)}, ops, nil)
}

// metricsSample is a /metrics scrape: every invoiced_ sample.
type metricsSample struct {
	lines []metricLine
}

type metricLine struct {
	name   string
	labels string // the text between the braces, as exposed
	value  float64
}

// sum adds the values of name whose labels contain every label="value" of
// want.
func (m metricsSample) sum(name string, want ...string) float64 {
	var total float64
	for _, l := range m.lines {
		if l.name != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !hasLabel(l.labels, w) {
				ok = false
				break
			}
		}
		if ok {
			total += l.value
		}
	}
	return total
}

// lookup is sum(name) with whether the scrape has name at all, in one pass.
func (m metricsSample) lookup(name string) (total float64, found bool) {
	for _, l := range m.lines {
		if l.name == name {
			total, found = total+l.value, true
		}
	}
	return total, found
}

// hasLabel reports whether the exposed label text has the pair kv
// (`to="completed"`), as a whole pair.
func hasLabel(labels, kv string) bool {
	for rest := labels; ; {
		i := strings.Index(rest, kv)
		if i < 0 {
			return false
		}
		end := i + len(kv)
		if (i == 0 || rest[i-1] == ',') && (end == len(rest) || rest[end] == ',') {
			return true
		}
		rest = rest[i+1:]
	}
}

// parseMetrics reads the Prometheus text format, keeping invoiced_ lines.
// Label values here are statuses, currencies and networks: no escapes.
func parseMetrics(b []byte) (metricsSample, error) {
	var m metricsSample
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "invoiced_") {
			continue
		}
		var l metricLine
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return m, fmt.Errorf("metrics: bad line %q", line)
			}
			l.name, l.labels, rest = line[:i], line[i+1:j], line[j+1:]
		} else if i >= 0 {
			l.name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return m, fmt.Errorf("metrics: bad line %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return m, fmt.Errorf("metrics: bad value in %q", line)
		}
		l.value = v
		m.lines = append(m.lines, l)
	}
	return m, sc.Err()
}

// scrape GETs baseURL/metrics.
func scrape(ctx context.Context, c *http.Client, baseURL string) (metricsSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return metricsSample{}, err
	}
	var buf bytes.Buffer
	if err := send(c, req, &buf); err != nil {
		return metricsSample{}, fmt.Errorf("scrape /metrics: %w", err)
	}
	return parseMetrics(buf.Bytes())
}

// sampleInterval is how often the event scenarios scrape /metrics while
// they wait: the resolution of their per-invoice latencies. A scrape costs
// a millisecond or two of server CPU.
const sampleInterval = 20 * time.Millisecond

// curve is a count sampled over time: the i-th value was seen at at[i]
// after the start.
type curve struct {
	base float64 // the count at the start
	at   []time.Duration
	v    []float64
}

// waitCount scrapes every sampleInterval until value reaches target or
// settle passes, and returns the samples, counted from start. Progress
// goes to logf once a second.
func waitCount(ctx context.Context, c *http.Client, baseURL string, start time.Time, base, target float64,
	settle time.Duration, value func(metricsSample) float64, progress func(elapsed time.Duration, v float64)) (curve, error) {
	cv := curve{base: base}
	deadline := start.Add(settle)
	lastLog := start
	tick := time.NewTicker(sampleInterval)
	defer tick.Stop()
	for {
		m, err := scrape(ctx, c, baseURL)
		if err != nil {
			return cv, err
		}
		now := time.Now()
		v := value(m)
		cv.at, cv.v = append(cv.at, now.Sub(start)), append(cv.v, v)
		if v >= target || !now.Before(deadline) {
			return cv, nil
		}
		if progress != nil && now.Sub(lastLog) >= time.Second {
			progress(now.Sub(start), v-base)
			lastLog = now
		}
		select {
		case <-ctx.Done():
			return cv, ctx.Err()
		case <-tick.C:
		}
	}
}

// record adds each counted item to h at the time of the sample that first
// showed it.
func (cv curve) record(h *Histogram) {
	prev := cv.base
	for i, v := range cv.v {
		for n := int64(v - prev); n > 0; n-- {
			h.Record(cv.at[i])
		}
		prev = max(prev, v)
	}
}

// first is when the count first rose above the start; reached when it got
// to target. ok is false if it never did.
func (cv curve) first() (time.Duration, bool) {
	for i, v := range cv.v {
		if v > cv.base {
			return cv.at[i], true
		}
	}
	return 0, false
}

func (cv curve) reached(target float64) (time.Duration, bool) {
	for i, v := range cv.v {
		if v >= target {
			return cv.at[i], true
		}
	}
	return 0, false
}

func (cv curve) last() float64 {
	if len(cv.v) == 0 {
		return cv.base
	}
	return cv.v[len(cv.v)-1]
}

// series turns the curve into per-second points (counted items per
// second), like a request phase's series.
func (cv curve) series(offset time.Duration) []Point {
	var out []Point
	prev, sec := cv.base, time.Duration(0)
	var n int64
	flush := func(end time.Duration) {
		// A last partial second is at least one sample interval long.
		dt := max(end-sec, sampleInterval).Seconds()
		out = append(out, Point{T: (offset + end).Seconds(), Requests: n, Throughput: float64(n) / dt})
		sec, n = end, 0
	}
	for i, v := range cv.v {
		for cv.at[i] >= sec+time.Second {
			flush(sec + time.Second)
		}
		if d := int64(v - prev); d > 0 {
			n += d
		}
		prev = max(prev, v)
	}
	if len(cv.at) > 0 && (n > 0 || len(out) == 0) {
		flush(cv.at[len(cv.at)-1])
	}
	return out
}

// latencyOf is h's distribution in the report's form.
func latencyOf(h *Histogram) Latency {
	return Latency{
		P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

// vmRSS is this process's resident set in MB from /proc/self/status; 0
// where there is none.
func vmRSS() float64 { return procStatusMB("VmRSS:") }

// vmHWM is this process's peak resident set so far, in MB (0 where
// /proc is not available).
func vmHWM() float64 { return procStatusMB("VmHWM:") }

// procStatusMB reads a kB field of /proc/self/status in MB.
func procStatusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	return 0
}

// dirMB is the size of the files under dir in MB.
func dirMB(dir string) float64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return float64(total) / (1 << 20)
}

// benchClock is a settable clock for Config.Clock: frozen at a time, or
// running from a time. Waits (After) take real time: nothing the benchmark
// runs waits on the server's clock.
type benchClock struct {
	mu     sync.Mutex
	frozen bool
	at     time.Time // frozen: the time; running: the time at since
	since  time.Time
}

func (c *benchClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *benchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frozen {
		return c.at
	}
	return c.at.Add(time.Since(c.since))
}

// freeze stops the clock at t.
func (c *benchClock) freeze(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen, c.at = true, t
}

// run restarts the clock from t.
func (c *benchClock) run(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frozen, c.at, c.since = false, t, time.Now()
}
