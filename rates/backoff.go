package rates

import (
	"math/rand/v2"
	"time"
)

// backoff is how long a provider waits after consecutive failed fetches: min
// after the first, doubling after each further one, never more than max, and
// jittered so that many instances restarted together do not keep hitting a
// provider in step. A success resets the count (the caller's job) and the
// provider goes back to the normal refresh interval.
type backoff struct {
	min, max time.Duration
	// jitter spreads a nominal delay; nil means equalJitter. Tests use the
	// identity to assert the nominal schedule.
	jitter func(time.Duration) time.Duration
}

// delay is the wait after failures consecutive failures (failures >= 1).
func (b backoff) delay(failures int) time.Duration {
	d := b.min
	for i := 1; i < failures && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.jitter == nil {
		return equalJitter(d)
	}
	return b.jitter(d)
}

// equalJitter picks uniformly from [d/2, d]: never less than half the nominal
// delay, so a failing provider is not hammered, and never more than d, so the
// cap holds.
func equalJitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}
