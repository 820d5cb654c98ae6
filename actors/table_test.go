package actors

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestSystem(t *testing.T) *System {
	t.Helper()
	s := NewSystem(nil, nil, nil)
	t.Cleanup(s.Shutdown)
	return s
}

// silent is an actor that never finishes a message, so the test alone
// decides when one counts as processed.
type silent struct{}

func (silent) Receive(actor.Context) {}

func TestTable_RetireOnlyWhenRoutedEqualsProcessed(t *testing.T) {
	s := newTestSystem(t)
	tbl := NewTable[string](s, "test-retire", time.Second)
	produce := func(*Entry) actor.Actor { return silent{} }

	e := tbl.Route("k", produce)
	if again := tbl.Route("k", produce); again != e {
		t.Fatal("a second route activated a second actor for the same key")
	}
	if tbl.Retire("k", e) {
		t.Fatal("retired with two messages routed and none processed")
	}
	e.Processed()
	if tbl.Retire("k", e) {
		t.Fatal("retired with two messages routed and one processed")
	}
	e.Processed()
	if !tbl.Retire("k", e) {
		t.Fatal("not retired with every routed message processed")
	}
	if n := tbl.Live(); n != 0 {
		t.Fatalf("%d live after the only actor retired", n)
	}
	// A later message activates a fresh actor; the old one's late retire
	// (its entry replaced) lets it stop without touching the new entry.
	fresh := tbl.Route("k", produce)
	if fresh == e {
		t.Fatal("the retired entry was reused")
	}
	if !tbl.Retire("k", e) {
		t.Fatal("a replaced entry may not stop")
	}
	if n := tbl.Live(); n != 1 {
		t.Fatalf("%d live, want the fresh actor", n)
	}
	if a := testutil.ToFloat64(s.activations.WithLabelValues("test-retire")); a != 2 {
		t.Fatalf("%v activations, want 2", a)
	}
}

// counter is a virtual actor whose state lives outside it (as an invoice's
// lives in the store): each message adds one to its key's total and is
// answered. It tries to passivate after every message, as an invoice actor
// does after a message for an invoice that does not exist, so retires race
// with routes as often as possible. (Passivating on a short receive timeout
// would churn too, but protoactor's timeout timer races with the mailbox in
// its own code, which -race reports.)
type counter struct {
	key    int
	tbl    *Table[int]
	entry  *Entry
	totals []atomic.Int64
}

type add struct{}

func (c *counter) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(add); ok {
		c.totals[c.key].Add(1)
		ctx.Respond(c.totals[c.key].Load())
		c.entry.Processed()
		if c.tbl.Retire(c.key, c.entry) {
			ctx.Stop(ctx.Self())
		}
	}
}

// TestTable_NoMessageLostAcrossPassivation: many senders hammer a few keys
// whose actors passivate whenever they can, so activations,
// passivations and messages interleave; every request is answered and
// counted exactly once. (Stopping an actor with a message in its mailbox
// would drop that message, and its request would time out.)
func TestTable_NoMessageLostAcrossPassivation(t *testing.T) {
	s := newTestSystem(t)
	tbl := NewTable[int](s, "test-counter", 5*time.Second)
	const keys, senders, perSender = 4, 16, 200
	totals := make([]atomic.Int64, keys)
	produce := func(k int) func(*Entry) actor.Actor {
		return func(e *Entry) actor.Actor { return &counter{key: k, tbl: tbl, entry: e, totals: totals} }
	}
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perSender {
				k := (i + j) % keys
				f, err := tbl.Request(context.Background(), k, produce(k), add{})
				if err == nil {
					_, err = f.Result()
				}
				if err != nil {
					errs <- fmt.Errorf("sender %d message %d to key %d: %w", i, j, k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var sum int64
	for i := range totals {
		sum += totals[i].Load()
	}
	if sum != senders*perSender {
		t.Fatalf("%d messages counted, want %d", sum, senders*perSender)
	}
	passivated := testutil.ToFloat64(s.passivated.WithLabelValues("test-counter"))
	if passivated == 0 {
		t.Fatal("no actor passivated: the test did not exercise reactivation")
	}
	deadline := time.Now().Add(5 * time.Second)
	for tbl.Live() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d actors still live long after the last message", tbl.Live())
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%v activations, %v passivations", testutil.ToFloat64(s.activations.WithLabelValues("test-counter")), passivated)
}

// TestMailboxWorkers_ScheduleNeverWaits: runs queue for busy workers up to
// the queue's size; beyond it a run gets a goroutine of its own rather than
// wait, and the queued runs run once a worker is free.
func TestMailboxWorkers_ScheduleNeverWaits(t *testing.T) {
	w := newMailboxWorkers(1, 2)
	defer w.stop()
	block, started := make(chan struct{}), make(chan struct{})
	w.Schedule(func() { close(started); <-block })
	<-started // the only worker is busy
	var queued sync.WaitGroup
	queued.Add(2)
	for range 2 {
		w.Schedule(queued.Done)
	}
	ran := make(chan struct{})
	w.Schedule(func() { close(ran) }) // the queue is full
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("a run waited for a busy worker with the queue full")
	}
	close(block)
	queued.Wait()
}
