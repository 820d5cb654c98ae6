package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// decideMsg asks the invoice actor to decide and persist cmd. project is the
// caller's project: an invoice of another project is reported as not found
// (internal callers, the chain watchers and the expiry scheduler, set
// internal instead).
type decideMsg struct {
	project  uuid.UUID
	internal bool
	cmd      engine.Command
	cmds     []engine.Command // more commands after cmd, decided in order
}

// reply is the actor's answer: the state after the decision, or why not.
type reply struct {
	inv engine.Invoice
	err error
}

// invoiceActor owns one invoice: it alone decides, persists and applies its
// events, one message at a time.
type invoiceActor struct {
	id    uuid.UUID
	reg   *Registry
	entry *entry

	inv engine.Invoice
	// stale is set when a commit failed: the store may or may not hold the
	// batch, so the next message reloads the truth before deciding.
	stale   bool
	loadErr error
}

func (a *invoiceActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(a.reg.cfg.IdleTimeout)
		a.load()
	case *actor.ReceiveTimeout:
		if a.reg.invoices.retire(a.id, a.entry, false) {
			ctx.Stop(ctx.Self())
		}
	case decideMsg:
		ctx.Respond(a.handle(msg))
		a.entry.processed.Add(1)
		// A message for an id that has no invoice (a PATCH of an unknown
		// id, say) leaves nothing to keep: free the actor now rather than
		// after the idle time.
		if !a.inv.Exists() && a.reg.invoices.retire(a.id, a.entry, false) {
			ctx.Stop(ctx.Self())
		}
	}
}

// handle runs one command, recovering from a panic (a corrupt log or a bug)
// so the caller gets an error instead of a timeout.
func (a *invoiceActor) handle(msg decideMsg) (rep reply) {
	defer func() {
		if p := recover(); p != nil {
			a.reg.cfg.Logger.Error("invoice actor panic", slog.String("invoice_id", a.id.String()), slog.Any("panic", p))
			a.stale = true
			rep = reply{err: fmt.Errorf("invoice %s: internal error: %v", a.id, p)}
		}
	}()
	if a.stale {
		a.load()
	}
	if a.loadErr != nil {
		return reply{err: a.loadErr}
	}
	if a.inv.Exists() && !msg.internal && a.inv.ProjectID != msg.project {
		return reply{err: engine.ErrNotFound}
	}
	// A chain round may bring several observations for one invoice: they
	// are decided in order on the evolving state and committed together,
	// one synced batch for the lot.
	cmds := msg.cmds
	if msg.cmd != nil {
		cmds = append([]engine.Command{msg.cmd}, cmds...)
	}
	var events []engine.Event
	state := a.inv
	for _, cmd := range cmds {
		evs, err := a.reg.cfg.Rules.Decide(state, cmd)
		if err != nil {
			return reply{err: err}
		}
		state = engine.ApplyAll(state, evs)
		events = append(events, evs...)
	}
	if len(events) == 0 {
		return reply{inv: a.inv} // nothing changed (a repeated observation): nothing to write
	}
	next := engine.ApplyAll(a.inv, events)
	if err := a.reg.persist(a.id, a.inv, next, events, nil); err != nil {
		a.stale = true
		return reply{err: err}
	}
	a.inv = next
	for _, e := range events {
		if sc, ok := e.(engine.StatusChanged); ok {
			a.reg.metrics.transitions.WithLabelValues(string(sc.From), string(sc.To)).Inc()
		}
	}
	return reply{inv: next}
}

// snapshotEvery is how often an invoice's state is snapshotted: by the
// commit that reaches version 8, 16, ... Reads and activations replay the
// at most seven binary events after the latest snapshot (about a
// microsecond each), which is cheaper than writing a snapshot with every
// commit: most invoices never get one (a create is version 1, a paid
// invoice has three to five events; an Ethereum payment with twelve
// confirmations gets one), and each saved snapshot was a quarter of a
// payment commit's bytes.
const snapshotEvery = 8

// persist commits the decision that took prev to next (events) for
// invoice id: the events, a snapshot when one is due, the index rows,
// claims and the outbox records of the webhooks they cause, in one synced
// batch. The in-memory mirrors (the state cache and the watch map) follow
// from the commit's Committed hook, which runs under the stream's lock, so
// they see one invoice's versions in order even when a create (committed
// outside the actor) races the actor's first commit. prev is the zero
// Invoice for a create.
func (r *Registry) persist(id uuid.UUID, prev, next engine.Invoice, events []engine.Event, claims []persistence.Claim) error {
	encoded := make([][]byte, len(events))
	for i, e := range events {
		b, err := engine.EncodeEvent(e)
		if err != nil {
			return err
		}
		encoded[i] = b
	}
	var snap []byte
	if next.Version/snapshotEvery > prev.Version/snapshotEvery {
		snap = engine.EncodeSnapshot(next)
	}
	c := persistence.Commit{
		Stream:          id,
		ExpectedVersion: prev.Version,
		Events:          encoded,
		Snapshot:        snap,
		New:             r.indexRow(next),
		Claims:          claims,
		Outbox:          r.outboxRecords(prev, next, events),
	}
	c.Committed = func() {
		r.states.committed(&next)
		r.feed.committed(&next)
		if w := c.New.Watch; w != nil {
			r.watch.set(w.Currency, w.Address, id, w.Until)
		}
	}
	if prev.Exists() {
		c.Old = r.indexRow(prev)
	}
	// A failed Commit wrote nothing, so the mirrors are still right.
	if _, err := r.cfg.Store.Commit(c); err != nil {
		return fmt.Errorf("commit invoice %s: %w", id, err)
	}
	return nil
}

// load rebuilds the state from the latest snapshot and later events.
func (a *invoiceActor) load() {
	a.stale = false
	inv, err := a.reg.loadInvoice(a.id)
	if errors.Is(err, engine.ErrNotFound) {
		a.inv, a.loadErr = engine.Invoice{}, nil
		return
	}
	a.inv, a.loadErr = inv, err
}

// loadInvoice reads an invoice's latest committed state: from the state
// cache when it was committed lately, else from the store.
func (r *Registry) loadInvoice(id uuid.UUID) (engine.Invoice, error) {
	if inv, ok := r.states.get(id); ok {
		return inv, nil
	}
	return loadInvoice(r.cfg.Store, id)
}

// loadInvoice reads an invoice's state: its snapshot plus any later events.
func loadInvoice(store *persistence.Store, id uuid.UUID) (engine.Invoice, error) {
	snap, _, events, err := store.Load(id)
	if errors.Is(err, persistence.ErrNotFound) {
		return engine.Invoice{}, engine.ErrNotFound
	}
	if err != nil {
		return engine.Invoice{}, fmt.Errorf("load invoice %s: %w", id, err)
	}
	inv, err := replay(snap, events)
	if err != nil {
		return engine.Invoice{}, fmt.Errorf("load invoice %s: %w", id, err)
	}
	return inv, nil
}

// replay is engine.Replay of an invoice that must exist.
func replay(snap []byte, events [][]byte) (engine.Invoice, error) {
	inv, err := engine.Replay(snap, events)
	if err == nil && !inv.Exists() {
		err = fmt.Errorf("%w: no state to replay", engine.ErrCorrupt)
	}
	return inv, err
}

// indexRow is what the store's derived records (list indexes, counters,
// expiry schedule, watch list) know of inv.
func (r *Registry) indexRow(inv engine.Invoice) *persistence.IndexRow {
	return IndexRow(r.cfg.Rules, r.cfg.WatchGrace, inv)
}

// IndexRow maps an invoice to the row its commits derive the store's
// indexes, counters, expiry schedule and watch list from. It is exported
// so the integrity checker rebuilds exactly what commits wrote.
func IndexRow(rules *engine.Rules, watchGrace time.Duration, inv engine.Invoice) *persistence.IndexRow {
	row := &persistence.IndexRow{
		ProjectID: inv.ProjectID,
		InvoiceID: inv.ID,
		Status:    string(inv.Status),
		Currency:  inv.Currency,
		CreatedAt: inv.CreatedAt.UnixNano(),
		UpdatedAt: inv.UpdatedAt.UnixNano(),
	}
	if inv.FiatAmount != nil {
		row.Fiat = inv.FiatAmount.Big()
	}
	decimals := 18
	if c, ok := rules.Currencies.Lookup(inv.Currency); ok {
		decimals = c.Decimals
	}
	row.Crypto = engine.Scale18(inv.Amount, decimals)
	switch inv.Status {
	case engine.StatusNew, engine.StatusPaidPartial:
		// Only an invoice that can still expire is scheduled; a pending one
		// is kept alive by its payment and leaves the schedule.
		row.ExpiresAt = inv.ExpiresAt.UnixNano()
	}
	if inv.Address != "" {
		row.Watch = &persistence.Watch{Currency: inv.Currency, Address: inv.Address}
		switch inv.Status {
		case engine.StatusCompleted, engine.StatusExpired, engine.StatusCancelled, engine.StatusArchived:
			// Final: keep watching for a grace period, so late payments,
			// overpayments and reorgs are still recorded.
			row.Watch.Until = inv.UpdatedAt.Add(watchGrace).UnixNano()
		}
	}
	return row
}
