package bench

import (
	"context"
	"time"
)

// Before each request phase the runner waits until the server's store has
// no flush or compaction running (read from /metrics), so a phase is not
// charged for the background work an earlier phase left behind: without
// it, a get phase right after a create phase spent a fifth of its CPU on
// the creates' compactions, and its ratio to the trivial handler swung
// between 0.48x and 0.78x from run to run. The wait is reported with the
// phase (QuiesceS), so the cost is visible rather than hidden; the mixed
// scenario is the one that measures reads and writes together.
const (
	quiesceMax = 30 * time.Second
	// quiesceQuiet is how many scrapes in a row (sampleInterval apart, so
	// 300 ms) must find nothing running: one flush can end just as the next
	// compaction is picked.
	quiesceQuiet = 15
)

// quiesce waits until /metrics at env.BaseURL has shown no Pebble flush or
// compaction running for quiesceQuiet scrapes, for at most quiesceMax. It
// returns the time waited, and false when the server does not export
// invoiced_pebble_background_jobs (an older build) or the wait ran out.
func quiesce(ctx context.Context, env *Env) (time.Duration, bool) {
	start := time.Now()
	quiet, missing := 0, false
	// waitCount's polling, counting consecutive quiet scrapes.
	cv, err := waitCount(ctx, env.Client, env.BaseURL, start, 0, quiesceQuiet, quiesceMax, func(m metricsSample) float64 {
		switch jobs, found := m.lookup("invoiced_pebble_background_jobs"); {
		case !found:
			missing = true
			return quiesceQuiet // stop: there is nothing to wait for
		case jobs == 0:
			quiet++
		default:
			quiet = 0
		}
		return float64(quiet)
	}, nil)
	return time.Since(start), err == nil && !missing && len(cv.v) > 0 && cv.v[len(cv.v)-1] >= quiesceQuiet
}
