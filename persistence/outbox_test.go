package persistence

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"
)

func outboxRecord(seq uint64, created int64) OutboxRecord {
	return OutboxRecord{
		Seq: seq, ID: fmt.Sprintf("wh_%d", seq), Event: "invoice.status_changed", ProjectID: uuid.New(),
		URL: "https://shop.example/hook", Body: fmt.Appendf(nil, `{"seq":%d}`, seq), CreatedAt: created,
	}
}

func counts(t *testing.T, s *Store) (int64, int64) {
	t.Helper()
	backlog, dead, err := s.OutboxCounts()
	if err != nil {
		t.Fatal(err)
	}
	return backlog, dead
}

func TestCommit_OutboxWrittenWithEventsAndSignalled(t *testing.T) {
	s := newStore(t)
	id := uuid.New()
	if _, err := s.Commit(Commit{Stream: id, Events: evs(1)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.OutboxSignal():
		t.Fatal("a commit without outbox records signalled")
	default:
	}
	recs := []OutboxRecord{outboxRecord(2, 200), outboxRecord(3, 100)}
	if _, err := s.Commit(Commit{Stream: id, ExpectedVersion: 1, Events: evs(2), Outbox: recs}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.OutboxSignal():
	default:
		t.Fatal("no signal after a commit with outbox records")
	}
	q, err := s.OutboxQueue(id)
	if err != nil || len(q) != 2 {
		t.Fatalf("queue: %+v %v", q, err)
	}
	for i, e := range q {
		want := recs[i]
		if e.Invoice != id || e.Record.Seq != want.Seq || e.Record.ID != want.ID || e.Record.URL != want.URL ||
			e.Record.ProjectID != want.ProjectID || !bytes.Equal(e.Record.Body, want.Body) || e.Record.CreatedAt != want.CreatedAt {
			t.Fatalf("entry %d = %+v, want %+v", i, e.Record, want)
		}
		if e.State.Status != OutboxPending || e.State.Next != want.CreatedAt || len(e.State.Attempts) != 0 {
			t.Fatalf("entry %d state = %+v", i, e.State)
		}
	}
	due, err := s.DueOutbox(150, nil, 10)
	if err != nil || len(due) != 1 || due[0] != (OutboxDue{At: 100, Invoice: id, Seq: 3}) {
		t.Fatalf("due at 150: %+v %v", due, err)
	}
	due, err = s.DueOutbox(200, nil, 10)
	if err != nil || len(due) != 2 || due[1] != (OutboxDue{At: 200, Invoice: id, Seq: 2}) {
		t.Fatalf("due at 200: %+v %v", due, err)
	}
	if page, _ := s.DueOutbox(200, nil, 1); len(page) != 1 || page[0] != due[0] {
		t.Fatalf("limit 1 returned %+v", page)
	}
	if page, _ := s.DueOutbox(200, &due[0], 10); len(page) != 1 || page[0] != due[1] {
		t.Fatalf("the page after %+v is %+v", due[0], page)
	}
	if page, _ := s.DueOutbox(200, &due[1], 10); len(page) != 0 {
		t.Fatalf("the page after the last is %+v", page)
	}
	if backlog, dead := counts(t, s); backlog != 2 || dead != 0 {
		t.Fatalf("counts %d %d", backlog, dead)
	}
	if q, err := s.OutboxQueue(uuid.New()); err != nil || q == nil || len(q) != 0 {
		t.Fatalf("queue of an invoice without webhooks: %+v %v", q, err)
	}
}

func TestCommit_InvalidOutboxWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		rec  OutboxRecord
	}{
		{"seq of an earlier version", outboxRecord(1, 1)},
		{"seq past the commit", outboxRecord(4, 1)},
		{"no id", func() OutboxRecord { r := outboxRecord(2, 1); r.ID = ""; return r }()},
		{"no url", func() OutboxRecord { r := outboxRecord(2, 1); r.URL = ""; return r }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			id := uuid.New()
			if _, err := s.Commit(Commit{Stream: id, Events: evs(1)}); err != nil {
				t.Fatal(err)
			}
			before := dump(t, s)
			_, err := s.Commit(Commit{Stream: id, ExpectedVersion: 1, Events: evs(2), Outbox: []OutboxRecord{tt.rec}})
			if !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("commit: %v, want ErrInvalidArgument", err)
			}
			if !sameDump(before, dump(t, s)) {
				t.Fatal("a refused commit wrote something")
			}
		})
	}
}

func TestUpdateOutbox_MovesDueKeyAndCounters(t *testing.T) {
	pending := func(next int64) OutboxState { return OutboxState{Status: OutboxPending, Next: next} }
	attempt := []OutboxAttempt{{At: 100, HTTPStatus: 500, Error: "boom", Duration: 7}}
	tests := []struct {
		name                string
		steps               []OutboxState // from the initial pending(100)
		wantDue             []int64
		wantBacklog, wantDD int64
	}{
		{"retry later", []OutboxState{{Status: OutboxPending, Next: 500, Failures: 1, Attempts: attempt}}, []int64{500}, 1, 0},
		{"delivered", []OutboxState{{Status: OutboxDelivered, Attempts: attempt}}, nil, 0, 0},
		{"dead", []OutboxState{{Status: OutboxDead, Failures: 10, Attempts: attempt}}, nil, 0, 1},
		{"dead then redelivered", []OutboxState{{Status: OutboxDead}, {Status: OutboxPending, Next: 900, Requeues: 1}}, []int64{900}, 1, 0},
		{"delivered then redelivered", []OutboxState{{Status: OutboxDelivered}, pending(50)}, []int64{50}, 1, 0},
		{"same time again", []OutboxState{{Status: OutboxPending, Next: 100, Requeues: 1}}, []int64{100}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			id := uuid.New()
			if _, err := s.Commit(Commit{Stream: id, Events: evs(1), Outbox: []OutboxRecord{outboxRecord(1, 100)}}); err != nil {
				t.Fatal(err)
			}
			old := pending(100)
			for _, st := range tt.steps {
				if err := s.UpdateOutbox([]OutboxUpdate{{Invoice: id, Seq: 1, Old: old, New: st}}); err != nil {
					t.Fatal(err)
				}
				old = st
			}
			due, err := s.DueOutbox(1<<62, nil, 10)
			if err != nil {
				t.Fatal(err)
			}
			var at []int64
			for _, d := range due {
				at = append(at, d.At)
			}
			if fmt.Sprint(at) != fmt.Sprint(tt.wantDue) {
				t.Fatalf("due keys at %v, want %v", at, tt.wantDue)
			}
			if backlog, dead := counts(t, s); backlog != tt.wantBacklog || dead != tt.wantDD {
				t.Fatalf("backlog %d dead %d, want %d %d", backlog, dead, tt.wantBacklog, tt.wantDD)
			}
			q, err := s.OutboxQueue(id)
			if err != nil || len(q) != 1 || fmt.Sprint(q[0].State) != fmt.Sprint(old) {
				t.Fatalf("state %+v, want %+v (%v)", q, old, err)
			}
		})
	}
}

func TestUpdateOutbox_RefusesWithoutWriting(t *testing.T) {
	s := newStore(t)
	id := uuid.New()
	if _, err := s.Commit(Commit{Stream: id, Events: evs(2), Outbox: []OutboxRecord{outboxRecord(1, 100), outboxRecord(2, 100)}}); err != nil {
		t.Fatal(err)
	}
	cur := OutboxState{Status: OutboxPending, Next: 100}
	done := OutboxState{Status: OutboxDelivered}
	before := dump(t, s)
	tests := []struct {
		name    string
		updates []OutboxUpdate
		want    error
	}{
		{"stale old state", []OutboxUpdate{
			{Invoice: id, Seq: 1, Old: cur, New: done},
			{Invoice: id, Seq: 2, Old: OutboxState{Status: OutboxPending, Next: 99}, New: done},
		}, ErrVersionConflict},
		{"named twice", []OutboxUpdate{{Invoice: id, Seq: 1, Old: cur, New: done}, {Invoice: id, Seq: 1, Old: cur, New: done}}, ErrInvalidArgument},
		{"unknown record", []OutboxUpdate{{Invoice: id, Seq: 3, Old: cur, New: done}}, ErrNotFound},
	}
	for _, tt := range tests {
		if err := s.UpdateOutbox(tt.updates); !errors.Is(err, tt.want) {
			t.Fatalf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if !sameDump(before, dump(t, s)) {
			t.Fatalf("%s: a refused update wrote something", tt.name)
		}
	}
}

// TestOutbox_CrashKeepsSyncedState: records and states survive power loss
// right after the calls returned, due keys and counters included.
func TestOutbox_CrashKeepsSyncedState(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if _, err := s.Commit(Commit{Stream: id, Events: evs(2), Outbox: []OutboxRecord{outboxRecord(1, 100), outboxRecord(2, 100)}}); err != nil {
		t.Fatal(err)
	}
	retry := OutboxState{Status: OutboxPending, Next: 5000, Failures: 1, Attempts: []OutboxAttempt{{At: 100, Error: "timeout"}}}
	if err := s.UpdateOutbox([]OutboxUpdate{{Invoice: id, Seq: 1, Old: OutboxState{Status: OutboxPending, Next: 100}, New: retry}}); err != nil {
		t.Fatal(err)
	}
	c := powerLoss(t, fs, s)
	q, err := c.OutboxQueue(id)
	if err != nil || len(q) != 2 || fmt.Sprint(q[0].State) != fmt.Sprint(retry) || q[1].State.Next != 100 {
		t.Fatalf("queue after crash: %+v %v", q, err)
	}
	due, err := c.DueOutbox(1<<62, nil, 10)
	if err != nil || len(due) != 2 || due[0].Seq != 2 || due[1] != (OutboxDue{At: 5000, Invoice: id, Seq: 1}) {
		t.Fatalf("due after crash: %+v %v", due, err)
	}
	if backlog, dead := counts(t, c); backlog != 2 || dead != 0 {
		t.Fatalf("counts after crash %d %d", backlog, dead)
	}
}

// TestOutbox_DueIsDurable: a batch is visible before its WAL is synced, so
// a scan can meet a commit still waiting for its fsync. What DueOutbox
// returns must survive power loss right after it returned, or the
// deliverer would send webhooks for changes a crash takes back.
func TestOutbox_DueIsDurable(t *testing.T) {
	for _, scan := range []bool{false, true} {
		fs := vfs.NewCrashableMem()
		s, err := Open("db", Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		id := uuid.New()
		// A commit caught between becoming visible and its sync: written
		// without one.
		b, err := s.commitBatch(Commit{Stream: id, Events: evs(1), Outbox: []OutboxRecord{outboxRecord(1, 100)}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		if scan {
			if due, err := s.DueOutbox(1<<62, nil, 10); err != nil || len(due) != 1 {
				t.Fatalf("due before crash: %+v %v", due, err)
			}
		}
		c := powerLoss(t, fs, s)
		due, err := c.DueOutbox(1<<62, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		// Without a scan the unsynced commit is lost (which shows the test
		// can tell); after a scan that saw it, it must be there.
		if want := map[bool]int{false: 0, true: 1}[scan]; len(due) != want {
			t.Fatalf("scan before crash %v: %d due after it, want %d", scan, len(due), want)
		}
	}
}
