package httpapi

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/http/checkout"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
)

// invoices is what the handlers need of the invoice actors.
type invoices interface {
	Create(ctx context.Context, project uuid.UUID, req engine.CreateRequest, idempotencyKey string) (engine.Invoice, bool, error)
	CreateArchived(ctx context.Context, project uuid.UUID, req engine.CreateRequest, idempotencyKey string) (engine.Invoice, bool, error)
	ChangeStatus(ctx context.Context, project, id uuid.UUID, target engine.Status, comment string) (engine.Invoice, error)
	Get(ctx context.Context, project, id uuid.UUID) (engine.Invoice, error)
	// AppendInvoice appends the JSON of what Get returns to b.
	AppendInvoice(b []byte, project, id uuid.UUID) ([]byte, error)
	// AppendJSON appends the API's JSON of a committed state to b.
	AppendJSON(b []byte, inv engine.Invoice) []byte
	// AppendNewJSON is AppendJSON for a create's answer, which is not
	// cached (see invoice.Service.AppendNewJSON).
	AppendNewJSON(b []byte, inv engine.Invoice) []byte
	// AppendList appends the JSON of q's page, comma-separated, to b and
	// returns the number of invoices matching q.
	AppendList(b []byte, q persistence.Query) ([]byte, int, error)
}

// rateTable is what the rates endpoint needs.
type rateTable interface {
	All(fiat string) []rates.Quote
}

// Config is the server's wiring, built once in cmd.
type Config struct {
	Invoices invoices
	Accounts *accounts.Service
	Rules    *engine.Rules
	Rates    rateTable
	Logger   *slog.Logger
	// PublicURL is the server's base URL as customers reach it (no
	// trailing slash): the base of checkout_url and qrcode.
	PublicURL string
	// TrustedProxies are peers whose X-Forwarded-For is believed; every
	// other request's client IP is the socket peer.
	TrustedProxies []netip.Prefix
	// Webhooks sends the simulate endpoint's webhooks; SimulateEnabled
	// mounts that endpoint (dev mode, or INVOICED_ENABLE_SIMULATE in prod).
	Webhooks        webhookSender
	SimulateEnabled bool
	// Outbox lists and redelivers an invoice's webhooks (nil = not mounted).
	Outbox webhookLog
	// Backups takes backups of the data dir on POST /api/v1/admin/backup
	// (account key; nil = not mounted).
	Backups backups
	// Metrics serves /metrics (nil = not mounted); Registerer receives the
	// HTTP metrics (nil = not registered).
	Metrics    http.Handler
	Registerer prometheus.Registerer
	// Dev is the dev chain faucet; nil (prod mode) leaves /dev/* unmounted.
	Dev devChains
	// RateLimit is each API key's sustained requests per second and
	// RateBurst its burst (429 with Retry-After beyond); 0 = no limit.
	RateLimit float64
	RateBurst int
	// MaxConcurrent caps API requests in flight across all clients (503
	// with Retry-After beyond); 0 = no cap. Health and metrics are exempt.
	MaxConcurrent int
	// Clock is the time of key expiries and rate limits, and stamps
	// simulated webhooks (nil = the wall clock); the accounts service must
	// be built with the same one.
	Clock clock.Clock
	// Checkout serves the customer's checkout pages under /i/ (nil = not
	// mounted); its ClientIP and Error are the API's own.
	Checkout *checkout.Config
	// PublicRateLimit and PublicRateBurst limit each client IP on the
	// keyless checkout routes (429 beyond; 0 = no limit).
	PublicRateLimit float64
	PublicRateBurst int
	// DevExpire expires an invoice now (POST /dev/expire, dev mode only).
	DevExpire devExpirer
	// Ready reports whether the server can serve (store open, ...); nil
	// means always.
	Ready func() error
}

// Server is the REST API as an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	router  *httprouter.Router
	metrics *httpMetrics
	limits  *limiter
	// publicLimits rate-limits the checkout routes by client IP.
	publicLimits *limiter
	checkout     *checkout.Handler // nil when not mounted
	// inFlight counts API requests being served when MaxConcurrent caps
	// them (an atomic counter: a channel's lock cost every request more).
	inFlight atomic.Int64
	draining atomic.Bool
	routes   []Route // every registered route, in registration order
}

// New builds the router with every route.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newHTTPMetrics(cfg.Registerer), limits: newLimiter(cfg.RateLimit, cfg.RateBurst, cfg.Clock.Now),
		publicLimits: newLimiter(cfg.PublicRateLimit, cfg.PublicRateBurst, cfg.Clock.Now)}
	r := router{Router: httprouter.New(), routes: &s.routes, metrics: s.metrics}
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.writeError(w, req, newError(http.StatusNotFound, "not_found", "no such route"))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.writeError(w, req, newError(http.StatusMethodNotAllowed, "method_not_allowed", req.Method+" is not allowed on this route"))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, p any) {
		s.log.Error("handler panic", slog.String("request_id", requestID(w)), slog.Any("panic", p))
		s.writeError(w, req, newError(http.StatusInternalServerError, "internal_error", "internal error"))
	}

	r.POST("/api/v1/invoices", s.project(s.createInvoice))
	r.GET("/api/v1/invoices", s.project(s.listInvoices))
	r.GET("/api/v1/invoices/:invoice_id", s.project(s.getInvoice))
	r.PATCH("/api/v1/invoices/:invoice_id", s.project(s.patchInvoice))
	r.POST("/api/v1/archived", s.project(s.createArchived))
	r.GET("/api/v1/currencies", s.currencies)
	r.GET("/api/v1/openapi.json", s.openAPI)
	r.GET("/api/v1/rates", s.rates)
	r.POST("/api/v1/projects", s.account(s.createProject))
	r.GET("/api/v1/projects", s.account(s.listProjects))
	r.PATCH("/api/v1/projects/:project_id", s.account(s.patchProject))
	r.POST("/api/v1/projects/:project_id/keys/roll", s.account(s.rollProjectKey))
	r.DELETE("/api/v1/projects/:project_id/keys/:key_id", s.account(s.revokeProjectKey))
	r.GET("/api/v1/projects/:project_id/events", s.account(s.projectEvents))
	r.POST("/api/v1/account/keys/roll", s.account(s.rollAccountKey))
	r.GET("/api/v1/account/events", s.account(s.accountEvents))
	if cfg.Dev != nil {
		r.POST("/dev/pay", s.devPay)
		r.POST("/dev/mine", s.devMine)
	}
	if cfg.DevExpire != nil {
		r.POST("/dev/expire", s.devExpire)
	}
	if cfg.Checkout != nil {
		s.mountCheckout(r, *cfg.Checkout)
	}
	if cfg.Outbox != nil {
		r.GET("/api/v1/invoices/:invoice_id/webhooks", s.project(s.listWebhooks))
		r.POST("/api/v1/invoices/:invoice_id/webhooks/:webhook_id/redeliver", s.project(s.redeliverWebhook))
	}
	if cfg.Backups != nil {
		r.POST("/api/v1/admin/backup", s.admin(s.createBackup))
	}
	if cfg.SimulateEnabled && cfg.Webhooks != nil {
		r.POST("/api/v1/webhooks/simulate", s.project(s.simulateWebhook))
	}
	if cfg.Metrics != nil {
		r.Handler("GET", "/metrics", cfg.Metrics)
	}
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	s.router = r.Router
	return s
}

// Drain makes /readyz fail and new API requests get 503, so a load
// balancer stops sending traffic before the listener closes.
func (s *Server) Drain() {
	s.draining.Store(true)
	if s.checkout != nil {
		s.checkout.Close() // live status streams would hold the drain open
	}
}

// ServeHTTP assigns the request id and hands over to the router.
//
// The request itself is passed on as it came: what the handlers, logs and
// metrics need of it travels in the ResponseWriter (tracked), because
// attaching it to the context (WithContext) copied the whole request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	w.Header()["X-Request-Id"] = []string{id}
	t := &tracked{ResponseWriter: w}
	if limit := int64(s.cfg.MaxConcurrent); limit > 0 && (strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/dev/")) {
		if !s.enter(limit) {
			w.Header().Set("Retry-After", "1")
			s.writeError(t, r, newError(http.StatusServiceUnavailable, "overloaded", "too many requests in flight; retry shortly"))
			return
		}
		defer s.inFlight.Add(-1)
	}
	// checked first: building the attributes costs allocations even when
	// the line is not written, and so does reading the clock
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.metrics.serve(t, r, s.router.ServeHTTP)
		return
	}
	start := time.Now()
	s.metrics.serve(t, r, s.router.ServeHTTP)
	s.log.Debug("request", slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Duration("took", time.Since(start)))
}

// enter takes one of limit in-flight slots, or reports that all are taken.
// A refused request never holds a slot, even for a moment, so it cannot
// make another one be refused.
func (s *Server) enter(limit int64) bool {
	for {
		n := s.inFlight.Load()
		if n >= limit {
			return false
		}
		if s.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// newRequestID is a random UUID for a request that brought no id of its
// own. It only has to tell requests apart in logs, not be unguessable, so
// it comes from the runtime's fast generator rather than crypto/rand.
func newRequestID() string {
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

// requestID is the id ServeHTTP gave the request answered through w: the
// response's X-Request-Id, set before any handler runs.
func requestID(w http.ResponseWriter) string {
	if v := w.Header()["X-Request-Id"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// validRequestID accepts a caller's id only if it is short and plain, so it
// is safe to echo and to log.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (s *Server) now() time.Time { return s.cfg.Clock.Now() }

func routeOf(r *http.Request) string { return r.Method + " " + r.URL.Path }
