package actors

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/invoiced/invoiced/internal/clock"
)

// ticked is an actor that takes each Tick and reports it.
type ticked struct {
	ticker **Ticker
	got    chan struct{}
}

func (a *ticked) Receive(c actor.Context) {
	if _, ok := c.Message().(Tick); ok {
		(*a.ticker).Received()
		a.got <- struct{}{}
	}
}

// TestTicker_TicksOnTheSystemsClock: a Ticker pokes at once, then once per
// interval of the system's clock, so a test clock that stands still brings
// no Tick and one moved by an interval brings exactly one.
func TestTicker_TicksOnTheSystemsClock(t *testing.T) {
	clk := clock.NewTest(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := NewSystem(nil, nil, clk)
	t.Cleanup(s.Shutdown)
	var tk *Ticker
	a := &ticked{ticker: &tk, got: make(chan struct{}, 10)}
	pid := s.Root().Spawn(actor.PropsFromProducer(func() actor.Actor { return a }))
	tk = NewTicker(s, pid)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tk.Run(ctx, time.Hour)

	<-a.got // the first poke comes at once
	for round := range 3 {
		if d := <-clk.Waits(); d != time.Hour {
			t.Fatalf("round %d: the ticker waits %s on the clock, want 1h", round, d)
		}
		clk.Add(time.Hour - time.Nanosecond)
		select {
		case <-a.got:
			t.Fatalf("round %d: a Tick before the interval had passed on the clock", round)
		default:
		}
		clk.Add(time.Nanosecond)
		<-a.got
	}
	select {
	case <-a.got:
		t.Fatal("more Ticks than intervals")
	default:
	}
}
