package actors

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the actor system's and the chains' metrics. Label sets are
// bounded: currency and network come from configuration, statuses from the
// engine's enum.
type metrics struct {
	created     *prometheus.CounterVec // currency
	transitions *prometheus.CounterVec // from, to
	activations *prometheus.CounterVec // kind
	passivated  *prometheus.CounterVec // kind

	chainHeight  *prometheus.GaugeVec   // network
	chainTip     *prometheus.GaugeVec   // network
	chainLag     *prometheus.GaugeVec   // network
	matched      *prometheus.CounterVec // currency
	unwatched    *prometheus.CounterVec // currency: outputs to addresses no invoice owns
	reorgs       *prometheus.CounterVec // network
	nodeErrors   *prometheus.CounterVec // network
	expirySweeps prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, r *Registry) *metrics {
	m := &metrics{
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_invoices_created_total", Help: "Invoices created, by currency.",
		}, []string{"currency"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_invoice_status_transitions_total", Help: "Invoice status changes, by from and to status.",
		}, []string{"from", "to"}),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_actor_activations_total", Help: "Virtual actors activated, by kind (invoice, watcher).",
		}, []string{"kind"}),
		passivated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_actor_passivations_total", Help: "Virtual actors passivated after their idle time, by kind.",
		}, []string{"kind"}),
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
		expirySweeps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "invoiced_invoices_expired_total", Help: "Expire commands sent to invoices whose expires_at passed.",
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.created, m.transitions, m.activations, m.passivated,
		m.chainHeight, m.chainTip, m.chainLag, m.matched, m.unwatched, m.reorgs, m.nodeErrors, m.expirySweeps,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_actors_live", Help: "Invoice actors in memory.", ConstLabels: prometheus.Labels{"kind": "invoice"},
		}, func() float64 { return float64(r.invoices.live.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_actors_live", Help: "Invoice actors in memory.", ConstLabels: prometheus.Labels{"kind": "watcher"},
		}, func() float64 { return float64(r.watchers.live.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_state_cache_entries", Help: "Recently committed invoice states held for reads.",
		}, func() float64 { return float64(r.states.len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "invoiced_state_cache_hits_total", Help: "Invoice reads (API and actor activations) served from the state cache.",
		}, func() float64 { return float64(r.states.hitCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "invoiced_state_cache_misses_total", Help: "Invoice reads that went to the store.",
		}, func() float64 { return float64(r.states.missCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_watched_addresses", Help: "Deposit addresses the chain monitors follow.",
		}, func() float64 { return float64(r.watch.size()) }),
	)
	return m
}
