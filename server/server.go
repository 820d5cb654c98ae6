// Package server assembles invoiced from its parts (store, accounts, rates,
// actors, HTTP API) and runs it on a listener. cmd/invoiced is a thin
// command line over it; the load benchmark and crash tests start the same
// server in-process, so what they measure is what operators run.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/actors/chainwatch"
	"github.com/invoiced/invoiced/actors/expiry"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/actors/webhook"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/chain/hd"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/http/checkout"
	"github.com/invoiced/invoiced/internal/admission"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
	"github.com/invoiced/invoiced/webhooks"
)

// AccountKeyFile is where dev mode keeps the generated account key.
const AccountKeyFile = "account.key"

// Config is every setting of the server.
type Config struct {
	Listen              string // host:port; port 0 picks a free one
	DataDir             string
	Mode                string // "dev" or "prod"
	BootstrapAccountKey string
	DefaultExpireMin    int
	MaxExpireMin        int
	DefaultErrorPercent int
	// Currencies are the enabled currency codes (nil = all built in). In
	// prod mode only those with a configured chain are served.
	Currencies []string
	// RateProviders names the exchange-rate providers ("kraken",
	// "coingecko", "bitstamp"); none means offline (the static table).
	RateProviders []string
	// RateOverrides are static EUR rates: over the defaults offline, pinned
	// pairs with providers.
	RateOverrides map[string]string
	// RateInterval and RateStaleness: provider refresh interval and how old
	// a rate may be (defaults 1 min, 5 min).
	RateInterval, RateStaleness time.Duration
	// Bitcoin, when set, is the BTC node and extended public key; in dev
	// mode currencies without a real node use the dev chain.
	Bitcoin *BitcoinNode
	// Litecoin, when set, is the LTC node (litecoind) and extended public
	// key.
	Litecoin *BitcoinNode
	// Ethereum, when set, is the ETH (and USDT) node and extended public key.
	Ethereum  *EthereumNode
	ActorIdle time.Duration
	// StateCacheBytes bounds the heap of the recently committed invoice
	// states reads are served from (0 = none, as on the command line,
	// whose default is invoice.DefaultStateCacheBytes).
	StateCacheBytes int64
	// RenderCacheBytes bounds the heap of the API JSON of recently read
	// invoices, which GETs and list pages copy instead of rendering again
	// (0 = none; the command line's default is
	// invoice.DefaultRenderCacheBytes).
	RenderCacheBytes int64
	// BlockCacheBytes is the store's block cache (Pebble's, off the Go
	// heap; 0 = persistence's default).
	BlockCacheBytes       int64
	TrustedProxies        []netip.Prefix
	AllowPrivateCallbacks bool
	EnableSimulate        bool
	// PprofListen, when set, serves net/http/pprof on this separate address
	// (e.g. 127.0.0.1:6060; port 0 picks a free one). Empty: no pprof.
	PprofListen string
	// Confirmations overrides the required confirmations per currency (dev
	// mode defaults every currency to 1).
	Confirmations map[string]int
	// MaxAmounts lowers the largest invoice amount per currency code below
	// the currency's own bound (its supply cap, or engine's documented
	// bound), as a decimal in whole coins: "BTC": "10".
	MaxAmounts map[string]string
	// WatchGrace is how long a final invoice's address stays watched.
	WatchGrace time.Duration
	// ChainPoll is how often chain monitors poll their node (default 1 s;
	// the dev chain also wakes them on every change).
	ChainPoll time.Duration
	// ChainCatchUpRate bounds the blocks a chain monitor reads per second
	// while it catches up (0 = chainwatch.DefaultCatchUpRate).
	ChainCatchUpRate int
	// AutoMine mines a dev chain block per currency every interval (0 = off).
	AutoMine time.Duration
	// ExpiryInterval is how often the expiry schedule is scanned (default 1 s).
	ExpiryInterval time.Duration
	// ExpiryRate and ExpiryWorkers are the expiry scheduler's budget:
	// expiries per second and in flight (defaults expiry.DefaultRate and
	// expiry.DefaultWorkers).
	ExpiryRate, ExpiryWorkers int
	// BackgroundFloor is the least factor background rates are multiplied
	// by while the API needs the CPU or the LSM is behind, in (0, 1]
	// (0 = admission.DefaultFloor; 1 = fixed rates, no elasticity).
	BackgroundFloor float64
	// WebhookInterval is how often the webhook schedule is scanned when no
	// commit or finished attempt wakes the webhook deliverer (default 1 s).
	WebhookInterval time.Duration
	// WebhookWorkers bounds webhook attempts in flight (default 32).
	WebhookWorkers int
	// WebhookAttemptTimeout bounds one webhook attempt (default 10 s).
	WebhookAttemptTimeout time.Duration
	// WebhookPerHost bounds the webhook attempts in flight to one host:port,
	// in the deliverer and its sender alike (default
	// webhook.DefaultPerHost).
	WebhookPerHost int
	// WebhookBreaker spaces out attempts to a host that keeps failing.
	WebhookBreaker webhook.BreakerConfig
	// RateLimit and RateBurst: each API key's sustained requests per second
	// and burst (429 beyond; 0 = off). MaxConcurrent caps API requests in
	// flight (503 beyond; 0 = off).
	RateLimit     float64
	RateBurst     int
	MaxConcurrent int
	// PublicURL is the base URL customers reach the server at, for
	// checkout_url and qrcode (no trailing slash; empty = http:// and the
	// address listened on).
	PublicURL string
	// CheckoutFrameAncestors is the checkout page's CSP frame-ancestors
	// (empty = "*": any shop may frame it).
	CheckoutFrameAncestors string
	// Explorers maps a currency to a block explorer transaction URL with
	// {txid}, linked from the checkout page.
	Explorers map[string]string
	// CheckoutMaxStreams caps the checkout page's live status streams in
	// total (503 beyond) and CheckoutMaxStreamsPerIP those of one client
	// IP (429 beyond); each open page holds one. 0 = the defaults,
	// checkout.DefaultMaxStreams and checkout.DefaultMaxStreamsPerIP.
	CheckoutMaxStreams, CheckoutMaxStreamsPerIP int
	// Clock is the time of every decision, schedule and rate limit (nil =
	// the wall clock); tests move it.
	Clock  clock.Clock
	Logger *slog.Logger // nil = discard
	// Stdout receives the lines meant for the person who started the
	// server: where it listens and, once, a generated account key.
	Stdout io.Writer
}

// Server is a running invoiced.
type Server struct {
	// Addr is the address the API listens on.
	Addr string
	// PprofAddr is the address pprof listens on; empty when not configured.
	PprofAddr string
	// AccountKey is the bootstrap account's key when this process knows it
	// (configured, or generated or read in dev mode); empty otherwise.
	AccountKey string

	log      *slog.Logger
	ctx      context.Context    // lives until Shutdown
	cancel   context.CancelFunc // stops monitors, scheduler, rates and auto-mining
	metrics  *prometheus.Registry
	store    *persistence.Store
	accounts *accounts.Service
	system   *actors.System
	invoices *invoice.Service
	dev      devNetwork
	api      *httpapi.Server
	http     *http.Server
	pprof    *http.Server // nil unless Config.PprofListen is set
	served   chan error

	// Backups (backup.go): the data dir, the clock that names a backup and
	// the watch grace the check of the copy applies. backupMu is held
	// while a backup is written and by close, so the store is never closed
	// under a checkpoint; storeClosed, set by close under it, refuses later
	// backups.
	dataDir     string
	clock       clock.Clock
	watchGrace  time.Duration
	backupMu    sync.Mutex
	storeClosed bool
}

// Start opens the store, wires the parts and starts serving. On error
// everything opened so far is closed again.
func Start(cfg Config) (_ *Server, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// Chains first: a bad xpub or node URL refuses to start before anything
	// is opened.
	ch, err := buildChains(cfg, cfg.Currencies)
	if err != nil {
		return nil, err
	}
	enabled := ch.currencies(cfg.Currencies)
	for code := range cfg.Explorers {
		if !slices.Contains(enabled, code) {
			return nil, fmt.Errorf("block explorer for %q, which is not an enabled currency", code)
		}
	}
	rules, err := buildRules(cfg, enabled, ch.addressPattern)
	if err != nil {
		return nil, err
	}
	s := &Server{log: cfg.Logger, served: make(chan error, 1), dev: ch.dev, metrics: prometheus.NewRegistry(), dataDir: cfg.DataDir, clock: cfg.Clock, watchGrace: cfg.WatchGrace}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.openStore(cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	accts, err := s.startAccounts(cfg)
	if err != nil {
		return nil, err
	}
	rateSource, err := s.startRates(cfg, enabled)
	if err != nil {
		return nil, err
	}
	// Listen before the parts that link to the checkout page are built: the
	// default public URL is the address actually listened on (port 0 picks
	// one).
	ln, err := s.listen(&cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	parts, err := s.startActors(cfg, rules, rateSource, accts, ch, enabled)
	if err != nil {
		return nil, err
	}
	if cfg.AutoMine > 0 {
		ch.autoMineAll(s, cfg.AutoMine)
	}
	if err := s.startHTTP(cfg, ln, accts, rules, rateSource, parts); err != nil {
		return nil, err
	}
	return s, nil
}

// withDefaults fills the zero fields of cfg and refuses a bad mode.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Mode != "dev" && cfg.Mode != "prod" {
		return cfg, fmt.Errorf("mode %q: want dev or prod", cfg.Mode)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Currencies == nil {
		for _, c := range engine.DefaultCurrencies() {
			cfg.Currencies = append(cfg.Currencies, c.Code)
		}
	}
	if cfg.WebhookPerHost <= 0 {
		cfg.WebhookPerHost = webhook.DefaultPerHost
	}
	return cfg, nil
}

func (s *Server) openStore(cfg Config) error {
	store, err := persistence.Open(filepath.Join(cfg.DataDir, "store"), persistence.Options{Logger: cfg.Logger, CacheBytes: cfg.BlockCacheBytes, Clock: cfg.Clock})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.store = store
	s.metrics.MustRegister(s.store.Collector())
	return nil
}

// startAccounts opens the accounts and makes sure the bootstrap account
// exists.
func (s *Server) startAccounts(cfg Config) (*accounts.Service, error) {
	accts, err := accounts.New(s.store, cfg.Clock, cfg.Logger.With("component", "accounts"))
	if err != nil {
		return nil, fmt.Errorf("open accounts: %w", err)
	}
	s.accounts = accts
	if s.AccountKey, err = bootstrapAccount(cfg, accts, cfg.Logger); err != nil {
		return nil, err
	}
	go accts.Run(s.ctx) // last-use times and key expiries, written every minute
	return accts, nil
}

// startRates starts the exchange-rate source; it refreshes until s.ctx ends.
func (s *Server) startRates(cfg Config, enabled []string) (*rates.Aggregator, error) {
	src, err := rates.FromConfig(rates.Config{
		Providers: cfg.RateProviders, Interval: cfg.RateInterval, Staleness: cfg.RateStaleness,
		Overrides: cfg.RateOverrides, Currencies: enabled, Clock: cfg.Clock, Logger: cfg.Logger.With("component", "rates"),
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("rates: %w", err)
	}
	s.metrics.MustRegister(src)
	go src.Run(s.ctx)
	return src, nil
}

// actorParts are what the HTTP API needs of the actors beyond the invoices.
type actorParts struct {
	monitors  []*chainwatch.Monitor // for readiness
	deliverer *webhook.Deliverer
	expirer   *expiry.Scheduler // the dev panel's "expire now"
}

// startActors starts the actor system and on it the invoice actors, the
// chain watchers that feed them payments, the expiry scheduler and the
// webhook deliverer.
func (s *Server) startActors(cfg Config, rules *engine.Rules, rateSource rates.Source, keys *accounts.Service, ch chains, enabled []string) (actorParts, error) {
	var parts actorParts
	deriver, err := hd.NewSet(ch.derivers)
	if err != nil {
		return parts, fmt.Errorf("address derivers: %w", err)
	}
	s.system = actors.NewSystem(cfg.Logger, s.metrics, cfg.Clock)
	watches, err := chainwatch.LoadWatchlist(s.store, enabled)
	if err != nil {
		return parts, err
	}
	s.invoices, err = invoice.New(invoice.Config{
		System: s.system, Store: s.store, Rules: rules, Deriver: deriver, Rates: rateSource, Owner: keys.Owner, Watches: watches, Clock: cfg.Clock,
		IdleTimeout: cfg.ActorIdle, StateCacheBytes: cfg.StateCacheBytes, RenderCacheBytes: cfg.RenderCacheBytes, WatchGrace: cfg.WatchGrace, Logger: cfg.Logger, Metrics: s.metrics,
		PublicURL: cfg.PublicURL,
	})
	if err != nil {
		return parts, err
	}
	// Expiries run at their rate × the budget's factor, which drops toward
	// the floor while the API's goroutines wait for a CPU or the LSM is
	// behind. Chain catch-up keeps its own fixed rate: payment detection
	// must not wait for a busy API (a sale is when customers pay).
	budget := admission.New(admission.Config{
		Floor: cfg.BackgroundFloor, Signals: admission.NewSampler(s.store.DB()), Clock: cfg.Clock, Metrics: s.metrics,
	})
	go budget.Run(s.ctx)
	router, err := chainwatch.New(chainwatch.Config{
		System: s.system, Store: s.store, Rules: rules, Invoices: s.invoices, Watches: watches, Clock: cfg.Clock,
		IdleTimeout: cfg.ActorIdle, CatchUpRate: cfg.ChainCatchUpRate, Logger: cfg.Logger, Metrics: s.metrics,
	})
	if err != nil {
		return parts, err
	}
	for _, node := range ch.nodes {
		m, err := router.StartMonitor(s.ctx, node, orDefault(cfg.ChainPoll, time.Second))
		if err != nil {
			return parts, fmt.Errorf("start %s monitor: %w", node.Network(), err)
		}
		parts.monitors = append(parts.monitors, m)
	}
	expirer, err := expiry.New(expiry.Config{
		System: s.system, Store: s.store, Invoices: s.invoices, Interval: cfg.ExpiryInterval, Rate: cfg.ExpiryRate, Workers: cfg.ExpiryWorkers, Budget: budget,
		Clock: cfg.Clock, Logger: cfg.Logger, Metrics: s.metrics,
	})
	if err != nil {
		return parts, err
	}
	expirer.Start(s.ctx)
	parts.expirer = expirer
	// The deliverer's Sender gets the same per-host cap, so a worker never
	// waits for a connection slot. The deliverer must be stopped before the
	// store closes, so it stops with s.cancel, which close calls first.
	parts.deliverer, err = webhook.Start(s.ctx, webhook.Config{
		System: s.system, Store: s.store, Invoices: s.invoices, Clock: cfg.Clock, Logger: cfg.Logger,
		Sender: webhooks.NewSender(webhooks.SenderOptions{
			AllowPrivate: cfg.AllowPrivateCallbacks, AttemptTimeout: cfg.WebhookAttemptTimeout, MaxPerHost: cfg.WebhookPerHost,
		}),
		Keys:     keys,
		Interval: cfg.WebhookInterval, Workers: cfg.WebhookWorkers, PerHost: cfg.WebhookPerHost,
		Stamps: cfg.Clock, Breaker: cfg.WebhookBreaker,
	})
	if err != nil {
		return parts, err
	}
	stopBackground, deliverer := s.cancel, parts.deliverer
	s.cancel = func() { stopBackground(); deliverer.Stop() }
	s.metrics.MustRegister(deliverer)
	return parts, nil
}

// listen opens the API's listener and fills cfg.PublicURL, when unset,
// with the address listened on.
func (s *Server) listen(cfg *Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.Addr = ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + s.Addr
	}
	return ln, nil
}

// startHTTP mounts the API and starts serving it on ln (and pprof, when
// configured).
func (s *Server) startHTTP(cfg Config, ln net.Listener, accts *accounts.Service, rules *engine.Rules, rateSource *rates.Aggregator, parts actorParts) error {
	store := s.store
	hcfg := httpapi.Config{
		Invoices: s.invoices, Accounts: accts, Rules: rules, Rates: rateSource, Logger: cfg.Logger, PublicURL: cfg.PublicURL,
		Checkout: &checkout.Config{
			Invoices: s.invoices, Projects: accts, Rules: rules, FrameAncestors: cfg.CheckoutFrameAncestors,
			Explorers: cfg.Explorers, Dev: cfg.Mode == "dev" && len(s.dev) > 0, Clock: cfg.Clock, Logger: cfg.Logger.With("component", "checkout"),
			MaxStreams: cfg.CheckoutMaxStreams, MaxStreamsPerIP: cfg.CheckoutMaxStreamsPerIP,
		},
		// A page load is about five requests (page, style, script, QR,
		// stream); a customer reloading or a shop's <img> tags stay far
		// below this, a scraper does not.
		PublicRateLimit: 10, PublicRateBurst: 60,
		TrustedProxies:  cfg.TrustedProxies,
		Webhooks:        webhooks.NewSender(webhooks.SenderOptions{AllowPrivate: cfg.AllowPrivateCallbacks}),
		SimulateEnabled: cfg.Mode == "dev" || cfg.EnableSimulate,
		Clock:           cfg.Clock, RateLimit: cfg.RateLimit, RateBurst: cfg.RateBurst, MaxConcurrent: cfg.MaxConcurrent,
		Metrics:    promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{Registry: s.metrics}),
		Registerer: s.metrics,
		Outbox:     parts.deliverer,
		Backups:    s,
		Ready: func() error {
			if _, _, err := store.Snapshot(uuid.Nil); err != nil && !errors.Is(err, persistence.ErrNotFound) {
				return fmt.Errorf("store: %w", err)
			}
			for _, m := range parts.monitors {
				if err := m.Err(); err != nil {
					return fmt.Errorf("chain: %w", err)
				}
			}
			return nil
		},
	}
	if cfg.Mode == "dev" && len(s.dev) > 0 {
		hcfg.Dev = s.dev // the faucet exists only in dev mode
		hcfg.DevExpire = parts.expirer
	}
	s.api = httpapi.New(hcfg)
	s.http = &http.Server{
		Handler:           s.api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	if cfg.PprofListen != "" {
		if err := s.startPprof(cfg.PprofListen); err != nil {
			return err // Start closes ln
		}
	}
	fmt.Fprintf(cfg.Stdout, "invoiced (%s mode) listening on http://%s  (data in %s)\n", cfg.Mode, s.Addr, cfg.DataDir)
	cfg.Logger.Info("listening", slog.String("addr", s.Addr), slog.String("mode", cfg.Mode), slog.Int("gomaxprocs", runtime.GOMAXPROCS(0)))
	go func() { s.served <- s.http.Serve(ln) }()
	return nil
}

// DevChain returns the dev chain of currency, for tests and the benchmark
// to script payments, reorganisations and double spends (nil if none).
func (s *Server) DevChain(currency string) *devchain.Chain { return s.dev[currency] }

// Served reports the listener's failure; it never fires on a clean Shutdown.
func (s *Server) Served() <-chan error { return s.served }

// Shutdown drains: /readyz fails and new API calls get 503 at once, in-flight
// requests finish (until ctx ends), then the actors stop and the store
// closes.
func (s *Server) Shutdown(ctx context.Context) error {
	s.log.Info("shutting down: draining in-flight requests")
	s.api.Drain()
	s.stopPprof()
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = fmt.Errorf("drain requests: %w", err)
	}
	if cerr := s.close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	s.log.Info("stopped")
	return err
}

func (s *Server) close() error {
	if s.cancel != nil {
		s.cancel()
	}
	if s.invoices != nil {
		s.invoices.Shutdown()
	}
	if s.system != nil {
		s.system.Shutdown()
	}
	var flushErr error
	if s.accounts != nil {
		// The last uses of keys since the last minute's write.
		if flushErr = s.accounts.Close(); flushErr != nil {
			flushErr = fmt.Errorf("flush key state: %w", flushErr)
		}
	}
	s.backupMu.Lock()
	defer s.backupMu.Unlock()
	s.storeClosed = true
	if err := s.store.Close(); err != nil {
		return errors.Join(flushErr, fmt.Errorf("close store: %w", err))
	}
	return flushErr
}

// buildRules is the engine's configuration: the currency registry with the
// configured confirmations and each currency's address pattern on its
// network, and the invoice defaults.
func buildRules(cfg Config, enabled []string, addressPattern func(code string) (string, error)) (*engine.Rules, error) {
	on := map[string]bool{}
	for _, code := range enabled {
		on[code] = true
	}
	var cs []engine.Currency
	for _, c := range engine.DefaultCurrencies() {
		if !on[c.Code] {
			continue
		}
		if c.Code == "USDT" && cfg.Ethereum != nil && cfg.Ethereum.USDTContract != "" {
			c.TokenContract = cfg.Ethereum.USDTContract // payment URIs name the contract followed
		}
		cs = append(cs, c)
	}
	known := map[string]bool{}
	for i := range cs {
		known[cs[i].Code] = true
		if cfg.Mode == "dev" {
			cs[i].Confirmations = 1 // the dev chain: one block makes a payment final
		}
		if n, ok := cfg.Confirmations[cs[i].Code]; ok {
			cs[i].Confirmations = n
		}
		p, err := addressPattern(cs[i].Code)
		if err != nil {
			return nil, err
		}
		cs[i].AddressPattern = p
	}
	for code, text := range cfg.MaxAmounts {
		i := slices.IndexFunc(cs, func(c engine.Currency) bool { return c.Code == code })
		if i < 0 {
			return nil, fmt.Errorf("maximum amount for %q, which is not an enabled currency", code)
		}
		c := &cs[i]
		max, err := engine.ParseDecimal(text, c.Decimals)
		if err != nil || max.Cmp(c.MinAmount) < 0 || max.Cmp(c.MaxAmount) > 0 {
			return nil, fmt.Errorf("maximum amount for %s: %q is not a decimal from %s to %s", code, text,
				engine.FormatDecimal(c.MinAmount, c.Decimals), engine.FormatDecimal(c.MaxAmount, c.Decimals))
		}
		c.MaxAmount = max
	}
	for code, n := range cfg.Confirmations {
		if !known[code] {
			return nil, fmt.Errorf("confirmations for %q, which is not an enabled currency", code)
		}
		if n < 0 || n > 1000 {
			return nil, fmt.Errorf("confirmations for %s: %d outside 0..1000", code, n)
		}
	}
	reg, err := engine.NewRegistry(cs)
	if err != nil {
		return nil, err
	}
	rules := engine.DefaultRules()
	rules.Currencies = reg
	if cfg.DefaultExpireMin > 0 {
		rules.DefaultExpireMin = cfg.DefaultExpireMin
	}
	if cfg.MaxExpireMin > 0 {
		rules.MaxExpireMin = cfg.MaxExpireMin
	}
	rules.DefaultAllowedErrorPercent = cfg.DefaultErrorPercent
	if !cfg.AllowPrivateCallbacks {
		rules.CallbackHost = webhooks.CallbackHostRefusal
	}
	return rules, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// devNetwork is the dev chain faucet behind POST /dev/pay and /dev/mine.
type devNetwork map[string]*devchain.Chain

func (d devNetwork) Pay(currency, address string, amount engine.Units) (string, error) {
	c, ok := d[currency]
	if !ok {
		return "", fmt.Errorf("no dev chain for %s", currency)
	}
	return c.Pay(address, amount.Big(), devchain.PayOptions{})
}

func (d devNetwork) Mine(currency string, blocks int) (uint64, error) {
	c, ok := d[currency]
	if !ok {
		return 0, fmt.Errorf("no dev chain for %s", currency)
	}
	return c.Mine(blocks)
}

// bootstrapAccount makes sure an account exists to create projects with:
// the configured key's, or in dev mode one generated on first start, saved
// (0600) in the data dir and printed once. It returns the key when known.
// A configured or saved key that has since been rolled or revoked starts
// the server without a bootstrap account (and says so): the account goes
// on with its new key, and the old one must not come back as a new account.
func bootstrapAccount(cfg Config, accts *accounts.Service, log *slog.Logger) (string, error) {
	if cfg.BootstrapAccountKey != "" {
		_, err := accts.EnsureAccount(cfg.BootstrapAccountKey)
		if errors.Is(err, accounts.ErrKeyRetired) {
			log.Warn("the bootstrap account key was rolled or revoked; use the account's new key and update the configuration")
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("bootstrap account key: %w", err)
		}
		return cfg.BootstrapAccountKey, nil
	}
	if cfg.Mode != "dev" {
		return "", nil
	}
	path := filepath.Join(cfg.DataDir, AccountKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		_, err := accts.EnsureAccount(key)
		if errors.Is(err, accounts.ErrKeyRetired) {
			fmt.Fprintf(cfg.Stdout, "dev account key in %s was rolled or revoked; use the new key\n", path)
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("account key in %s: %w", path, err)
		}
		fmt.Fprintf(cfg.Stdout, "dev account key: in %s\n", path)
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	key, _, err := accts.CreateAccount()
	if err != nil {
		return "", fmt.Errorf("create the dev account: %w", err)
	}
	if err := writeFileSync(path, []byte(key+"\n"), 0o600); err != nil {
		return "", err
	}
	fmt.Fprintf(cfg.Stdout, "dev account key (shown once, saved in %s): %s\n", path, key)
	return key, nil
}

// writeFileSync writes a new file durably.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// CreateAccount is `invoiced account create`: a new account in the store
// under dataDir whose key is returned once and stored only hashed.
func CreateAccount(dataDir string) (string, uuid.UUID, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", uuid.Nil, fmt.Errorf("create data dir: %w", err)
	}
	store, err := persistence.Open(filepath.Join(dataDir, "store"), persistence.Options{})
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("open store (is a server running on this data dir?): %w", err)
	}
	defer store.Close()
	accts, err := accounts.New(store, clock.Real{}, nil)
	if err != nil {
		return "", uuid.Nil, err
	}
	key, a, err := accts.CreateAccount()
	if err != nil {
		return "", uuid.Nil, err
	}
	return key, a.ID, nil
}
