// Package webhooks signs webhook payloads and delivers them, one HTTP attempt
// at a time, to merchant callback URLs.
//
// It is the half of webhook delivery that talks to the outside world; the
// simulate endpoint calls it directly and the durable outbox deliverer (actors/webhook) calls
// it for every retry, owning the schedule, the backoff and the dead letters.
//
// Signatures let a merchant prove a request came from this server holding
// only its project API key: the signing key is SHA-256 of that key (the
// server stores nothing else), and the signature covers the timestamp so a
// captured request cannot be replayed outside the tolerance window. A
// delivery is signed with every live key of its project (SignAll: two
// during a key roll's overlap), and Verify accepts a header in which any
// one signature matches, so a receiver holding either key keeps working.
// Verify is the check merchants write, kept here so our tests and docs use
// the same code.
//
// Callback URLs are chosen by API clients, so a Sender is a server-side
// request forgery risk: without a guard anyone holding a project key could
// make this server POST to its own loopback services, the cloud metadata
// endpoint or the operator's private network. The guard runs at dial time, on
// the address actually being connected to, so a host name that resolves to a
// private address (or re-resolves to one later: DNS rebinding) is refused
// too. Only operators (and tests) can turn it off.
package webhooks
