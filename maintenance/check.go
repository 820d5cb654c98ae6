// Package maintenance owns the care of a data dir outside the request
// path: the integrity check (and repair) of a store against its event log,
// and checked backups (backup.go); `invoiced check`, `invoiced backup` and
// POST /api/v1/admin/backup are thin callers.
//
// The check: every invoice stream must replay (engine.Apply) to its stored
// snapshot, hold each payment once with the amount paid equal to their
// sum, and the records derived from the latest state (list indexes,
// per-project counters, the expiry schedule, the watch list) must be
// exactly what its commits wrote. With Repair it rewrites what differs. `invoiced check`
// runs it; the crash tests run it after every restart.
//
// It sits above persistence (which stores events as opaque bytes and so
// cannot replay them) and the engine (which owns the event format).
package maintenance

import (
	"bytes"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/invoice/row"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// CheckConfig configures Check.
type CheckConfig struct {
	// Rules supplies the currency registry (decimals, for the crypto sort
	// key); nil means engine.DefaultRules, which knows every built-in
	// currency.
	Rules *engine.Rules
	// WatchGrace is the server's INVOICED_WATCH_GRACE (default 24 h): a
	// final invoice's address is watched until updated_at plus it.
	WatchGrace time.Duration
	// Now is the check's clock (zero = time.Now): watches whose grace ended
	// before it may have been swept.
	Now time.Time
	// Repair rewrites derived records that differ (see
	// persistence.CheckOptions.Repair); the store must not be serving.
	Repair bool
}

// Check verifies store; see the package comment.
func Check(store *persistence.Store, cfg CheckConfig) (persistence.CheckReport, error) {
	if cfg.Rules == nil {
		cfg.Rules = engine.DefaultRules()
	}
	if cfg.WatchGrace <= 0 {
		cfg.WatchGrace = 24 * time.Hour
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	return store.Check(Rows(cfg.Rules, cfg.WatchGrace), persistence.CheckOptions{Now: cfg.Now.UnixNano(), Repair: cfg.Repair})
}

// CheckAndRepair checks store; when problems are found and cfg.Repair is
// set, it rewrites what differs and checks again. It returns the first
// report and, after a repair, the second (the zero report otherwise).
func CheckAndRepair(store *persistence.Store, cfg CheckConfig) (first, after persistence.CheckReport, err error) {
	first, err = Check(store, cfg)
	if err != nil || first.OK() || !cfg.Repair {
		return first, after, err
	}
	cfg.Repair = false
	after, err = Check(store, cfg)
	return first, after, err
}

// Rows returns the RowFunc that replays an invoice stream with the engine
// and derives its index row.
func Rows(rules *engine.Rules, watchGrace time.Duration) persistence.RowFunc {
	return func(r persistence.StreamRecords) persistence.Derived {
		inv, snapAt, problems, err := replayStream(r)
		if err != nil {
			return persistence.Derived{Problems: append(problems, err.Error())}
		}
		d := persistence.Derived{Row: row.Of(rules, watchGrace, inv), Problems: append(problems, invariants(inv)...)}
		if r.Snapshot != nil {
			same, err := sameSnapshot(r.Snapshot, snapAt)
			switch {
			case err != nil:
				d.Problems = append(d.Problems, err.Error())
				fallthrough
			case !same:
				d.Snapshot = engine.EncodeSnapshot(inv)
			}
		}
		return d
	}
}

// replayStream applies every event of the stream in order and returns the final
// state and the state at the snapshot's version. engine.Apply panics on an
// event that does not fit; that is reported, never guessed around.
func replayStream(r persistence.StreamRecords) (inv, atSnapshot engine.Invoice, problems []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("events do not replay: %v", p)
		}
	}()
	for i, b := range r.Events {
		if uint64(i) == r.SnapshotVersion {
			atSnapshot = inv
		}
		e, err := engine.DecodeEvent(b)
		if err != nil {
			return inv, atSnapshot, problems, fmt.Errorf("event %d: %w", i+1, err)
		}
		inv = engine.Apply(inv, e)
	}
	if uint64(len(r.Events)) == r.SnapshotVersion {
		atSnapshot = inv
	}
	if !inv.Exists() {
		return inv, atSnapshot, problems, fmt.Errorf("stream has no events")
	}
	if inv.ID != r.ID {
		problems = append(problems, fmt.Sprintf("the Created event names invoice %s", inv.ID))
	}
	if inv.Version != r.Head {
		problems = append(problems, fmt.Sprintf("replay reaches version %d, head is %d", inv.Version, r.Head))
	}
	return inv, atSnapshot, problems, nil
}

// sameSnapshot compares a stored snapshot with a replayed state by their
// canonical encodings (decoding and re-encoding the stored one), so a
// difference is a difference in state, not in bytes.
func sameSnapshot(stored []byte, replayed engine.Invoice) (bool, error) {
	inv, err := engine.DecodeSnapshot(stored)
	if err != nil {
		return false, err
	}
	return bytes.Equal(engine.EncodeSnapshot(inv), engine.EncodeSnapshot(replayed)), nil
}

// invariants are what every replayed invoice must satisfy whatever the
// chain did: each payment (txid, output) counted once, the amount paid
// equal to their sum and never negative, the status one of the enum.
func invariants(inv engine.Invoice) []string {
	var out []string
	seen := map[string]bool{}
	sum := engine.NewUnits(0)
	for _, t := range inv.Transactions {
		k := fmt.Sprintf("%s:%d", t.TxID, t.Index)
		if seen[k] {
			out = append(out, fmt.Sprintf("payment %s counted twice", k))
		}
		seen[k] = true
		sum = sum.Add(t.Amount)
	}
	if sum.Cmp(inv.Paid) != 0 {
		out = append(out, fmt.Sprintf("paid %s but the payments sum to %s", inv.Paid, sum))
	}
	if inv.Paid.Sign() < 0 {
		out = append(out, fmt.Sprintf("paid %s is negative", inv.Paid))
	}
	if !inv.Status.Valid() {
		out = append(out, fmt.Sprintf("status %q is not in the enum", inv.Status))
	}
	if inv.ProjectID == uuid.Nil {
		out = append(out, "no project")
	}
	return out
}
