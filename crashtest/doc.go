// Package crashtest holds invoiced's crash and fault tests; it has no code
// of its own outside tests.
//
// The crash test builds the real binary, drives it with concurrent
// creates, PATCHes, payments and blocks over HTTP, kills it with SIGKILL at
// a random moment, and checks the store it left before restarting it:
// every acknowledged write is there, events, snapshots, list indexes,
// counters, the expiry schedule and the watch list agree (integrity.Check),
// each payment is counted once and each status is the one the engine's
// rules give the stored payments. After the restart the chain monitors must
// resume from their cursors to exactly the payments the persisted dev
// chain holds: none skipped, none applied twice, each at its block height
// (mempool payments are lost with the process by design, and reverted).
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
