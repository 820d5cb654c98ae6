package webhook

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// failureLog aggregates failed webhook attempts per host, so a receiver
// that is down costs the log a few lines a minute instead of one per
// attempt: each interval, one INFO line per host whose attempts failed
// (and one WARN line per host whose webhooks were dead-lettered), and one
// line when a host's circuit opens or closes. A host behind an open
// circuit is reported when it opens and when it closes, with its counts,
// not every interval. Each attempt is logged at DEBUG and kept in the
// webhook's attempt history.
type failureLog struct {
	log      *slog.Logger
	interval time.Duration
	next     time.Time // the next flush
	hosts    map[string]*hostFailures
}

type hostFailures struct {
	failed, dead int
	lastErr      string
}

func newFailureLog(log *slog.Logger, interval time.Duration) *failureLog {
	return &failureLog{log: log, interval: interval, hosts: map[string]*hostFailures{}}
}

func (l *failureLog) host(h string) *hostFailures {
	f := l.hosts[h]
	if f == nil {
		f = &hostFailures{}
		l.hosts[h] = f
	}
	return f
}

// failed counts a failed attempt to host (dead: its webhook was
// dead-lettered); quiet leaves it out of the interval's INFO line because
// the host's open circuit reports it.
func (l *failureLog) failed(host, errText string, dead, quiet bool) {
	f := l.host(host)
	if dead {
		f.dead++
	}
	if !quiet {
		f.failed++
		f.lastErr = errText
	}
}

// transition logs a host's circuit opening or closing.
func (l *failureLog) transition(ctx context.Context, host string, t transition, b *breaker) {
	switch t {
	case opened:
		l.log.InfoContext(ctx, "webhook host failing: attempts to it are spaced out until it answers",
			slog.String("host", host), slog.Int("failed_in_a_row", b.failures), slog.Duration("probe_every", b.cooldown), slog.String("last_error", b.lastErr))
		// Its failures so far are in this line.
		delete(l.hosts, host)
	case closed:
		l.log.InfoContext(ctx, "webhook host answering again: its webhooks resume",
			slog.String("host", host), slog.Int("failed_while_down", b.failed))
	}
}

// flush writes the interval's lines when the interval has passed.
func (l *failureLog) flush(ctx context.Context, now time.Time) {
	if now.Before(l.next) {
		return
	}
	l.next = now.Add(l.interval)
	for _, h := range slices.Sorted(maps.Keys(l.hosts)) {
		f := l.hosts[h]
		if f.failed > 0 {
			l.log.InfoContext(ctx, "webhook attempts failed", slog.String("host", h), slog.Int("failed", f.failed), slog.String("last_error", f.lastErr))
		}
		if f.dead > 0 {
			l.log.WarnContext(ctx, "webhooks dead-lettered", slog.String("host", h), slog.Int("dead", f.dead))
		}
	}
	clear(l.hosts)
}
