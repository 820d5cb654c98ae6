package webhook

import (
	"cmp"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/webhooks"
)

// The due schedule is read incrementally, because a host that is down can
// leave a hundred thousand due webhooks on it and reading them all on every
// wake-up took a third of the CPU in a storm. A round reads from the lowest
// of: the watermark (everything due before it has been looked at; once an
// interval, less a margin), the keys held back behind hosts that have room
// again, and where the previous round stopped. Keys of a host without room (its in-flight
// cap reached, or its circuit open) are passed over by the host the cache
// remembers for their invoice, reading nothing, and the first one passed
// over is kept per host to resume from.
const (
	// duePage is how many due keys one read returns, and maxDueScan how
	// many one round reads at most.
	duePage    = 256
	maxDueScan = 16384
	// dueMargin is how far below the watermark a round reads again once an
	// interval: a commit is stamped before it lands, so a webhook can
	// appear just below a watermark set in between.
	dueMargin = 2 * time.Second
	// fullScanEvery is how many intervals pass between rounds that read
	// the whole due schedule, which catches whatever landed later than the
	// margin.
	fullScanEvery = 60
)

// dueScan is one round's progress through the due schedule.
type dueScan struct {
	now   time.Time
	seen  map[uuid.UUID]bool // invoices already considered
	moves []persistence.OutboxUpdate
	dead  []deadLetter // webhooks that waited past the retry span
}

type deadLetter struct {
	update persistence.OutboxUpdate
	host   string
}

// verdict is what consider did with an invoice.
type verdict int

const (
	passed  verdict = iota // nothing due, or already in flight
	started                // an attempt started
	held                   // its host has no room
	full                   // no worker free
)

// startDue starts the due webhooks that are first in their invoice's
// queue, while workers and their hosts have room.
func (d *Deliverer) startDue(now time.Time) {
	sc := &dueScan{now: now, seen: map[uuid.UUID]bool{}}
	n := 0
	for _, inv := range d.recheck {
		if len(d.inflight) >= d.cfg.Workers {
			d.recheck[n] = inv // still to look at
			n++
			continue
		}
		if !d.inflight[inv] && !sc.seen[inv] {
			sc.seen[inv] = true
			d.consider(sc, inv)
		}
	}
	clear(d.recheck[n:])
	d.recheck = d.recheck[:n]
	d.scan(sc)
	d.settle(sc)
}

// scan reads the due schedule in two parts, each within one round's budget
// of keys. First the fresh part: from where the last round stopped, else
// from the watermark (once an interval less a margin). Then the catch-up
// part for hosts that have room again: from the first key held back for
// them (or where the last catch-up stopped) up to where the fresh part
// began. The fresh part goes first so that a host with a long backlog
// getting a free slot each round never keeps the scan from new webhooks.
// Every fullScanEvery intervals the whole schedule is read instead.
func (d *Deliverer) scan(sc *dueScan) {
	if len(d.inflight) >= d.cfg.Workers {
		return
	}
	budget := cmp.Or(d.cfg.scanBudget, maxDueScan)
	var from *persistence.OutboxDue
	switch {
	case !sc.now.Before(d.fullScan):
		clear(d.held)
		d.catchup = nil
		d.fullScan = sc.now.Add(fullScanEvery * d.cfg.Interval)
	case d.resume != nil:
		from = d.resume
	case d.watermark != 0:
		lo := persistence.OutboxDue{At: d.watermark}
		if !sc.now.Before(d.marginScan) {
			lo.At -= int64(dueMargin)
			d.marginScan = sc.now.Add(d.cfg.Interval)
		}
		from = &lo
	}
	stop, reachedEnd := d.scanRange(sc, from, nil, &budget)
	d.resume = stop
	if reachedEnd {
		// New webhooks are stamped by the registry's clock, retries by the
		// dispatcher's: the watermark is the earlier of the two.
		d.watermark = min(sc.now.UnixNano(), d.cfg.Stamps.Now().UnixNano())
	}
	if from == nil || stop != nil {
		return // read from the first key, or out of budget or workers
	}
	lo := d.catchup
	var reopened []string
	for host, k := range d.held {
		if d.hasRoom(host, sc.now) {
			if lo == nil || before(k, *lo) {
				lo = &k
			}
			delete(d.held, host)
			reopened = append(reopened, host)
		}
	}
	if d.catchup != nil {
		reopened = nil // a catch-up left unfinished reads on to its end
	}
	if lo != nil && before(*lo, *from) {
		d.catchup, _ = d.scanRange(sc, lo, from, &budget, reopened...)
	} else {
		d.catchup = nil
	}
}

// scanRange considers the due keys from lo (nil: the first) up to the key
// before hi (nil: every key due by now), within budget. It returns where it
// stopped, nil when it got to the end, and whether that end was the last
// key due.
//
// A catch-up for hosts that had room again (reopened) stops as soon as
// none of them has room left, holding each from the key it stopped at:
// every other key of the range was looked at before and is held by its
// own host, so reading on would only pass over keys. A slow receiver frees
// a slot every second or so, and reading its whole backlog up to the
// round's budget each time was the slow-receiver storm's extra cost.
func (d *Deliverer) scanRange(sc *dueScan, lo, hi *persistence.OutboxDue, budget *int, reopened ...string) (*persistence.OutboxDue, bool) {
	after := justBefore(lo)
	// A reopened host usually has a slot or two: read a little at a time.
	page := duePage
	if len(reopened) > 0 {
		page = duePage / 8
	}
	for {
		limit := min(page, max(1, *budget))
		keys, err := d.store.DueOutbox(sc.now.UnixNano(), after, limit)
		if err != nil {
			d.log.Error("scan due webhooks", slog.Any("err", err))
			return lo, false // from the same place next round
		}
		d.scanned += len(keys)
		for i, due := range keys {
			if hi != nil && !before(due, *hi) {
				return nil, false
			}
			switch d.considerDue(sc, due) {
			case full:
				return &keys[i], false
			case started, held:
				if len(reopened) > 0 && !slices.ContainsFunc(reopened, func(h string) bool { return d.hasRoom(h, sc.now) }) {
					for _, h := range reopened {
						d.hold(h, due)
					}
					return nil, false
				}
			}
		}
		*budget -= len(keys)
		if len(keys) < limit {
			return nil, true
		}
		after = &keys[len(keys)-1]
		if *budget <= 0 {
			next := *after
			next.Seq++ // just past it
			return &next, false
		}
	}
}

// considerDue looks at one due key: passed over without a read when the
// host remembered for its invoice has no room, else considered.
func (d *Deliverer) considerDue(sc *dueScan, due persistence.OutboxDue) verdict {
	if d.inflight[due.Invoice] || sc.seen[due.Invoice] {
		return passed
	}
	if len(d.inflight) >= d.cfg.Workers {
		return full
	}
	// One that waited past the retry span is read even so, to dead-letter.
	if host, ok := d.hostCache[due.Invoice]; ok && !d.hasRoom(host, sc.now) && due.At >= sc.now.UnixNano()-int64(d.span) {
		d.hold(host, due)
		return held
	}
	sc.seen[due.Invoice] = true
	return d.consider(sc, due.Invoice)
}

// hold keeps the first key passed over for host.
func (d *Deliverer) hold(host string, due persistence.OutboxDue) {
	if k, ok := d.held[host]; !ok || before(due, k) {
		d.held[host] = due
	}
}

// hasRoom reports whether an attempt to host may start now.
func (d *Deliverer) hasRoom(host string, now time.Time) bool {
	return d.hosts[host] < d.cfg.PerHost && d.breakers.allows(host, now)
}

// consider starts an attempt of the invoice's first pending webhook if it is
// due and its host has room. Pending webhooks behind it are moved to its
// next time: they are not read again every round while it retries, and go
// out once it is delivered or dead. One that waited past the retry span
// while its host's circuit was open is dead-lettered instead.
func (d *Deliverer) consider(sc *dueScan, inv uuid.UUID) verdict {
	q, err := d.store.OutboxQueue(inv)
	if err != nil {
		d.log.Error("read webhook queue", slog.String("invoice_id", inv.String()), slog.Any("err", err))
		return passed
	}
	head := slices.IndexFunc(q, func(e persistence.OutboxEntry) bool { return e.State.Status == persistence.OutboxPending })
	if head < 0 {
		return passed
	}
	h := q[head]
	for _, e := range q[head+1:] {
		if e.State.Status == persistence.OutboxPending && e.State.Next < h.State.Next {
			moved := e.State
			moved.Next = h.State.Next
			sc.moves = append(sc.moves, persistence.OutboxUpdate{Invoice: inv, Seq: e.Record.Seq, Old: e.State, New: moved})
		}
	}
	if h.State.Next > sc.now.UnixNano() {
		return passed
	}
	host := d.remember(inv, h.Record.URL)
	// Held back by its circuit (not by the in-flight cap) past the span.
	if !d.breakers.allows(host, sc.now) && sc.now.Sub(time.Unix(0, h.Record.CreatedAt)) > d.span {
		next := h.State
		next.Status, next.Next = persistence.OutboxDead, 0
		sc.dead = append(sc.dead, deadLetter{update: persistence.OutboxUpdate{Invoice: inv, Seq: h.Record.Seq, Old: h.State, New: next}, host: host})
		return passed
	}
	if !d.hasRoom(host, sc.now) {
		d.hold(host, persistence.OutboxDue{At: h.State.Next, Invoice: inv, Seq: h.Record.Seq})
		return held
	}
	keys := d.cfg.Keys.SigningKeys(h.Record.ProjectID)
	if len(keys) == 0 {
		// Every key of the project was revoked (or the project is unknown):
		// nothing to sign with. The webhook waits, checked again every
		// keylessWait, and goes out signed once the project has a key.
		d.log.Warn("webhook waits: its project has no live key", slog.String("webhook_id", h.Record.ID), slog.String("project_id", h.Record.ProjectID.String()))
		waiting := h.State
		waiting.Next = sc.now.Add(keylessWait).UnixNano()
		sc.moves = append(sc.moves, persistence.OutboxUpdate{Invoice: inv, Seq: h.Record.Seq, Old: h.State, New: waiting})
		return passed
	}
	d.inflight[inv] = true
	d.hosts[host]++
	d.breakers.started(host)
	go d.attempt(job{
		invoice: inv, seq: h.Record.Seq, requeues: h.State.Requeues, host: host,
		delivery: webhooks.Delivery{URL: h.Record.URL, ID: h.Record.ID, Body: h.Record.Body, Keys: keys, Timestamp: sc.now},
	})
	return started
}

// settle writes the round's moves and dead letters.
func (d *Deliverer) settle(sc *dueScan) {
	updates := sc.moves
	for _, dl := range sc.dead {
		updates = append(updates, dl.update)
	}
	if err := d.store.UpdateOutbox(updates); err != nil {
		d.log.Error("reschedule webhooks waiting behind earlier ones", slog.Any("err", err))
		return
	}
	for _, dl := range sc.dead {
		d.metrics.deliveries.WithLabelValues("dead").Inc()
		d.failures.failed(dl.host, "retry span passed while the host was failing", true, true)
	}
}

// remember caches the host of an invoice's callback URL, so a held host's
// due keys are passed over without a read. The cache holds at most
// HostCache invoices; when full, an eighth of it is dropped (a miss costs
// one read of the invoice's queue).
func (d *Deliverer) remember(inv uuid.UUID, rawURL string) string {
	host, ok := d.hostCache[inv]
	if ok && d.urlHosts[rawURL] == host {
		return host
	}
	host, ok = d.urlHosts[rawURL]
	if !ok {
		host = hostOf(rawURL)
		if len(d.urlHosts) >= maxURLHosts {
			clear(d.urlHosts)
		}
		d.urlHosts[rawURL] = host
	}
	if _, ok := d.hostCache[inv]; !ok && len(d.hostCache) >= d.cfg.HostCache {
		drop := max(1, d.cfg.HostCache/8)
		for k := range d.hostCache {
			if drop == 0 {
				break
			}
			delete(d.hostCache, k)
			drop--
		}
	}
	d.hostCache[inv] = host
	return host
}

// maxURLHosts bounds the callback URL -> host memo (URLs repeat: a
// project's callback URL is usually one).
const maxURLHosts = 4096

// before orders due keys as the schedule does.
func before(a, b persistence.OutboxDue) bool {
	if a.At != b.At {
		return a.At < b.At
	}
	if c := strings.Compare(string(a.Invoice[:]), string(b.Invoice[:])); c != 0 {
		return c < 0
	}
	return a.Seq < b.Seq
}

// justBefore is the DueOutbox cursor that reads from k on (nil: from the
// first key).
func justBefore(k *persistence.OutboxDue) *persistence.OutboxDue {
	if k == nil {
		return nil
	}
	if k.Seq > 0 {
		return &persistence.OutboxDue{At: k.At, Invoice: k.Invoice, Seq: k.Seq - 1}
	}
	if k.Invoice != (uuid.UUID{}) {
		inv := k.Invoice
		for i := len(inv) - 1; i >= 0; i-- { // the previous uuid
			inv[i]--
			if inv[i] != 0xff {
				break
			}
		}
		return &persistence.OutboxDue{At: k.At, Invoice: inv, Seq: 1<<64 - 1}
	}
	return &persistence.OutboxDue{At: k.At - 1, Invoice: uuid.Max, Seq: 1<<64 - 1}
}

// keylessWait is how long a webhook of a project without a live key waits
// before it is looked at again.
const keylessWait = time.Minute

// attempt runs on a worker goroutine and touches no actor state.
func (d *Deliverer) attempt(j job) {
	res, err := d.cfg.Sender.Send(d.ctx, j.delivery)
	d.results <- attemptResult{job: j, res: res, err: err}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// hostOf is the per-host key of a callback URL: lower-case host and port.
// An unparsable URL gets "", and the Sender refuses it.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
