// Package checkout serves the hosted checkout page: the page a merchant
// sends its customer to, with the amount, address, QR code and live status
// of one invoice. It is a thin reader over the invoice actors' committed
// state (Lookup, Follow) and never changes an invoice.
//
// Everything under /i/ is public: it answers 404 alike for unknown and
// archived invoices, shows nothing a customer should not see (no callback
// URL, key or webhook data), escapes everything the merchant supplied and
// sends a Content-Security-Policy that allows no inline script. Templates
// and assets are embedded, so the page makes no external requests.
package checkout

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

var pages = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// AssetsPath is where the page's stylesheet and script are served.
const AssetsPath = "/checkout/assets"

// invoices is what the page reads: an invoice by id, and its later
// commits as they happen.
type invoices interface {
	Lookup(id uuid.UUID) (engine.Invoice, error)
	Follow(id uuid.UUID) (states <-chan engine.Invoice, stop func())
}

// projects names an invoice's project on its page.
type projects interface {
	ProjectName(id uuid.UUID) (string, bool)
}

// Config is the page's wiring, built once in cmd and passed down.
type Config struct {
	Invoices invoices
	Projects projects
	Rules    *engine.Rules
	// FrameAncestors is the CSP frame-ancestors source list: who may
	// frame the page ("*" by default, since shops embed it).
	FrameAncestors string
	// Explorers maps a currency code to a block explorer's transaction
	// URL, with {txid} where the transaction id goes; a currency without
	// one shows bare transaction ids.
	Explorers map[string]string
	// Dev shows the dev panel (pay from the dev chain, mine, expire).
	Dev bool
	// MaxStreams caps live status streams in total (503 beyond) and
	// MaxStreamsPerIP those of one client IP (429 beyond).
	MaxStreams, MaxStreamsPerIP int
	// Heartbeat is how often an idle stream sends a comment, so proxies
	// keep it open (default 20 s).
	Heartbeat time.Duration
	// ClientIP is the request's client IP, as the API decides it (socket
	// peer or trusted proxy's X-Forwarded-For).
	ClientIP func(*http.Request) netip.Addr
	// Error writes an error in the API's JSON error shape.
	Error func(w http.ResponseWriter, r *http.Request, status int, code, message string)
	// Clock is the time the countdown is computed from (nil = the wall
	// clock); the server hands its own.
	Clock  clock.Clock
	Logger *slog.Logger
	// Metrics receives the open streams gauge (nil = not registered).
	Metrics prometheus.Registerer
}

// Handler serves the checkout routes.
type Handler struct {
	cfg     Config
	qr      *qrCache
	streams *streams
	assets  http.Handler
	csp     string
}

// DefaultMaxStreams and DefaultMaxStreamsPerIP are the stream caps when
// the Config gives none.
const (
	DefaultMaxStreams      = 2048
	DefaultMaxStreamsPerIP = 8
)

// New builds the handler.
func New(cfg Config) *Handler {
	if cfg.FrameAncestors == "" {
		cfg.FrameAncestors = "*"
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = DefaultMaxStreams
	}
	if cfg.MaxStreamsPerIP <= 0 {
		cfg.MaxStreamsPerIP = DefaultMaxStreamsPerIP
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 20 * time.Second
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sub, _ := fs.Sub(assetFS, "assets")
	h := &Handler{
		cfg:     cfg,
		qr:      newQRCache(qrCacheSize),
		streams: newStreams(cfg.MaxStreams, cfg.MaxStreamsPerIP),
		assets:  http.StripPrefix(AssetsPath, http.FileServerFS(sub)),
		csp: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
			"base-uri 'none'; form-action 'none'; frame-ancestors " + cfg.FrameAncestors,
	}
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_checkout_streams", Help: "Live status streams of checkout pages open now.",
		}, func() float64 { return float64(h.streams.open()) }))
	}
	return h
}

// Close ends every live status stream (the server is draining), so a
// shutdown does not wait for customers to close their pages.
func (h *Handler) Close() { h.streams.close() }

// secure sets the headers every public response carries.
func (h *Handler) secure(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
}

// errNotShown: the invoice does not exist, or has no page (archived).
var errNotShown = errors.New("no checkout page")

// invoice reads the invoice a public route names; unknown, malformed and
// archived ids are all errNotShown, so a customer cannot tell them apart.
func (h *Handler) invoice(ps httprouter.Params) (engine.Invoice, error) {
	id, err := uuid.Parse(ps.ByName("invoice_id"))
	if err != nil {
		return engine.Invoice{}, errNotShown
	}
	inv, err := h.cfg.Invoices.Lookup(id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return engine.Invoice{}, errNotShown
	case err != nil:
		return engine.Invoice{}, err
	case inv.Address == "" || inv.Status == engine.StatusArchived:
		return engine.Invoice{}, errNotShown
	}
	return inv, nil
}

// fail answers a public route's error in the API's JSON shape.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNotShown) {
		h.cfg.Error(w, r, http.StatusNotFound, "not_found", "invoice not found")
		return
	}
	h.cfg.Logger.Error("checkout read failed", slog.String("path", r.URL.Path), slog.Any("err", err))
	h.cfg.Error(w, r, http.StatusInternalServerError, "internal_error", "internal error")
}

// Page serves GET /i/:invoice_id, the checkout page.
func (h *Handler) Page(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	h.secure(w)
	w.Header().Set("Cache-Control", "no-store")
	lang := pickLanguage(r)
	inv, err := h.invoice(ps)
	if err != nil {
		if !errors.Is(err, errNotShown) {
			h.fail(w, r, err)
			return
		}
		h.render(w, http.StatusNotFound, "notfound", map[string]any{"Lang": lang, "T": messages[lang], "Assets": AssetsPath})
		return
	}
	h.render(w, http.StatusOK, "page", h.view(inv, lang))
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var b bytes.Buffer // rendered whole first, so a failure is a clean 500
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		h.cfg.Logger.Error("render checkout page", slog.String("template", name), slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// Asset serves the embedded stylesheet and script.
func (h *Handler) Asset(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	h.secure(w)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	h.assets.ServeHTTP(w, r)
}
