package actors

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// watchKey names an address watcher: one per watched deposit address.
type watchKey struct {
	currency, address string
}

// watchMsg carries what the chain shows for one address this round, in
// order, for the invoice that owns it.
type watchMsg struct {
	invoice uuid.UUID
	cmds    []engine.Command
}

// watcherActor maps chain observations for one address to its invoice: it
// forwards them to the invoice actor in order, and the invoice answers the
// monitor once it has durably applied them, so the monitor advances its
// cursor only past blocks whose payments are on disk. Like invoice actors it is virtual:
// activated when the chain has news for its address, passivated when idle.
type watcherActor struct {
	key   watchKey
	reg   *Registry
	entry *entry
}

func (w *watcherActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(w.reg.cfg.IdleTimeout)
	case *actor.ReceiveTimeout:
		if w.reg.watchers.retire(w.key, w.entry, false) {
			ctx.Stop(ctx.Self())
		}
	case watchMsg:
		w.forward(ctx, msg)
		w.entry.processed.Add(1)
	}
}

// forward hands the round's commands to the invoice actor in one message,
// with the monitor as the sender: the invoice answers the monitor directly
// once it has durably applied them, and the watcher is free at once.
func (w *watcherActor) forward(ctx actor.Context, msg watchMsg) {
	e := w.reg.invoices.route(msg.invoice, w.reg.invoiceActorFor(msg.invoice))
	ctx.RequestWithCustomSender(e.pid, decideMsg{internal: true, cmds: msg.cmds}, ctx.Sender())
}

func (r *Registry) watcherFor(k watchKey) func(*entry) actor.Actor {
	return func(e *entry) actor.Actor { return &watcherActor{key: k, reg: r, entry: e} }
}
