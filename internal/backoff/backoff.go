// Package backoff computes how long to wait after consecutive failures
// before trying again; the exchange-rate providers, the webhook Deliverer
// and the chain monitors share this one type (tailscale's
// util/backoff is the model).
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff maps the number of consecutive failures to the wait before the
// next attempt: either an explicit schedule (Steps), or doubling from Min up
// to Max. A success resets the count (the caller's job).
type Backoff struct {
	// Steps, when set, is the wait after each failure in turn; after the
	// last one Wait reports false (give up).
	Steps []time.Duration
	// Min and Max, when Steps is nil: Min after the first failure, doubling
	// after each further one, never more than Max, never giving up.
	Min, Max time.Duration
	// Jitter spreads a nominal wait (nil = none).
	Jitter func(time.Duration) time.Duration
}

// Wait is the wait after failures consecutive failures (failures >= 1),
// and false when the schedule is spent.
func (b Backoff) Wait(failures int) (time.Duration, bool) {
	if failures < 1 {
		return 0, false
	}
	var d time.Duration
	if b.Steps != nil {
		if failures > len(b.Steps) {
			return 0, false
		}
		d = b.Steps[failures-1]
	} else {
		d = b.Min
		for i := 1; i < failures && d < b.Max; i++ {
			d *= 2
		}
		d = min(d, b.Max)
	}
	if b.Jitter != nil {
		d = b.Jitter(d)
	}
	return d, true
}

// Equal picks uniformly from [d/2, d]: never less than half the nominal
// wait, so a failing peer is not hammered, and never more than d, so a cap
// holds. Many instances restarted together then do not retry in step.
func Equal(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// Spread returns a jitter that spreads a wait uniformly over ±frac of it;
// rnd returns a number in [0, 1) (nil = math/rand/v2).
func Spread(frac float64, rnd func() float64) func(time.Duration) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	return func(d time.Duration) time.Duration {
		return time.Duration(float64(d) * (1 + frac*(2*rnd()-1)))
	}
}
