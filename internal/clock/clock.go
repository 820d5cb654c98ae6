// Package clock is the one source of time of invoiced: every component that
// reads or waits on time takes a Clock, so production runs on the wall
// clock and tests move time by hand instead of sleeping (lnd's clock.Clock
// and tailscale's tstime.Clock are the models).
package clock

import "time"

// Clock tells the time and waits on it.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed. Callers may abandon the
	// channel (on shutdown), so an implementation must not block on it.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock. time.After's timer is collected once unreferenced
// (Go 1.23+), so an abandoned wait leaks nothing.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// After implements Clock.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// OrReal returns c, or the wall clock when c is nil, so a zero Config
// field means "real time".
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
