// Package actors runs the engine's rules on protoactor-go: one actor per
// invoice owns that invoice's state and is the only writer of its event
// stream, so decisions about one invoice are serial without locks while
// different invoices proceed (and fsync) in parallel.
//
// Invoice actors are virtual: the Registry activates one on demand from the
// invoice's latest snapshot plus later events, and passivates it after an
// idle period, so memory stays bounded with millions of invoices.
//
// protoactor-go's own persistence plugin is not used: it writes one event
// per call and cannot report a failed write, while a decision here must land
// as one synced batch (events, snapshot, indexes, uniqueness claims) before
// the caller gets an answer. Actors call the persistence.Store directly.
package actors
