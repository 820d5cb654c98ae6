// Package crashtest holds invoiced's crash and fault tests; it has no code
// of its own outside tests.
//
// The crash test builds the real binary, drives it with concurrent
// creates, PATCHes, payments and blocks over HTTP, kills it with SIGKILL at
// a random moment, and checks the store it left before restarting it:
// every acknowledged write is there, events, snapshots, list indexes,
// counters, the expiry schedule and the watch list agree (maintenance.Check),
// each payment is counted once and each status is the one the engine's
// rules give the stored payments. After the restart the chain monitors must
// resume from their cursors to exactly the payments the persisted dev
// chain holds: none skipped, none applied twice, each at its block height
// (mempool payments are lost with the process by design, and reverted).
//
// Every invoice it creates has a callback_url on a webhook sink the test
// runs on loopback (the binary runs with INVOICED_ALLOW_PRIVATE_CALLBACKS).
// The sink checks each signature as the README tells merchants to and
// answers 200, or 500 to some first attempts during the first quarter of
// the kills (none in runs of fewer than 4), whose retries (about 10 s
// later) are due before the end. After the last restart the test waits for
// the webhook backlog to drain, stops the server and checks that every
// webhook owed is delivered: each status change and payment in the event
// logs has its outbox record and nothing else does, the sink received each
// (with the stored body; duplicates from a kill between delivery and its
// record are counted, as delivery is at least once), each invoice's in
// version order, and each acknowledged PATCH's webhook carries the status
// it set.
//
//	INVOICED_CRASH_ITERATIONS=200 go test -run TestCrash -v ./crashtest
//
// runs longer than the CI default.
//
// The fault test runs the HTTP API over a store whose filesystem fails
// (Pebble's errorfs) at the i-th write for every i, then simulates power
// loss (vfs.NewCrashableMem's CrashClone keeps only synced data): a failed
// write is never answered 2xx, and every write that was is still there.
package crashtest
