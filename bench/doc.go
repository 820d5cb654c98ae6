// Package bench is invoiced's load benchmark: it drives the HTTP API with a
// fixed number of connections, closed-loop or at a constant rate, records
// latency in log-linear histograms, and in the same run measures two
// baselines with the same client and shape (a trivial httprouter handler on
// loopback and a raw Pebble synced-batch loop on the same filesystem), so
// every figure is also a ratio to what this machine can do at all.
// cmd/invoicebench is its command line.
//
// The run is: setup (start a server in-process, or use -url; create a
// project; seed invoices for the read scenarios), the baselines, then each
// scenario with an optional warmup. Event scenarios (payments, expiry,
// restart, webhooks; see events.go) are not request streams: each starts
// its own server and measures how long the engine takes to work through a
// load it sets up, polling /metrics or recording webhook arrivals. Cancelling the context stops issuing
// requests, lets in-flight ones finish for a short grace, and still returns
// the report of everything measured so far.
package bench
