package actors

import "sync"

// mailboxWorkers runs actor mailboxes on long-lived goroutines: it is the
// actor.Dispatcher (protoactor's word for a mailbox scheduler) of every
// table actor. protoactor's
// default dispatcher starts a new goroutine for every mailbox run, and an
// invoice actor's run goes deep (decoding, deciding, a Pebble commit), so
// every fresh goroutine grew its stack by copying it. A worker's stack
// grows once and stays grown (measurements: docs/performance.md).
//
// Schedule never waits: a run is queued for the workers, or handed to a
// fresh goroutine, as protoactor would, when mailboxQueue runs are already
// waiting. Workers block in fsync together (commits of single invoices),
// so the pool is sized for that concurrency. A queued run waits for a free
// worker, so no run may wait for another run of its table (none does: an
// invoice actor hands a group commit over with persistence.Group.Add and
// answers when it is durable).
type mailboxWorkers struct {
	work chan func()
	done chan struct{}
	once sync.Once
}

// mailboxQueue is how many runs wait for a worker before Schedule starts
// goroutines. A chain round schedules ten thousand runs at once, far
// faster than two CPUs run them: handed over only to a worker idle at
// that moment, most went to fresh goroutines that grew their stacks (6 %
// of the round's CPU samples once invoice actors stopped blocking in the
// group commit).
const mailboxQueue = 4096

// mailboxThroughput is how many messages a mailbox run processes before
// yielding the goroutine (protoactor's default).
const mailboxThroughput = 300

// newMailboxWorkers starts n workers; up to queue runs wait for them.
func newMailboxWorkers(n, queue int) *mailboxWorkers {
	w := &mailboxWorkers{work: make(chan func(), queue), done: make(chan struct{})}
	for range n {
		go w.loop()
	}
	return w
}

func (w *mailboxWorkers) loop() {
	for {
		select {
		case fn := <-w.work:
			fn()
		case <-w.done:
			return
		}
	}
}

// Schedule implements actor.Dispatcher.
func (w *mailboxWorkers) Schedule(fn func()) {
	select {
	case w.work <- fn:
	default:
		go fn()
	}
}

// Throughput implements actor.Dispatcher.
func (w *mailboxWorkers) Throughput() int { return mailboxThroughput }

// stop ends the workers as they become idle. It does not wait for runs in
// progress: one stuck in a commit on a failing disk must not hang the
// shutdown (the actor system's own shutdown has already stopped the
// actors). Calling it again does nothing.
func (w *mailboxWorkers) stop() { w.once.Do(func() { close(w.done) }) }
