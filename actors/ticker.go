package actors

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// tick asks a ticking actor to do one round of its work.
type tick struct{}

// tickingActor runs work one round at a time on its own mailbox; a
// goroutine sends it a tick every interval or when wake fires. At most one
// tick waits in the mailbox, so a slow round never builds a backlog.
type tickingActor struct {
	work    func(ctx context.Context)
	pending *atomic.Bool
	ctx     context.Context
}

func (t *tickingActor) Receive(c actor.Context) {
	if _, ok := c.Message().(tick); ok {
		t.pending.Store(false)
		t.work(t.ctx)
	}
}

// startTicking spawns an actor running work every interval (and whenever
// wake fires, if not nil) until ctx ends.
func startTicking(ctx context.Context, system *actor.ActorSystem, interval time.Duration, wake <-chan struct{}, work func(context.Context)) {
	pending := &atomic.Bool{}
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &tickingActor{work: work, pending: pending, ctx: ctx}
	}))
	send := func() {
		if pending.CompareAndSwap(false, true) {
			system.Root.Send(pid, tick{})
		}
	}
	go func() {
		defer system.Root.Stop(pid)
		t := time.NewTicker(interval)
		defer t.Stop()
		send()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				send()
			case <-wake:
				send()
			}
		}
	}()
}
