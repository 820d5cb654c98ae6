package clock

import (
	"sync"
	"time"
)

// Test is a Clock that moves only when told to (Set, Add). It is safe for a
// server's goroutines and the test's at once. Waits (After) fire when the
// clock is moved past them; each wait's duration is also offered on Waits,
// so a test can see what was scheduled before it moves time.
type Test struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waits   chan time.Duration
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewTest returns a test clock standing at t.
func NewTest(t time.Time) *Test {
	return &Test{now: t, waits: make(chan time.Duration, 1024)}
}

// Now implements Clock.
func (c *Test) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After implements Clock: the channel fires once the clock is moved to or
// past now+d (at once when d <= 0).
func (c *Test) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	}
	c.mu.Unlock()
	select {
	case c.waits <- d:
	default: // nobody is reading Waits; never block the caller
	}
	return ch
}

// Waits delivers the duration of every After call (up to a buffer of 1024
// not yet read).
func (c *Test) Waits() <-chan time.Duration { return c.waits }

// Set moves the clock to t and fires the waits then due.
func (c *Test) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// Add moves the clock by d and fires the waits then due.
func (c *Test) Add(d time.Duration) {
	c.mu.Lock()
	t := c.now.Add(d)
	c.mu.Unlock()
	c.Set(t)
}
