package invoice

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the invoice actors' metrics. Label sets are bounded:
// currencies come from configuration, statuses from the engine's enum.
type metrics struct {
	created     *prometheus.CounterVec // currency
	transitions *prometheus.CounterVec // from, to
}

func newMetrics(reg prometheus.Registerer, s *Service) *metrics {
	m := &metrics{
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_invoices_created_total", Help: "Invoices created, by currency.",
		}, []string{"currency"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_invoice_status_transitions_total", Help: "Invoice status changes, by from and to status.",
		}, []string{"from", "to"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.created, m.transitions,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_actors_live", Help: "Invoice actors in memory.", ConstLabels: prometheus.Labels{"kind": "invoice"},
		}, func() float64 { return float64(s.table.Live()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_state_cache_entries", Help: "Recently committed invoice states held for reads.",
		}, func() float64 { return float64(s.states.len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "invoiced_state_cache_hits_total", Help: "Invoice reads (API and actor activations) served from the state cache.",
		}, func() float64 { return float64(s.states.hitCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "invoiced_state_cache_misses_total", Help: "Invoice reads that went to the store.",
		}, func() float64 { return float64(s.states.missCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_render_cache_entries", Help: "Invoices whose API JSON is held for reads.",
		}, func() float64 { return float64(s.rendered.len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "invoiced_render_cache_bytes", Help: "Heap estimate of the API JSON held for reads.",
		}, func() float64 { return float64(s.rendered.size()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "invoiced_render_cache_hits_total", Help: "Invoices answered (GET, list page) with JSON rendered earlier.",
		}, func() float64 { return float64(s.rendered.hitCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "invoiced_render_cache_misses_total", Help: "Invoices answered with JSON rendered for the request.",
		}, func() float64 { return float64(s.rendered.missCount()) }),
	)
	return m
}
