package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/server"
)

// Config is one run, built once by cmd/invoicebench.
type Config struct {
	Scenarios []Scenario
	Shape     Shape
	// Invoices are created before the read scenarios (get, list, mixed).
	Invoices int
	// URL is a running server to drive, with AccountKey to create the run's
	// project; empty URL starts a server in-process on a temporary data dir.
	URL        string
	AccountKey string
	// DataDir is where the run's temporary directory goes (the in-process
	// store and the Pebble baseline, so both are on one filesystem); empty
	// means os.TempDir(). The temporary directory is removed afterwards.
	DataDir string
	// Baseline runs the trivial-handler and raw-Pebble baselines first.
	Baseline bool
	// Timeout bounds each request; 0 means 30s.
	Timeout time.Duration
	// Progress receives a line per second of every phase; nil = silence.
	Progress io.Writer
	// Events sizes the event scenarios (payments, expiry, restart,
	// webhooks); zero counts are refused for the ones that run.
	Events EventConfig
	// Litecoin, when set, makes the payments scenario pay LTC invoices
	// through this litecoind -regtest instead of BTC on the dev chain.
	Litecoin *LitecoinNode
}

// benchAccountKey is the in-process server's bootstrap account key. The
// server lives in a temporary directory for one run, so a fixed key is
// harmless and keeps the setup free of key files.
const benchAccountKey = "b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2"

func (c *Config) validate() error {
	var errs []error
	requests := hasRequestScenario(c.Scenarios)
	if c.Shape.Conns < 1 {
		errs = append(errs, fmt.Errorf("conns must be at least 1, got %d", c.Shape.Conns))
	}
	if c.Shape.Requests < 0 || c.Shape.Rate < 0 || c.Shape.Warmup < 0 || c.Invoices < 0 {
		errs = append(errs, errors.New("requests, rate, warmup and invoices cannot be negative"))
	}
	if requests && c.Shape.Requests == 0 && c.Shape.Duration <= 0 {
		errs = append(errs, errors.New("need a positive duration or a request count"))
	}
	if len(c.Scenarios) == 0 {
		errs = append(errs, errors.New("no scenario to run"))
	}
	for _, s := range c.Scenarios {
		if s.Seeded && c.Invoices < 1 {
			errs = append(errs, fmt.Errorf("scenario %s reads invoices: need at least 1 seeded invoice", s.Name))
			break
		}
	}
	if l := c.Litecoin; l != nil && (l.URL == "" || l.Cookie == "") {
		errs = append(errs, errors.New("litecoin: need the node's RPC URL and cookie file"))
	}
	ev := c.Events
	for _, s := range c.Scenarios {
		if s.InProcess && c.URL != "" {
			errs = append(errs, fmt.Errorf("scenario %s needs the in-process server (dev chain, settable clock or restart): run it without -url", s.Name))
		}
		positive := func(name string, v int) {
			if v < 1 {
				errs = append(errs, fmt.Errorf("scenario %s: %s must be at least 1, got %d", s.Name, name, v))
			}
		}
		switch s.Name {
		case "payments":
			positive("block outputs", ev.BlockOutputs)
			positive("blocks", ev.Blocks)
			if ev.Watched < 0 {
				errs = append(errs, fmt.Errorf("scenario payments: watched cannot be negative, got %d", ev.Watched))
			}
		case "expiry":
			positive("expiry invoices", ev.ExpiryInvoices)
		case "restart":
			positive("restart invoices", ev.RestartInvoices)
		case "webhooks":
			positive("webhook invoices", ev.WebhookInvoices)
		}
	}
	if ev.Settle < 0 {
		errs = append(errs, errors.New("settle cannot be negative"))
	}
	if c.URL != "" && c.AccountKey == "" {
		errs = append(errs, errors.New("an account key is needed with a server URL (to create the run's project)"))
	}
	return errors.Join(errs...)
}

func hasRequestScenario(ss []Scenario) bool {
	for _, s := range ss {
		if !s.Event() {
			return true
		}
	}
	return false
}

// Run does one benchmark run. Cancelling ctx (Ctrl-C) stops it early: the
// report then has every phase measured so far, the current one up to the
// interrupt, and Interrupted set. An error means the run could not start or
// its setup failed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Events.Settle <= 0 {
		cfg.Events.Settle = 2 * time.Minute
	}
	requests := hasRequestScenario(cfg.Scenarios)
	parent := cfg.DataDir
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	root, err := os.MkdirTemp(parent, "invoicebench-")
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	defer os.RemoveAll(root)

	r := &runner{cfg: cfg, progress: cfg.Progress}
	if r.progress == nil {
		r.progress = io.Discard
	}
	rep := &Report{
		Schema: 1, StartedAt: time.Now().UTC(),
		Machine: Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version()},
		Settings: Settings{
			Target: "in-process", Loop: "closed", Conns: cfg.Shape.Conns, Rate: cfg.Shape.Rate,
			Requests: cfg.Shape.Requests, WarmupS: cfg.Shape.Warmup.Seconds(), DataDir: parent,
			Scenarios: scenarioNames(cfg.Scenarios),
		},
		Baselines: []Result{}, Scenarios: []Result{},
	}
	if cfg.Shape.Requests == 0 {
		rep.Settings.DurationS = cfg.Shape.Duration.Seconds()
	}
	if cfg.Shape.OpenLoop() {
		rep.Settings.Loop = "open"
	}
	if cfg.URL != "" {
		rep.Settings.Target = cfg.URL
	}
	if cfg.URL != "" && cfg.Baseline && requests {
		rep.Notes = append(rep.Notes, "the baselines run on this machine; the server at "+cfg.URL+" may not share its filesystem or cores")
	}

	client := newClient(cfg.Shape.Conns, cfg.Timeout)
	defer client.CloseIdleConnections()
	env := &Env{Client: client, Nonce: strconv.FormatInt(time.Now().UnixNano(), 36)}

	baseURL := strings.TrimRight(cfg.URL, "/")
	accountKey := cfg.AccountKey
	// Request scenarios share one server (the -url one, or one in-process);
	// event scenarios start their own, but for webhooks with -url.
	if baseURL == "" && requests {
		srv, err := server.Start(server.Config{
			Listen: "127.0.0.1:0", DataDir: filepath.Join(root, "server"), Mode: "dev",
			BootstrapAccountKey: benchAccountKey, DefaultExpireMin: 30, MaxExpireMin: 43200,
			ActorIdle: 2 * time.Minute, StateCacheBytes: invoice.DefaultStateCacheBytes, RenderCacheBytes: invoice.DefaultRenderCacheBytes,
		})
		if err != nil {
			return nil, fmt.Errorf("start in-process server: %w", err)
		}
		defer func() {
			client.CloseIdleConnections()
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		env.Server, baseURL, accountKey = srv, "http://"+srv.Addr, srv.AccountKey
		r.logf("in-process server on %s, data in %s", baseURL, root)
	}
	env.BaseURL = baseURL
	if baseURL != "" {
		if env.ProjectKey, err = createProject(ctx, client, baseURL, accountKey, "invoicebench "+env.Nonce); err != nil {
			if ctx.Err() != nil {
				rep.Interrupted = true
				rep.finish()
				return rep, nil
			}
			return nil, err
		}
	}

	if needsSeed(cfg.Scenarios) {
		rep.Settings.Invoices = cfg.Invoices
		seed, err := r.seed(ctx, env, cfg.Invoices)
		if err != nil {
			if ctx.Err() != nil {
				rep.Interrupted = true
				rep.finish()
				return rep, nil
			}
			return nil, err
		}
		rep.Seed = seed
	}

	if cfg.Baseline && requests {
		for _, b := range []func(context.Context) (Result, bool, error){
			func(ctx context.Context) (Result, bool, error) { return r.trivial(ctx, client) },
			func(ctx context.Context) (Result, bool, error) {
				return r.pebble(ctx, filepath.Join(root, "pebble-baseline"))
			},
		} {
			if ctx.Err() != nil {
				break
			}
			res, ok, err := b(ctx)
			if err != nil {
				return nil, err
			}
			if ok {
				rep.Baselines = append(rep.Baselines, res)
			}
		}
	}
	events := &eventRun{cfg: cfg, ev: cfg.Events, root: root, client: client, logf: r.logf}
	if cfg.URL != "" {
		events.env = env
	}
	for _, s := range cfg.Scenarios {
		if ctx.Err() != nil {
			break
		}
		if s.Event() {
			res, err := s.Run(ctx, events)
			switch {
			case ctx.Err() != nil:
				// Interrupted: an event scenario has no partial figures.
			case err != nil:
				// Its setup failed: the report says so, and the run goes on.
				res = Result{Name: s.Name, Unit: eventUnits[s.Name]}
				res.noteErrors("setup", 1, err)
				r.logf("%-8s failed: %v", s.Name, err)
				rep.Scenarios = append(rep.Scenarios, res)
			default:
				rep.Scenarios = append(rep.Scenarios, res)
			}
			continue
		}
		ops := make([]Op, cfg.Shape.Conns)
		for w := range ops {
			ops[w] = s.NewOp(env, w)
		}
		waited, quiet := quiesce(ctx, env)
		if !quiet && ctx.Err() == nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the server's store was still flushing or compacting after %.1fs (or does not say): the phase shares the machine with that work", s.Name, waited.Seconds()))
		}
		r.logf("%-8s store quiet after %.1fs", s.Name, waited.Seconds())
		if res, ok := r.phase(ctx, s.Name, ops); ok {
			res.QuiesceS = waited.Seconds()
			rep.Scenarios = append(rep.Scenarios, res)
		}
	}
	rep.Interrupted = ctx.Err() != nil
	rep.finish()
	return rep, nil
}

func needsSeed(ss []Scenario) bool {
	for _, s := range ss {
		if s.Seeded {
			return true
		}
	}
	return false
}

// runner runs phases with one configuration and prints their progress.
type runner struct {
	cfg      Config
	progress io.Writer
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.progress, format+"\n", args...)
}

// phase warms up, then measures ops with the run's shape. It reports false
// when interrupted before the measurement began.
func (r *runner) phase(ctx context.Context, name string, ops []Op) (Result, bool) {
	sh := r.cfg.Shape
	if sh.Warmup > 0 {
		r.logf("%-8s warmup %v", name, sh.Warmup)
		drive(ctx, Shape{Conns: sh.Conns, Duration: sh.Warmup, Rate: sh.Rate}, ops, nil)
	}
	if ctx.Err() != nil {
		return Result{}, false
	}
	return r.measure(ctx, name, sh, ops), true
}

func (r *runner) measure(ctx context.Context, name string, sh Shape, ops []Op) Result {
	m := drive(ctx, sh, ops, func(p Point) {
		r.logf("%-8s %5.1fs %9.0f req/s  p50 %-8s p99 %-8s max %-8s errors %d",
			name, p.T, p.Throughput, fmtMs(p.P50), fmtMs(p.P99), fmtMs(p.Max), p.Errors)
	})
	res := m.result(name)
	r.logf("%-8s done: %d ok, %d errors, %.0f req/s, p99 %s", name, res.Requests, res.Errors, res.Throughput, fmtMs(res.Latency.P99))
	return res
}

// seed creates n invoices with up to Conns workers and keeps their ids.
func (r *runner) seed(ctx context.Context, env *Env, n int) (*Seed, error) {
	workers := min(r.cfg.Shape.Conns, n)
	env.SeededAt = time.Now()
	ids := make([][]string, workers)
	ops := make([]Op, workers)
	for w := range ops {
		prefix := env.Nonce + "-s" + strconv.Itoa(w) + "-"
		var k uint64
		ops[w] = func(ctx context.Context) error {
			k++
			var inv struct {
				InvoiceID string `json:"invoice_id"`
			}
			err := callJSON(ctx, env.Client, "POST", env.BaseURL+"/api/v1/invoices", env.ProjectKey, invoiceBody(prefix+strconv.FormatUint(k, 10), k), &inv)
			if err == nil {
				ids[w] = append(ids[w], inv.InvoiceID)
			}
			return err
		}
	}
	r.logf("seeding %d invoices", n)
	m := drive(ctx, Shape{Conns: workers, Requests: int64(n)}, ops, nil)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.errors > 0 {
		for kind, msg := range m.errSamples {
			return nil, fmt.Errorf("seed invoices: %d of %d failed (%s: %s)", m.errors, n, kind, msg)
		}
	}
	for _, part := range ids {
		env.Invoices = append(env.Invoices, part...)
	}
	res := m.result("seed")
	r.logf("seeded %d invoices in %.1fs (%.0f creates/s)", len(env.Invoices), res.ElapsedS, res.Throughput)
	return &Seed{Invoices: len(env.Invoices), Seconds: res.ElapsedS, Throughput: res.Throughput}, nil
}

func (r *runner) trivial(ctx context.Context, c *http.Client) (Result, bool, error) {
	ts, err := startTrivial()
	if err != nil {
		return Result{}, false, err
	}
	defer ts.close()
	ops := make([]Op, r.cfg.Shape.Conns)
	for w := range ops {
		ops[w] = ts.op(c)
	}
	res, ok := r.phase(ctx, baselineTrivial, ops)
	return res, ok, nil
}

func (r *runner) pebble(ctx context.Context, dir string) (Result, bool, error) {
	pb, err := openPebbleBaseline(dir)
	if err != nil {
		return Result{}, false, err
	}
	ops := make([]Op, r.cfg.Shape.Conns)
	for w := range ops {
		ops[w] = pb.op(w)
	}
	res, ok := r.phase(ctx, baselinePebble, ops)
	if err := pb.close(); err != nil {
		return Result{}, false, fmt.Errorf("pebble baseline: close: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return Result{}, false, fmt.Errorf("pebble baseline: %w", err)
	}
	return res, ok, nil
}
