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
	quiescePoll = 100 * time.Millisecond
	quiesceMax  = 30 * time.Second
	// quiesceQuiet is how many polls in a row must find nothing running:
	// one flush can end just as the next compaction is picked.
	quiesceQuiet = 3
)

// quiesce waits until /metrics at env.BaseURL has shown no Pebble flush or
// compaction running for quiesceQuiet polls, for at most quiesceMax. It
// returns the time waited, and false when the server does not export
// invoiced_pebble_background_jobs (an older build) or the wait ran out.
func quiesce(ctx context.Context, env *Env) (time.Duration, bool) {
	start := time.Now()
	quiet := 0
	for time.Since(start) < quiesceMax && ctx.Err() == nil {
		m, err := scrape(ctx, env.Client, env.BaseURL)
		if err != nil || !m.has("invoiced_pebble_background_jobs") {
			return time.Since(start), false
		}
		if m.sum("invoiced_pebble_background_jobs") == 0 {
			if quiet++; quiet >= quiesceQuiet {
				return time.Since(start), true
			}
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
		case <-time.After(quiescePoll):
		}
	}
	return time.Since(start), false
}
