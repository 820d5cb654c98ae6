package rates

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// The Aggregator's metrics. Values are computed when scraped, from the
// Aggregator's own state and clock; nothing is registered globally, the server
// registers the Aggregator on its registry.
var (
	rateAgeDesc = prometheus.NewDesc("invoiced_rate_age_seconds",
		"Seconds since the newest provider value for the pair was fetched; over the staleness limit the pair has no rate. 0 for a pinned (static) rate, +Inf before any provider answered.",
		[]string{"currency", "fiat"}, nil)
	fetchErrorsDesc = prometheus.NewDesc("invoiced_rate_fetch_errors_total",
		"Failed rate fetches, per provider.",
		[]string{"provider"}, nil)
	fetchesDesc = prometheus.NewDesc("invoiced_rate_fetches_total",
		"Rate fetches, per provider and result (ok or error).",
		[]string{"provider", "result"}, nil)
)

var _ prometheus.Collector = (*Aggregator)(nil)

// Describe implements prometheus.Collector.
func (a *Aggregator) Describe(ch chan<- *prometheus.Desc) {
	ch <- rateAgeDesc
	ch <- fetchErrorsDesc
	ch <- fetchesDesc
}

// Collect implements prometheus.Collector.
func (a *Aggregator) Collect(ch chan<- prometheus.Metric) {
	now := a.clock.Now()
	// Build under the lock, send after: a slow scrape must not hold up the
	// fetchers.
	var ms []prometheus.Metric
	a.mu.RLock()
	for _, p := range a.listed {
		age := math.Inf(1)
		if pi, ok := a.pairIndex[p]; !ok {
			age = 0 // pinned
		} else {
			for _, o := range a.obs[pi] {
				if !o.at.IsZero() {
					age = math.Min(age, math.Max(0, now.Sub(o.at).Seconds()))
				}
			}
		}
		ms = append(ms, prometheus.MustNewConstMetric(rateAgeDesc, prometheus.GaugeValue, age, p.Currency, p.Fiat))
	}
	for i, name := range a.names {
		ms = append(ms,
			prometheus.MustNewConstMetric(fetchErrorsDesc, prometheus.CounterValue, float64(a.fetchErr[i]), name),
			prometheus.MustNewConstMetric(fetchesDesc, prometheus.CounterValue, float64(a.fetchOK[i]), name, "ok"),
			prometheus.MustNewConstMetric(fetchesDesc, prometheus.CounterValue, float64(a.fetchErr[i]), name, "error"))
	}
	a.mu.RUnlock()
	for _, m := range ms {
		ch <- m
	}
}
