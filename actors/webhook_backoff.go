package actors

import (
	"math/rand/v2"
	"time"
)

// DefaultRetrySchedule is the wait after each failed attempt: 10 s, 1 min,
// 5 min, 30 min, 2 h, 6 h, 12 h, then daily. The first attempt plus these
// nine retries span about three days (68.6 h before jitter); a record whose
// tenth attempt fails is dead-lettered.
var DefaultRetrySchedule = []time.Duration{
	10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

// retryJitter spreads each wait uniformly over ±20%, so the webhooks of a
// receiver that came back after an outage do not all return at once.
const retryJitter = 0.2

// backoff is a retry schedule with jitter.
type backoff struct {
	schedule []time.Duration
	// rand returns a number in [0, 1).
	rand func() float64
}

func newBackoff(schedule []time.Duration, rnd func() float64) backoff {
	if schedule == nil {
		schedule = DefaultRetrySchedule
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	return backoff{schedule: schedule, rand: rnd}
}

// next returns the wait after the failures-th failed attempt in a row, or
// false when the schedule is spent and the record is to be dead-lettered.
func (b backoff) next(failures int) (time.Duration, bool) {
	if failures < 1 || failures > len(b.schedule) {
		return 0, false
	}
	f := 1 + retryJitter*(2*b.rand()-1)
	return time.Duration(float64(b.schedule[failures-1]) * f), true
}
