// Package chainwatch owns chain following: one Monitor actor per network
// reads its node, finds reorganisations and the payments to watched
// addresses, and hands each address's news to a virtual address-watcher
// actor that forwards it to the owning invoice actor; the Watchlist is the
// in-memory mirror of the store's watched addresses the monitors match
// against.
package chainwatch

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
)

// Config is what the chain watchers need; cmd builds it once.
type Config struct {
	// System, Store, Rules, Invoices and Watches are required. Watches is
	// the list the invoice Service updates with every commit.
	System   *actors.System
	Store    *persistence.Store
	Rules    *engine.Rules
	Invoices *invoice.Service
	Watches  *Watchlist
	// Clock stamps observations and ends watch grace periods (nil = the
	// wall clock).
	Clock  clock.Clock
	Logger *slog.Logger // nil = discard
	// IdleTimeout is how long an address watcher stays in memory without
	// messages (default 2 minutes).
	IdleTimeout time.Duration
	// RequestTimeout bounds one round's wait for an address's invoice to
	// apply its news (default 10 s).
	RequestTimeout time.Duration
	// CatchUpRate bounds how many blocks a monitor reads and matches per
	// second beyond a burst of as many (default DefaultCatchUpRate): a
	// monitor that was down for a day walks its backlog at this pace, a
	// round at most maxBlocksPerRound blocks, instead of decoding hundreds
	// of blocks back to back on the API's CPU. A node that adds a block
	// every few seconds is never held back by it.
	CatchUpRate int
	// Metrics receives the chains' metrics (nil = none).
	Metrics prometheus.Registerer
}

// DefaultCatchUpRate is CatchUpRate's default, in blocks per second: a
// full Bitcoin block of 10,000 outputs decodes in ~18 ms
// (docs/performance.md), so a catch-up takes at most about a third of
// one CPU, and a day of Bitcoin blocks (144) is read in about 7 s.
const DefaultCatchUpRate = 20

// Router is what every monitor shares: the watch list it matches outputs
// against and the table of address watchers it routes news through.
type Router struct {
	cfg      Config
	watchers *actors.Table[watchKey]
	metrics  *metrics
}

// New returns the Router; StartMonitor starts a network's monitor on it.
func New(cfg Config) (*Router, error) {
	if cfg.System == nil || cfg.Store == nil || cfg.Rules == nil || cfg.Invoices == nil || cfg.Watches == nil {
		return nil, errors.New("chainwatch: System, Store, Rules, Invoices and Watches are required")
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.CatchUpRate <= 0 {
		cfg.CatchUpRate = DefaultCatchUpRate
	}
	r := &Router{cfg: cfg, watchers: actors.NewTable[watchKey](cfg.System, "watcher", cfg.RequestTimeout)}
	r.metrics = newMetrics(cfg.Metrics, r)
	return r, nil
}

// metrics are the chains' metrics. Label sets are bounded: currency and
// network come from configuration.
type metrics struct {
	chainHeight *prometheus.GaugeVec   // network
	chainTip    *prometheus.GaugeVec   // network
	chainLag    *prometheus.GaugeVec   // network
	matched     *prometheus.CounterVec // currency
	unwatched   *prometheus.CounterVec // currency: outputs to addresses no invoice owns
	reorgs      *prometheus.CounterVec // network
	nodeErrors  *prometheus.CounterVec // network
}

func newMetrics(reg prometheus.Registerer, r *Router) *metrics {
	m := &metrics{
		chainHeight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invoiced_chain_height", Help: "Height of the last block the chain monitor durably processed.",
		}, []string{"network"}),
		chainTip: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invoiced_chain_node_height", Help: "Height of the node's best block at the monitor's last poll.",
		}, []string{"network"}),
		chainLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "invoiced_chain_lag_blocks", Help: "Blocks the node is ahead of what the monitor durably processed.",
		}, []string{"network"}),
		matched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_chain_payments_matched_total", Help: "Outputs matched to watched deposit addresses, by currency.",
		}, []string{"currency"}),
		unwatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_chain_outputs_ignored_total", Help: "Block outputs to addresses no invoice watches, by currency.",
		}, []string{"currency"}),
		reorgs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_chain_reorgs_total", Help: "Blocks disconnected by reorganisations, by network.",
		}, []string{"network"}),
		nodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_chain_node_errors_total", Help: "Failed chain monitor rounds (node unreachable or answering garbage), by network.",
		}, []string{"network"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.chainHeight, m.chainTip, m.chainLag, m.matched, m.unwatched, m.reorgs, m.nodeErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_actors_live", Help: "Invoice actors in memory.", ConstLabels: prometheus.Labels{"kind": "watcher"},
		}, func() float64 { return float64(r.watchers.Live()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_watched_addresses", Help: "Deposit addresses the chain monitors follow.",
		}, func() float64 { return float64(r.cfg.Watches.size()) }),
	)
	return m
}
