// Package deploy holds what operators load next to invoiced rather than
// into it: grafana/invoiced.json, a Grafana dashboard (request rate,
// latency and errors, invoices by status, payments, webhooks, chain lag,
// Pebble, process), and prometheus/alerts.yml, Prometheus alerting rules
// (5xx rate, latency, webhook backlog and dead letters, chain lag and
// stalls, WAL fsync latency, stale rates).
//
// There is no Go code to import. The package's test starts a real server,
// makes and pays an invoice on the dev chain, scrapes /metrics and fails if
// either file queries a metric the server does not expose, so a renamed
// metric cannot silently blank a panel or disarm an alert.
package deploy
