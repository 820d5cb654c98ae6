package webhook

import (
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

// startDue starts the due webhooks that are first in their invoice's
// queue, while workers and their hosts have room, paging through the due
// schedule so invoices stuck behind a full host do not hide later ones.
func (d *Deliverer) startDue(now time.Time) {
	if len(d.inflight) >= d.cfg.Workers {
		return
	}
	sc := &dueScan{now: now, seen: map[uuid.UUID]bool{}}
	var after *persistence.OutboxDue
	for scanned := 0; len(d.inflight) < d.cfg.Workers && scanned < maxDueScan; {
		page, err := d.store.DueOutbox(now.UnixNano(), after, duePage)
		if err != nil {
			d.log.Error("scan due webhooks", slog.Any("err", err))
			break
		}
		for _, due := range page {
			if len(d.inflight) >= d.cfg.Workers {
				break
			}
			d.consider(sc, due.Invoice)
		}
		if len(page) < duePage {
			break
		}
		scanned += len(page)
		after = &page[len(page)-1]
	}
	if err := d.store.UpdateOutbox(sc.moves); err != nil {
		d.log.Error("reschedule webhooks waiting behind earlier ones", slog.Any("err", err))
	}
}

// dueScan is one round's progress through the due schedule.
type dueScan struct {
	now   time.Time
	seen  map[uuid.UUID]bool // invoices already considered
	moves []persistence.OutboxUpdate
}

// consider starts an attempt of the invoice's first pending webhook if it is
// due and its host has room. Pending webhooks behind it are moved to its
// next time: they are not read again every round while it retries, and go
// out in the round that records it delivered or dead.
func (d *Deliverer) consider(sc *dueScan, inv uuid.UUID) {
	if d.inflight[inv] || sc.seen[inv] {
		return
	}
	sc.seen[inv] = true
	if u, ok := d.urls[inv]; ok && d.hosts[hostOf(u)] >= d.cfg.PerHost {
		return
	}
	q, err := d.store.OutboxQueue(inv)
	if err != nil {
		d.log.Error("read webhook queue", slog.String("invoice_id", inv.String()), slog.Any("err", err))
		return
	}
	head := slices.IndexFunc(q, func(e persistence.OutboxEntry) bool { return e.State.Status == persistence.OutboxPending })
	if head < 0 {
		return
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
		return
	}
	if len(d.urls) >= maxURLCache {
		clear(d.urls)
	}
	d.urls[inv] = h.Record.URL
	host := hostOf(h.Record.URL)
	if d.hosts[host] >= d.cfg.PerHost {
		return
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
		return
	}
	d.inflight[inv] = true
	d.hosts[host]++
	go d.attempt(job{
		invoice: inv, seq: h.Record.Seq, requeues: h.State.Requeues, host: host,
		delivery: webhooks.Delivery{URL: h.Record.URL, ID: h.Record.ID, Body: h.Record.Body, Keys: keys, Timestamp: sc.now},
	})
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
