// Package actors owns the virtual-actor table and the mailbox workers that
// every actor kind of invoiced runs on; each kind lives in its own package
// below it (invoice, chainwatch, webhook, expiry).
//
// An actor owns its state: one actor per invoice is the only writer of its
// event stream, so decisions about one invoice are serial without locks
// while different invoices proceed (and fsync) in parallel. Invoice actors
// and address watchers are virtual: a Table activates one on demand and
// passivates it after an idle period, so memory follows activity rather
// than the number of invoices.
//
// protoactor-go's own persistence plugin is not used: it writes one event
// per call and cannot report a failed write, while a decision here must land
// as one synced batch (events, snapshot, indexes, uniqueness claims) before
// the caller gets an answer. Actors call the persistence.Store directly.
package actors
