package actors

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/invoiced/invoiced/internal/clock"
)

// Tick asks a ticking actor to do one round of its work.
type Tick struct{}

// Ticker sends an actor a Tick every interval of the system's clock and
// whenever a wake channel fires, coalesced: at most one Tick waits in the
// actor's mailbox, so a burst of wake-ups costs one round and a slow round
// never builds a backlog. The actor calls Received when it takes a Tick.
type Ticker struct {
	root    *actor.RootContext
	pid     *actor.PID
	clock   clock.Clock
	pending atomic.Bool // a Tick waits in the mailbox
}

// NewTicker returns a Ticker for the actor pid; Run starts it.
func NewTicker(s *System, pid *actor.PID) *Ticker {
	return &Ticker{root: s.Root(), pid: pid, clock: s.clock}
}

// Poke sends a Tick unless one is already waiting.
func (t *Ticker) Poke() {
	if t.pending.CompareAndSwap(false, true) {
		t.root.Send(t.pid, Tick{})
	}
}

// Received marks the waiting Tick taken; the actor calls it before its
// round, so a wake-up during the round brings another.
func (t *Ticker) Received() { t.pending.Store(false) }

// Run pokes at once, then every interval and on each wake until ctx ends.
// It returns at once; the pokes come from goroutines of its own.
func (t *Ticker) Run(ctx context.Context, interval time.Duration, wakes ...<-chan struct{}) {
	for _, w := range wakes {
		if w == nil {
			continue
		}
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-w:
					t.Poke()
				}
			}
		}()
	}
	go func() {
		t.Poke()
		for {
			// The next interval starts when this one has ended, so a
			// test clock moved by one interval brings one Tick.
			select {
			case <-ctx.Done():
				return
			case <-t.clock.After(interval):
				t.Poke()
			}
		}
	}()
}

// tickingActor runs work one round per Tick on its own mailbox.
type tickingActor struct {
	work   func(ctx context.Context)
	ticker *Ticker
	ctx    context.Context
}

func (a *tickingActor) Receive(c actor.Context) {
	if _, ok := c.Message().(Tick); ok {
		a.ticker.Received()
		a.work(a.ctx)
	}
}

// StartTicking spawns an actor running work every interval (and whenever
// wake fires, if not nil) until ctx ends, then stops it. Shutdown waits for
// a round in progress.
func (s *System) StartTicking(ctx context.Context, interval time.Duration, wake <-chan struct{}, work func(context.Context)) {
	a := &tickingActor{work: s.guarded(work), ctx: ctx}
	pid := s.Root().Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	a.ticker = NewTicker(s, pid)
	a.ticker.Run(ctx, interval, wake)
	go func() {
		<-ctx.Done()
		s.Root().Stop(pid)
	}()
}
