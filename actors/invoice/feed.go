package invoice

import (
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// feed hands each committed state of an invoice to the readers following
// it: the checkout pages' live status streams. It is fed by the same
// Committed hook as the state cache, so followers learn of every change
// without polling the store or keeping the invoice's actor alive.
//
// Publishing runs inside the commit's critical section and must never
// block it: each follower has a one-slot channel that holds the latest
// state, and a newer state replaces one the follower has not taken yet (a
// page wants the current state, not every step). Only committed sends, and
// only under mu, so the replace cannot race another sender.
type feed struct {
	followers atomic.Int64 // fast path: commits skip the lock when nobody follows

	mu   sync.Mutex // guards subs
	subs map[uuid.UUID]map[chan engine.Invoice]struct{}
}

func newFeed() *feed {
	return &feed{subs: map[uuid.UUID]map[chan engine.Invoice]struct{}{}}
}

// committed passes inv to its invoice's followers.
func (f *feed) committed(inv *engine.Invoice) {
	if f.followers.Load() == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs[inv.ID] {
		select {
		case <-ch: // drop the state the follower has not taken: this one is newer
		default:
		}
		ch <- *inv
	}
}

// follow registers a follower of id; stop unregisters it.
func (f *feed) follow(id uuid.UUID) (states <-chan engine.Invoice, stop func()) {
	ch := make(chan engine.Invoice, 1)
	f.mu.Lock()
	set := f.subs[id]
	if set == nil {
		set = map[chan engine.Invoice]struct{}{}
		f.subs[id] = set
	}
	set[ch] = struct{}{}
	f.mu.Unlock()
	f.followers.Add(1)
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(set, ch)
			if len(set) == 0 {
				delete(f.subs, id)
			}
			f.mu.Unlock()
			f.followers.Add(-1)
		})
	}
}

// Lookup returns an invoice of any project by id, for the customer's
// checkout page, which knows the id but no key. Like Get it reads the
// state cache or the store and never activates an actor.
func (s *Service) Lookup(id uuid.UUID) (engine.Invoice, error) {
	return s.latest(id)
}

// Follow delivers the invoice's state after each of its later commits on
// states (the latest one only, if the reader falls behind) until stop is
// called. Follow before reading the current state with Lookup, so no
// commit falls between the two; states older than the one read can then
// be skipped by version.
func (s *Service) Follow(id uuid.UUID) (states <-chan engine.Invoice, stop func()) {
	return s.feed.follow(id)
}
