package rates

import (
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/clock"
)

// fakeClock is the shared test clock with the two verbs these tests use.
type fakeClock struct{ *clock.Test }

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{clock.NewTest(now)} }

// Advance moves time by d and fires every wait that is then due.
func (c *fakeClock) Advance(d time.Duration) { c.Add(d) }

// nextWait returns the duration of the next After call, failing the test if
// none comes within a few seconds of real time.
func (c *fakeClock) nextWait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.Waits():
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no wait was scheduled")
		return 0
	}
}
