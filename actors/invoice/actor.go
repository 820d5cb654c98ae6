package invoice

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/actors/invoice/row"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// origin says who sends a command: a merchant, whose project must own the
// invoice, or invoiced itself (the chain watchers, the expiry scheduler).
type origin int

const (
	fromMerchant origin = iota
	fromSystem
)

// decideMsg asks the invoice actor to decide and persist cmds in order.
// project is the merchant's: an invoice of another project is reported as
// not found.
type decideMsg struct {
	from    origin
	project uuid.UUID
	cmds    []engine.Command
	// group, when set, is the chain round's group commit: the decision
	// commits as one of its members, and the actor leaves it when there
	// is nothing to commit.
	group *persistence.Group
	// transient: background work (the expiry scheduler) that needs the
	// actor for this message only, so it passivates right after unless
	// more messages are on their way.
	transient bool
	// answer, when set, receives the Reply instead of the sender: a chain
	// round collects its answers without a protoactor future per invoice
	// (a registered process and a timer each).
	answer func(Reply)
}

// Reply is an invoice actor's answer: the state after the decision, or why
// not.
type Reply struct {
	Invoice engine.Invoice
	Err     error
}

// AwaitReply waits for the invoice actor's Reply on f; key names the
// request in errors.
func AwaitReply(f *actor.Future, key any) (Reply, error) {
	res, err := f.Result()
	if err != nil {
		return Reply{}, fmt.Errorf("actor %v: %w", key, err)
	}
	rep, ok := res.(Reply)
	if !ok {
		return Reply{}, fmt.Errorf("actor %v: unexpected reply %T", key, res)
	}
	return rep, nil
}

// invoiceActor owns one invoice: it alone decides, persists and applies its
// events, one message at a time.
type invoiceActor struct {
	id    uuid.UUID
	svc   *Service
	entry *actors.Entry

	inv engine.Invoice
	// stale is set when a commit failed: the store may or may not hold the
	// batch, so the next message reloads the truth before deciding.
	stale   bool
	loadErr error
	// committing is the decision whose group commit is not durable yet
	// (nil: none). The actor's goroutine does not wait for it, but the
	// actor decides nothing else until it is: messages meanwhile wait in
	// waiting, in order, so every decision starts from a durable state and
	// one invoice's commits stay in order.
	committing *decision
	waiting    []request
}

// request is a decideMsg and whom to answer.
type request struct {
	msg    decideMsg
	sender *actor.PID
}

// decision is a request decided and on its way to disk: next is the state
// once events are durable.
type decision struct {
	request
	next   engine.Invoice
	events []engine.Event
}

// committedMsg is the group's answer for decision d: err nil once it is
// durable.
type committedMsg struct {
	d   *decision
	err error
}

func (a *invoiceActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(a.svc.cfg.IdleTimeout)
		a.load()
	case *actor.ReceiveTimeout:
		if a.svc.table.Retire(a.id, a.entry) {
			ctx.Stop(ctx.Self())
		} else {
			// A message is on its way. protoactor disarms the timeout when
			// it fires, so arm it again or the actor would never passivate.
			ctx.SetReceiveTimeout(a.svc.cfg.IdleTimeout)
		}
	case decideMsg:
		r := request{msg: msg, sender: ctx.Sender()}
		if a.committing != nil {
			a.waiting = append(a.waiting, r)
			return
		}
		a.serve(ctx, r)
	case committedMsg:
		a.committed(ctx, msg)
		for a.committing == nil && len(a.waiting) > 0 {
			r := a.waiting[0]
			a.waiting = a.waiting[1:]
			a.serve(ctx, r)
		}
	}
}

// serve decides r and answers it, unless its commit is in flight (then
// committed answers).
func (a *invoiceActor) serve(ctx actor.Context, r request) {
	if rep, inFlight := a.handle(ctx, r); !inFlight {
		a.answer(ctx, r, rep)
	}
}

// answer hands rep to r's answer or sender and counts r processed.
func (a *invoiceActor) answer(ctx actor.Context, r request, rep Reply) {
	switch {
	case r.msg.answer != nil:
		r.msg.answer(rep)
	case r.sender != nil:
		ctx.Send(r.sender, rep)
	}
	a.entry.Processed()
	// A message for an id that has no invoice (a PATCH of an unknown id,
	// say) or from background work leaves nothing to keep: free the actor
	// now rather than after the idle time. Retire refuses while a message
	// waits.
	if (r.msg.transient || !a.inv.Exists()) && a.svc.table.Retire(a.id, a.entry) {
		ctx.Stop(ctx.Self())
	}
}

// committed ends the decision in flight with the group's answer.
func (a *invoiceActor) committed(ctx actor.Context, msg committedMsg) {
	d := a.committing
	if d == nil || msg.d != d {
		return // its Add panicked after joining: handle has answered
	}
	a.committing = nil
	if err := msg.err; err != nil {
		a.stale = true
		a.answer(ctx, d.request, Reply{Err: commitError(a.id, err)})
		return
	}
	a.applied(d.next, d.events)
	a.answer(ctx, d.request, Reply{Invoice: d.next})
}

// handle runs one command, recovering from a panic (a corrupt log or a bug)
// so the caller gets an error instead of a timeout. With a group, the
// commit joins it and handle reports it in flight: committed answers.
func (a *invoiceActor) handle(ctx actor.Context, r request) (rep Reply, inFlight bool) {
	msg := r.msg
	persisting := false
	defer func() {
		if msg.group != nil && !persisting {
			msg.group.Leave()
		}
		if p := recover(); p != nil {
			a.svc.cfg.Logger.Error("invoice actor panic", slog.String("invoice_id", a.id.String()), slog.Any("panic", p))
			a.stale = true
			rep, inFlight = Reply{Err: fmt.Errorf("invoice %s: internal error: %v", a.id, p)}, false
		}
	}()
	if a.stale {
		a.load()
	}
	if a.loadErr != nil {
		return Reply{Err: a.loadErr}, false
	}
	if a.inv.Exists() && msg.from == fromMerchant && a.inv.ProjectID != msg.project {
		return Reply{Err: engine.ErrNotFound}, false
	}
	// A chain round may bring several observations for one invoice: they
	// are decided in order on the evolving state and committed together,
	// one synced batch for the lot.
	var events []engine.Event
	state := a.inv
	for _, cmd := range msg.cmds {
		evs, err := a.svc.cfg.Rules.Decide(state, cmd)
		if err != nil {
			return Reply{Err: err}, false
		}
		state = engine.ApplyAll(state, evs)
		events = append(events, evs...)
	}
	if len(events) == 0 {
		return Reply{Invoice: a.inv}, false // nothing changed (a repeated observation): nothing to write
	}
	next := state // every event applied, in order
	c, err := a.svc.commitFor(a.id, a.inv, next, events, nil, false)
	if err != nil {
		return Reply{Err: err}, false
	}
	if msg.group == nil {
		if err := a.svc.commit(c); err != nil {
			a.stale = true
			return Reply{Err: err}, false
		}
		a.applied(next, events)
		return Reply{Invoice: next}, false
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	d := &decision{request: r, next: next, events: events}
	persisting = true // Add joins the group or leaves it
	msg.group.Add(c, func(_ uint64, err error) { root.Send(self, committedMsg{d: d, err: err}) })
	a.committing = d
	return Reply{}, true
}

// applied takes next, whose events are durable, as the actor's state.
func (a *invoiceActor) applied(next engine.Invoice, events []engine.Event) {
	a.inv = next
	for _, e := range events {
		if sc, ok := e.(engine.StatusChanged); ok {
			a.svc.metrics.transitions.WithLabelValues(string(sc.From), string(sc.To)).Inc()
		}
	}
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

// commitFor is the commit of the decision that took prev to next (events)
// for invoice id: the events, a snapshot when one is due, the index rows,
// claims and the outbox records of the webhooks they cause, in one synced
// batch. The in-memory mirrors (the state cache and the watch map) follow
// from the commit's Committed hook, which runs under the stream's lock, so
// they see one invoice's versions in order even when a create (committed
// outside the actor) races the actor's first commit. prev is the zero
// Invoice for a create, and fresh is the commit's Fresh flag: true only for
// a create whose id was drawn for it (see persistence.Commit.Fresh).
func (s *Service) commitFor(id uuid.UUID, prev, next engine.Invoice, events []engine.Event, claims []persistence.Claim, fresh bool) (persistence.Commit, error) {
	encoded := make([][]byte, len(events))
	for i, e := range events {
		b, err := engine.EncodeEvent(e)
		if err != nil {
			return persistence.Commit{}, err
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
		Fresh:           fresh,
		Events:          encoded,
		Snapshot:        snap,
		New:             s.indexRow(next),
		Claims:          claims,
		Outbox:          s.outboxRecords(prev, next, events),
	}
	c.Committed = func() {
		s.states.committed(&next)
		s.feed.committed(&next)
		if w := c.New.Watch; w != nil && s.cfg.Watches != nil {
			s.cfg.Watches.Set(w.Currency, w.Address, id, w.Until)
		}
	}
	if prev.Exists() {
		c.Old = s.indexRow(prev)
	}
	return c, nil
}

// commit commits c alone. A failed Commit wrote nothing, so the mirrors
// are still right.
func (s *Service) commit(c persistence.Commit) error {
	if _, err := s.cfg.Store.Commit(c); err != nil {
		return commitError(c.Stream, err)
	}
	return nil
}

func commitError(id uuid.UUID, err error) error { return fmt.Errorf("commit invoice %s: %w", id, err) }

// load rebuilds the state from the latest snapshot and later events.
func (a *invoiceActor) load() {
	a.stale = false
	inv, err := a.svc.latest(a.id)
	if errors.Is(err, engine.ErrNotFound) {
		a.inv, a.loadErr = engine.Invoice{}, nil
		return
	}
	a.inv, a.loadErr = inv, err
}

// latest reads an invoice's latest committed state: from the state cache
// when it was committed or read lately, else from the store (and keeps it).
func (s *Service) latest(id uuid.UUID) (engine.Invoice, error) {
	if inv, ok := s.states.get(id); ok {
		return inv, nil
	}
	inv, err := s.load(id)
	if err != nil {
		return engine.Invoice{}, err
	}
	return *inv, nil
}

// load reads id's state from the store into the state cache (see
// stateCache.loaded); the caller must not change *inv.
func (s *Service) load(id uuid.UUID) (inv *engine.Invoice, err error) {
	at := s.states.stamp(id)
	loaded, err := Load(s.cfg.Store, id)
	if err != nil {
		return nil, err
	}
	s.states.loaded(at, &loaded)
	return &loaded, nil
}

// Load reads an invoice's state from the store: its snapshot plus any
// later events.
func Load(store *persistence.Store, id uuid.UUID) (engine.Invoice, error) {
	snap, _, events, err := store.Load(id)
	if errors.Is(err, persistence.ErrNotFound) {
		return engine.Invoice{}, engine.ErrNotFound
	}
	if err != nil {
		return engine.Invoice{}, fmt.Errorf("load invoice %s: %w", id, err)
	}
	inv, err := replayExisting(snap, events)
	if err != nil {
		return engine.Invoice{}, fmt.Errorf("load invoice %s: %w", id, err)
	}
	return inv, nil
}

// replayExisting is engine.Replay of an invoice that must exist.
func replayExisting(snap []byte, events [][]byte) (engine.Invoice, error) {
	inv, err := engine.Replay(snap, events)
	if err == nil && !inv.Exists() {
		err = fmt.Errorf("%w: no state to replay", engine.ErrCorrupt)
	}
	return inv, err
}

// indexRow is what the store's derived records (list indexes, counters,
// expiry schedule, watch list) know of inv.
func (s *Service) indexRow(inv engine.Invoice) *persistence.IndexRow {
	return row.Of(s.cfg.Rules, s.cfg.WatchGrace, inv)
}
