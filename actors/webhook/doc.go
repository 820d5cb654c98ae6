// Package webhook owns webhook delivery: the Deliverer, an actor that scans
// the persisted outbox's due schedule, attempts each due webhook in
// per-invoice order on a bounded pool, records every result durably and
// retries on a backoff schedule until delivered or dead-lettered. The
// records themselves are written by the invoice actors with the events
// that cause them (actors/invoice/outbox.go).
//
// Signing and sending stay in the top-level webhooks package: they are the
// wire contract (the signature receivers verify, the SSRF-guarded HTTP
// client) that the simulate endpoint and receivers' own code use without an
// actor system. This package decides only when to send what, and what is
// recorded.
package webhook
