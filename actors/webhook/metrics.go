package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Deliverer's own metrics; the backlog
// and dead-letter gauges are read from the store's counters at scrape time,
// so they are right from the first scrape after a restart.
type metrics struct {
	deliveries  *prometheus.CounterVec
	duration    prometheus.Histogram
	backlogDesc *prometheus.Desc
	deadDesc    *prometheus.Desc
	failingDesc *prometheus.Desc
}

func newMetrics() metrics {
	m := metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_webhook_deliveries_total",
			Help: "Webhook delivery attempts by result: delivered (2xx), failed (retry scheduled) or dead (dead-lettered).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "invoiced_webhook_delivery_duration_seconds",
			Help:    "Duration of webhook delivery attempts, from connect to the response read.",
			Buckets: prometheus.DefBuckets,
		}),
		backlogDesc: prometheus.NewDesc("invoiced_webhook_backlog", "Webhooks not yet delivered or dead-lettered.", nil, nil),
		deadDesc:    prometheus.NewDesc("invoiced_webhook_dead_letters", "Dead-lettered webhooks (retry schedule spent, not redelivered).", nil, nil),
		failingDesc: prometheus.NewDesc("invoiced_webhook_hosts_failing", "Destination hosts whose circuit is open: their webhooks wait, one probe attempt per cooldown.", nil, nil),
	}
	for _, r := range []string{"delivered", "failed", "dead"} {
		m.deliveries.WithLabelValues(r)
	}
	return m
}

// Describe implements prometheus.Collector.
func (d *Deliverer) Describe(ch chan<- *prometheus.Desc) {
	d.metrics.deliveries.Describe(ch)
	d.metrics.duration.Describe(ch)
	ch <- d.metrics.backlogDesc
	ch <- d.metrics.deadDesc
	ch <- d.metrics.failingDesc
}

// Collect implements prometheus.Collector.
func (d *Deliverer) Collect(ch chan<- prometheus.Metric) {
	d.metrics.deliveries.Collect(ch)
	d.metrics.duration.Collect(ch)
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.stopped {
		return
	}
	backlog, dead, err := d.store.OutboxCounts()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(d.metrics.backlogDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(d.metrics.backlogDesc, prometheus.GaugeValue, float64(backlog))
	ch <- prometheus.MustNewConstMetric(d.metrics.deadDesc, prometheus.GaugeValue, float64(dead))
	ch <- prometheus.MustNewConstMetric(d.metrics.failingDesc, prometheus.GaugeValue, float64(d.failing.Load()))
}
