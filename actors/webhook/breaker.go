package webhook

import (
	"time"

	"github.com/invoiced/invoiced/internal/backoff"
)

// BreakerConfig is the per-host circuit breaker of webhook delivery; zero
// fields take their defaults.
type BreakerConfig struct {
	// Failures is how many attempts in a row to one host must fail before
	// its circuit opens (default 5).
	Failures int
	// Cooldown is the first wait of an open circuit before one probe
	// attempt (default 2 s); each failed probe doubles it up to
	// MaxCooldown (default 30 s), which bounds how long a host that
	// answers again waits for its webhooks to resume.
	Cooldown, MaxCooldown time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Failures <= 0 {
		c.Failures = 5
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 2 * time.Second
	}
	if c.MaxCooldown <= 0 {
		c.MaxCooldown = 30 * time.Second
	}
	c.MaxCooldown = max(c.MaxCooldown, c.Cooldown)
	return c
}

// breaker is one host's circuit. Closed, every due webhook to the host is
// attempted (within the per-host cap). Open, none is until the cooldown has
// passed; then one probe goes out, and its answer closes the circuit or
// reopens it for twice the cooldown. Webhooks waiting on an open circuit
// are neither attempted nor rewritten: they stay due on disk, count no
// failure, and go out as soon as the circuit closes. The host's own
// webhooks still follow their retry schedule (each failed probe is a
// failed attempt of its webhook), and one that waits past the schedule's
// span is dead-lettered like one whose last retry failed.
type breaker struct {
	failures int       // attempts in a row that failed
	open     bool      // attempts wait for the cooldown
	until    time.Time // when open: the earliest probe
	probes   int       // cooldowns so far: the first, then one per failed probe
	cooldown time.Duration
	probing  bool // the probe is in flight
	// For the log: failed attempts and dead letters since the circuit
	// opened, and the last error.
	failed, dead int
	lastErr      string
}

// breakers are the circuits of the hosts that failed lately; a host that
// answers is forgotten, so there is one entry per failing host.
type breakers struct {
	cfg      BreakerConfig
	cooldown backoff.Backoff
	hosts    map[string]*breaker
}

func newBreakers(cfg BreakerConfig) *breakers {
	cfg = cfg.withDefaults()
	return &breakers{cfg: cfg, cooldown: backoff.Backoff{Min: cfg.Cooldown, Max: cfg.MaxCooldown}, hosts: map[string]*breaker{}}
}

// wait starts b's next cooldown.
func (bs *breakers) wait(b *breaker, now time.Time) {
	b.probes++
	b.cooldown, _ = bs.cooldown.Wait(b.probes)
	b.until = now.Add(b.cooldown)
}

// allows reports whether an attempt to host may start now.
func (bs *breakers) allows(host string, now time.Time) bool {
	b := bs.hosts[host]
	return b == nil || !b.open || (!b.probing && !now.Before(b.until))
}

// started notes an attempt to host; when the circuit is open it is the
// probe.
func (bs *breakers) started(host string) {
	if b := bs.hosts[host]; b != nil && b.open {
		b.probing = true
	}
}

// probeNow ends an open circuit's cooldown.
func (bs *breakers) probeNow(host string, now time.Time) {
	if b := bs.hosts[host]; b != nil && b.open && b.until.After(now) {
		b.until = now
	}
}

// transition is what an attempt's result did to its host's circuit.
type transition int

const (
	unchanged transition = iota
	opened               // the circuit opened
	closed               // an open circuit closed
)

// record notes an attempt's result and returns the circuit's change.
func (bs *breakers) record(host string, ok bool, errText string, now time.Time) (transition, *breaker) {
	b := bs.hosts[host]
	if ok {
		if b == nil {
			return unchanged, nil
		}
		delete(bs.hosts, host)
		if b.open {
			return closed, b
		}
		return unchanged, b
	}
	if b == nil {
		b = &breaker{}
		bs.hosts[host] = b
	}
	b.failures++
	b.lastErr = errText
	switch {
	case b.open && b.probing:
		b.probing = false
		b.failed++
		bs.wait(b, now)
	case b.open:
		// An attempt begun before the circuit opened.
		b.failed++
	case b.failures >= bs.cfg.Failures:
		b.open, b.failed = true, b.failures
		bs.wait(b, now)
		return opened, b
	}
	return unchanged, b
}

// open is how many circuits are open.
func (bs *breakers) openCount() int {
	n := 0
	for _, b := range bs.hosts {
		if b.open {
			n++
		}
	}
	return n
}
