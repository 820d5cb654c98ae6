package rates

import "time"

// Clock is the time the Aggregator reads and waits on. Tests pass a fake that
// they move by hand, so refresh schedules, backoff and staleness are tested
// without sleeping.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed. The aggregator may abandon
	// the channel (on shutdown), so it must not block the clock: buffer it.
	After(d time.Duration) <-chan time.Time
}

// systemClock is the real clock, the default when no Clock is configured.
// time.After's timer is collected once unreferenced (Go 1.23+), so an
// abandoned wait leaks nothing.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
