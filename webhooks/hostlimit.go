package webhooks

import (
	"context"
	"fmt"
	"sync"
)

// hostLimiter caps concurrent attempts per host:port, so one slow merchant
// endpoint cannot take every deliverer worker and we never flood a receiver.
//
// A semaphore, once made, is never removed: there is one per distinct
// callback host:port this process has delivered to, a map entry and an empty
// channel each, and a deployment has about as many as its merchants have
// endpoints. Dropping idle ones would need reference counting for no gain.
type hostLimiter struct {
	max int

	mu   sync.Mutex // guards sems; acquire is the only writer
	sems map[string]chan struct{}
}

func newHostLimiter(max int) *hostLimiter {
	return &hostLimiter{max: max, sems: make(map[string]chan struct{})}
}

// acquire waits for a slot for host, or for ctx to end. The caller must call
// release exactly once when the attempt is over.
func (l *hostLimiter) acquire(ctx context.Context, host string) (release func(), err error) {
	l.mu.Lock()
	sem, ok := l.sems[host]
	if !ok {
		sem = make(chan struct{}, l.max)
		l.sems[host] = sem
	}
	l.mu.Unlock()

	// A done ctx must not win a free slot by the luck of select.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("wait for a slot to %s: %w", host, err)
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a slot to %s: %w", host, ctx.Err())
	}
}
