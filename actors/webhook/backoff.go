package webhook

import (
	"time"

	"github.com/invoiced/invoiced/internal/backoff"
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

// retryBackoff is the retry schedule (nil = DefaultRetrySchedule) with
// jitter from rnd (nil = math/rand/v2).
func retryBackoff(schedule []time.Duration, rnd func() float64) backoff.Backoff {
	if schedule == nil {
		schedule = DefaultRetrySchedule
	}
	return backoff.Backoff{Steps: schedule, Jitter: backoff.Spread(retryJitter, rnd)}
}

// retrySpan is the longest a webhook can take to fail its whole schedule
// (nil = DefaultRetrySchedule): the waits at their most jitter. A webhook
// held back longer (its host's circuit open) is dead-lettered without an
// attempt.
func retrySpan(schedule []time.Duration) time.Duration {
	if schedule == nil {
		schedule = DefaultRetrySchedule
	}
	var total time.Duration
	for _, w := range schedule {
		total += w
	}
	return time.Duration(float64(total) * (1 + retryJitter))
}
