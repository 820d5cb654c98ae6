package chainwatch

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
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
	group   *persistence.Group  // the round's group commit
	answer  func(invoice.Reply) // gets the invoice's answer
}

// watcherActor maps chain observations for one address to its invoice: it
// forwards them to the invoice actor in order, and the invoice answers the
// monitor once it has durably applied them (invoice.Service.Forward), so
// the monitor advances its cursor only past blocks whose payments are on
// disk. Like invoice actors it is virtual:
// activated when the chain has news for its address, passivated when idle.
type watcherActor struct {
	key    watchKey
	router *Router
	entry  *actors.Entry
}

func (w *watcherActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(w.router.cfg.IdleTimeout)
	case *actor.ReceiveTimeout:
		if w.router.watchers.Retire(w.key, w.entry) {
			ctx.Stop(ctx.Self())
		} else {
			ctx.SetReceiveTimeout(w.router.cfg.IdleTimeout) // disarmed when it fired
		}
	case watchMsg:
		w.router.cfg.Invoices.Forward(msg.invoice, msg.cmds, msg.group, msg.answer)
		w.entry.Processed()
	}
}

func (r *Router) watcherFor(k watchKey) func(*actors.Entry) actor.Actor {
	return func(e *actors.Entry) actor.Actor { return &watcherActor{key: k, router: r, entry: e} }
}
