package persistence

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// The webhook outbox. A Commit that carries OutboxRecords writes each one,
// its first delivery state (pending, due at its creation time), its due key
// and the backlog counter in the same synced batch as the invoice's events:
// a webhook exists exactly when the change it reports does, and nothing is
// lost between the commit and the send. Afterwards only the webhook deliverer
// writes delivery states, through UpdateOutbox, one synced batch per round.

// OutboxRecord is one webhook to deliver: what is sent, to whom, signed with
// whose key. It never changes once written.
type OutboxRecord struct {
	// Seq orders the records of one invoice: the stream version of the
	// event the webhook reports, so it lies in the commit's new versions.
	Seq uint64
	// ID is the X-Webhook-Id, stable across retries.
	ID string
	// Event names what happened ("invoice.status_changed").
	Event string
	// ProjectID names the project whose key signs the webhook; the key
	// itself is not stored here.
	ProjectID uuid.UUID
	URL       string
	// Body is sent and signed as is.
	Body []byte
	// CreatedAt is unix nanos; the first attempt is due then.
	CreatedAt int64
}

// OutboxStatus is where a record is in its delivery.
type OutboxStatus string

// The delivery statuses.
const (
	OutboxPending   OutboxStatus = "pending"   // waiting for (another) attempt
	OutboxDelivered OutboxStatus = "delivered" // a 2xx answer was received
	OutboxDead      OutboxStatus = "dead"      // the retry schedule ran out: dead-lettered
)

// OutboxAttempt is one delivery attempt. Times are unix nanos.
type OutboxAttempt struct {
	At int64 `json:"at"`
	// HTTPStatus is the receiver's status, 0 when no response arrived.
	HTTPStatus int    `json:"http_status,omitempty"`
	Error      string `json:"error,omitempty"`
	Duration   int64  `json:"duration,omitempty"`
}

// OutboxState is a record's delivery state.
type OutboxState struct {
	Status OutboxStatus `json:"status"`
	// Next is when a pending record is due (unix nanos); its due key holds
	// the same time. 0 for delivered and dead records.
	Next int64 `json:"next,omitempty"`
	// Failures counts failed attempts since the record was last queued; it
	// picks the next backoff step.
	Failures int `json:"failures,omitempty"`
	// Requeues counts redeliveries, so the result of an attempt that started
	// before one can be told apart from the requested new attempt.
	Requeues int             `json:"requeues,omitempty"`
	Attempts []OutboxAttempt `json:"attempts,omitempty"`
}

// OutboxEntry is a record with its state.
type OutboxEntry struct {
	Invoice uuid.UUID
	Record  OutboxRecord
	State   OutboxState
}

// OutboxDue is one due key: record (Invoice, Seq) is due at At (unix nanos).
type OutboxDue struct {
	At      int64
	Invoice uuid.UUID
	Seq     uint64
}

// OutboxUpdate replaces a record's delivery state. Old must be exactly the
// stored state: the due key and the counters are moved from Old to New.
type OutboxUpdate struct {
	Invoice  uuid.UUID
	Seq      uint64
	Old, New OutboxState
}

const (
	outboxFormat = 0x01
	// maxWebhookID bounds an id so records stay small and ids printable in
	// a header.
	maxWebhookID = 200
)

type outboxHeader struct {
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	ProjectID uuid.UUID `json:"project_id"`
	URL       string    `json:"url"`
	CreatedAt int64     `json:"created_at"`
}

func encodeOutboxRecord(r OutboxRecord) ([]byte, error) {
	h, err := json.Marshal(outboxHeader{ID: r.ID, Event: r.Event, ProjectID: r.ProjectID, URL: r.URL, CreatedAt: r.CreatedAt})
	if err != nil {
		return nil, err
	}
	v := make([]byte, 0, 1+binary.MaxVarintLen64+len(h)+len(r.Body))
	v = append(v, outboxFormat)
	v = binary.AppendUvarint(v, uint64(len(h)))
	v = append(v, h...)
	return append(v, r.Body...), nil
}

func decodeOutboxRecord(seq uint64, v []byte) (OutboxRecord, error) {
	if len(v) < 1 || v[0] != outboxFormat {
		return OutboxRecord{}, fmt.Errorf("outbox record: unknown format: %w", ErrCorrupt)
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n > uint64(len(v)-1-w) {
		return OutboxRecord{}, fmt.Errorf("outbox record: bad header length: %w", ErrCorrupt)
	}
	start := 1 + w
	var h outboxHeader
	if err := json.Unmarshal(v[start:start+int(n)], &h); err != nil {
		return OutboxRecord{}, fmt.Errorf("outbox record: %w: %v", ErrCorrupt, err)
	}
	return OutboxRecord{
		Seq: seq, ID: h.ID, Event: h.Event, ProjectID: h.ProjectID, URL: h.URL, CreatedAt: h.CreatedAt,
		Body: bytes.Clone(v[start+int(n):]),
	}, nil
}

func encodeOutboxState(st OutboxState) ([]byte, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return append([]byte{outboxFormat}, b...), nil
}

func decodeOutboxState(v []byte) (OutboxState, error) {
	var st OutboxState
	if len(v) < 1 || v[0] != outboxFormat {
		return st, fmt.Errorf("outbox state: unknown format: %w", ErrCorrupt)
	}
	if err := json.Unmarshal(v[1:], &st); err != nil {
		return st, fmt.Errorf("outbox state: %w: %v", ErrCorrupt, err)
	}
	return st, nil
}

// outboxWrites adds c's outbox records to its batch: record, first state,
// due key and backlog count each.
func outboxWrites(b *pebble.Batch, c Commit, version uint64) error {
	for _, r := range c.Outbox {
		if r.Seq <= c.ExpectedVersion || r.Seq > version {
			return fmt.Errorf("outbox record seq %d outside the commit's versions %d..%d: %w", r.Seq, c.ExpectedVersion+1, version, ErrInvalidArgument)
		}
		if r.ID == "" || len(r.ID) > maxWebhookID || r.URL == "" {
			return fmt.Errorf("outbox record seq %d: id (1..%d bytes) and url are required: %w", r.Seq, maxWebhookID, ErrInvalidArgument)
		}
		rec, err := encodeOutboxRecord(r)
		if err != nil {
			return err
		}
		st, err := encodeOutboxState(OutboxState{Status: OutboxPending, Next: clampNanos(r.CreatedAt)})
		if err != nil {
			return err
		}
		if err := errors.Join(
			b.Set(outboxKey(c.Stream, r.Seq, outboxRecordTag), rec, nil),
			b.Set(outboxKey(c.Stream, r.Seq, outboxStateTag), st, nil),
			b.Set(outboxDueKey(r.CreatedAt, c.Stream, r.Seq), nil, nil),
		); err != nil {
			return err
		}
	}
	if n := len(c.Outbox); n > 0 {
		return b.Merge(outboxCounterKey(outboxBacklog), encodeCount(int64(n)), nil)
	}
	return nil
}

// OutboxSignal fires (it is never closed) after a Commit that wrote outbox
// records, so the webhook deliverer sends fresh webhooks at once instead of at its
// next scan. Signals coalesce: one waiting means "look again".
func (s *Store) OutboxSignal() <-chan struct{} { return s.outboxSignal }

func (s *Store) signalOutbox() {
	select {
	case s.outboxSignal <- struct{}{}:
	default:
	}
}

// DueOutbox returns up to limit due keys at or before now (unix nanos),
// earliest first, starting after the key after (nil: from the first), so a
// caller can page through a long schedule.
//
// What it returns is durable, and so is every record and state written
// with or before it: Pebble makes a batch visible to readers once it is in
// the memtable and queued for the WAL, before the WAL is synced, so a scan
// can meet a commit whose caller is still waiting for the fsync (and which
// a crash would take back). A webhook sent for such a commit would report
// a change that never happened. So a scan that found something syncs the
// WAL before returning; the WAL is written in commit order, so that sync
// covers every batch the scan could see, and under load it joins the sync
// the commits in flight wait for anyway.
func (s *Store) DueOutbox(now int64, after *OutboxDue, limit int) ([]OutboxDue, error) {
	lower := []byte{prefixOutboxDue}
	if after != nil {
		lower = append(outboxDueKey(after.At, after.Invoice, after.Seq), 0)
	}
	upper := outboxDueKey(now, uuid.Max, 1<<64-1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: append(upper, 0)})
	if err != nil {
		return nil, fmt.Errorf("due webhooks: %w", err)
	}
	var out []OutboxDue
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) != 1+8+16+8 {
			return nil, errors.Join(fmt.Errorf("due webhooks: key %x: %w", k, ErrCorrupt), it.Close())
		}
		out = append(out, OutboxDue{
			At:      int64(binary.BigEndian.Uint64(k[1:9])),
			Invoice: uuid.UUID(k[9:25]),
			Seq:     binary.BigEndian.Uint64(k[25:]),
		})
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("due webhooks: %w", err)
	}
	if len(out) > 0 {
		if err := s.syncWAL(); err != nil {
			return nil, fmt.Errorf("due webhooks: %w", err)
		}
	}
	return out, nil
}

// syncWAL makes every batch a reader can see durable: it commits an empty
// log record with a synced write, which waits for the WAL up to and
// including it to be synced.
func (s *Store) syncWAL() error {
	return s.db.LogData(nil, syncWrite)
}

// OutboxQueue returns an invoice's webhooks with their states in seq order
// (none: an empty slice), read through one iterator, i.e. one consistent
// view.
func (s *Store) OutboxQueue(invoice uuid.UUID) ([]OutboxEntry, error) {
	p := outboxPrefix(invoice)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("webhooks of %s: %w", invoice, err)
	}
	out, err := outboxFrom(it, invoice, len(p))
	if err = errors.Join(err, it.Close()); err != nil {
		return nil, fmt.Errorf("webhooks of %s: %w", invoice, err)
	}
	return out, nil
}

func outboxFrom(it *pebble.Iterator, invoice uuid.UUID, prefixLen int) ([]OutboxEntry, error) {
	out := []OutboxEntry{}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != prefixLen+9 {
			return nil, fmt.Errorf("key %x: %w", k, ErrCorrupt)
		}
		seq, tag := binary.BigEndian.Uint64(k[prefixLen:]), k[prefixLen+8]
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		switch tag {
		case outboxRecordTag:
			r, err := decodeOutboxRecord(seq, v)
			if err != nil {
				return nil, fmt.Errorf("seq %d: %w", seq, err)
			}
			out = append(out, OutboxEntry{Invoice: invoice, Record: r})
		case outboxStateTag:
			// The record sorts just before its state.
			if len(out) == 0 || out[len(out)-1].Record.Seq != seq {
				return nil, fmt.Errorf("state of seq %d without its record: %w", seq, ErrCorrupt)
			}
			if out[len(out)-1].State, err = decodeOutboxState(v); err != nil {
				return nil, fmt.Errorf("seq %d: %w", seq, err)
			}
		default:
			return nil, fmt.Errorf("key %x: unknown tag: %w", k, ErrCorrupt)
		}
	}
	for _, e := range out {
		if e.State.Status == "" {
			return nil, fmt.Errorf("seq %d has no state: %w", e.Record.Seq, ErrCorrupt)
		}
	}
	return out, it.Error()
}

// UpdateOutbox writes every update in one synced batch: the new state, the
// due key moved from Old's next time to New's (a pending state has one, a
// delivered or dead one none) and the backlog and dead-letter counters moved
// with the status. It returns ErrVersionConflict (wrapped) and writes
// nothing if any stored state is not its update's Old, ErrNotFound if a
// record does not exist, and ErrInvalidArgument if a record is named twice.
func (s *Store) UpdateOutbox(updates []OutboxUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	keys := make([][]byte, len(updates))
	olds := make([][]byte, len(updates))
	var backlog, dead int64
	for i, u := range updates {
		keys[i] = outboxKey(u.Invoice, u.Seq, outboxStateTag)
		for _, k := range keys[:i] {
			if bytes.Equal(k, keys[i]) {
				return fmt.Errorf("update webhooks: %s seq %d named twice: %w", u.Invoice, u.Seq, ErrInvalidArgument)
			}
		}
		old, err := encodeOutboxState(u.Old)
		if err != nil {
			return fmt.Errorf("update webhooks: %w", err)
		}
		olds[i] = old
		st, err := encodeOutboxState(u.New)
		if err != nil {
			return fmt.Errorf("update webhooks: %w", err)
		}
		if err := b.Set(keys[i], st, nil); err != nil {
			return fmt.Errorf("update webhooks: %w", err)
		}
		oldDue, newDue := u.Old.Status == OutboxPending, u.New.Status == OutboxPending
		if oldDue && (!newDue || u.Old.Next != u.New.Next) {
			if err := b.Delete(outboxDueKey(u.Old.Next, u.Invoice, u.Seq), nil); err != nil {
				return fmt.Errorf("update webhooks: %w", err)
			}
		}
		if newDue && (!oldDue || u.Old.Next != u.New.Next) {
			if err := b.Set(outboxDueKey(u.New.Next, u.Invoice, u.Seq), nil, nil); err != nil {
				return fmt.Errorf("update webhooks: %w", err)
			}
		}
		backlog += statusCount(u.New.Status, OutboxPending) - statusCount(u.Old.Status, OutboxPending)
		dead += statusCount(u.New.Status, OutboxDead) - statusCount(u.Old.Status, OutboxDead)
	}
	for _, d := range []struct {
		kind  byte
		delta int64
	}{{outboxBacklog, backlog}, {outboxDead, dead}} {
		if d.delta != 0 {
			if err := b.Merge(outboxCounterKey(d.kind), encodeCount(d.delta), nil); err != nil {
				return fmt.Errorf("update webhooks: %w", err)
			}
		}
	}

	held := s.stripes.lock(keys)
	defer s.stripes.unlock(held)
	for i, u := range updates {
		cur, err := s.get(keys[i])
		if err != nil {
			return fmt.Errorf("update webhook %s seq %d: %w", u.Invoice, u.Seq, err)
		}
		if !bytes.Equal(cur, olds[i]) {
			return fmt.Errorf("update webhook %s seq %d: state changed: %w", u.Invoice, u.Seq, ErrVersionConflict)
		}
	}
	if err := b.Commit(syncWrite); err != nil {
		return fmt.Errorf("update webhooks: write: %w", err)
	}
	return nil
}

func statusCount(st, want OutboxStatus) int64 {
	if st == want {
		return 1
	}
	return 0
}

// OutboxCounts returns the number of pending webhooks (the backlog) and of
// dead-lettered ones.
func (s *Store) OutboxCounts() (backlog, dead int64, err error) {
	for _, c := range []struct {
		kind byte
		dst  *int64
	}{{outboxBacklog, &backlog}, {outboxDead, &dead}} {
		v, err := s.get(outboxCounterKey(c.kind))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err == nil {
			*c.dst, err = decodeCount(v)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("webhook counts: %w", err)
		}
	}
	return backlog, dead, nil
}
