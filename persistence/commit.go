package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// Commit appends events to one invoice stream atomically and durably.
type Commit struct {
	Stream uuid.UUID
	// ExpectedVersion is the stream's current version; 0 means the stream
	// must not exist yet.
	ExpectedVersion uint64
	// Fresh, with ExpectedVersion 0, says the caller drew Stream moments
	// ago as a UUIDv7 (48-bit millisecond time, 74 random bits) that no
	// one else has seen, so the stream cannot exist and its head is not
	// read. That read was a point miss through every L0 table, 4 % of the
	// server's CPU per create (docs/performance.md); two draws colliding
	// needs the same 74 random bits within one millisecond.
	Fresh bool
	// Events are opaque encoded events; they get versions
	// ExpectedVersion+1, +2, ... At least one is required.
	Events [][]byte
	// Snapshot is the opaque state after the last event (version
	// ExpectedVersion+len(Events)); nil = no new snapshot. Load and List
	// return the latest snapshot and the events after it, so how often to
	// snapshot is the caller's trade between write and replay cost.
	Snapshot []byte
	// Old and New are the index rows before and after: Old nil = new
	// invoice; New nil = remove from the indexes; identical rows = no index
	// writes. Old must be exactly the New of the stream's previous commit.
	Old, New *IndexRow
	Claims   []Claim
	// Outbox are the webhooks reporting these events, written pending and
	// due with them (see outbox.go); each Seq is one of the new versions.
	Outbox []OutboxRecord
	// Committed, if set, runs once the batch is durable, still inside the
	// stream's critical section: the Committed calls of one stream run in
	// version order, so a cache of committed states fed from it never
	// takes an older state over a newer one.
	Committed func()
}

// Commit writes c as one batch with pebble.Sync and returns the stream's
// new version.
//
// It returns ErrVersionConflict (wrapped) if the stream's version is not
// ExpectedVersion, *ClaimTakenError if any claim key exists, or a write
// error. Commits with disjoint keys proceed in parallel; their checked
// batches are written together, one synced batch at a time (see
// combiner), and a failed write fails every commit in it.
//
// Invariants (the stream lock is the stripe lock of the stream's head key;
// each claim key has its own stripe lock):
//
//  1. All or nothing: events, snapshot, index rows, counter deltas, claims
//     and outbox records are one batch; on any error nothing was written,
//     and the in-memory mirrors (counts, Committed's caches) are untouched.
//  2. Versions are dense and single-writer: the head is checked against
//     ExpectedVersion and the batch synced under the stream lock, so no
//     concurrent Commit advances the stream in between. A Fresh commit's
//     head is known absent without the read (see Fresh).
//  3. A claim is taken once: its absence is checked and the batch synced
//     under the claim key's lock.
//  4. Committed runs in version order: it is called after the sync and
//     before the stream lock is released, so the Committed calls of one
//     stream never overlap or reorder, and a mirror fed from them (the
//     state cache, the watch list) never takes an older state over a
//     newer one.
//  5. An acknowledged commit is durable: Commit returns a version only
//     after the synced write (pebble.Sync) succeeded.
//  6. The counts mirror (guarded by its own mutex) holds the deltas as
//     pending from before the write and folds them in only after the sync,
//     under the stream lock, so a reader can tell which of them its
//     snapshot holds (see counterCache).
func (s *Store) Commit(c Commit) (uint64, error) {
	defer func(start time.Time) { s.commitLatency.Observe(time.Since(start).Seconds()) }(time.Now())
	if len(c.Events) == 0 {
		return 0, fmt.Errorf("commit stream %s: no events: %w", c.Stream, ErrInvalidArgument)
	}
	version := c.ExpectedVersion + uint64(len(c.Events))
	deltas := counterDeltas(c.Old, c.New) // written by s.write, then applied to the mirror
	b, err := s.commitBatch(c, version)
	if err != nil {
		return 0, fmt.Errorf("commit stream %s: %w", c.Stream, err)
	}
	defer b.Close()

	head := streamKey(c.Stream, streamHead)
	lockKeys := make([][]byte, 0, 1+len(c.Claims))
	lockKeys = append(lockKeys, head)
	for _, cl := range c.Claims {
		lockKeys = append(lockKeys, cl.key)
	}
	held := s.stripes.lock(lockKeys)
	defer s.stripes.unlock(held)

	if err := s.check(c); err != nil {
		return 0, err
	}
	pending := s.counts.begin(head, version, deltas)
	if err := s.write(b, deltas); err != nil {
		s.counts.abort(pending)
		return 0, fmt.Errorf("commit stream %s: write: %w", c.Stream, err)
	}
	s.counts.done(pending)
	if c.Committed != nil {
		c.Committed()
	}
	if len(c.Outbox) > 0 {
		s.signalOutbox()
	}
	return version, nil
}

// check checks c's expected version and that its claims are free, and
// records them in the claim filter; the caller holds the stripes of its
// head and claim keys and writes c if check passes.
func (s *Store) check(c Commit) error {
	return s.checkWith(c, s.get)
}

// checkWith is check reading the stream's head with read (ErrNotFound:
// none).
func (s *Store) checkWith(c Commit, read func(key []byte) ([]byte, error)) error {
	if c.Fresh && c.ExpectedVersion != 0 {
		return fmt.Errorf("commit stream %s: fresh at expected version %d: %w", c.Stream, c.ExpectedVersion, ErrInvalidArgument)
	}
	if !c.Fresh {
		if err := checkVersion(read, streamKey(c.Stream, streamHead), c.ExpectedVersion); err != nil {
			return fmt.Errorf("commit stream %s: %w", c.Stream, err)
		}
	}
	return s.takeClaims(c)
}

// commitBatch encodes everything c writes but its counter merges, which
// are written summed with those of the commits it is written with (see
// combiner and Group). It runs before the stripe locks are taken, so the
// critical section is only the checks and the sync.
func (s *Store) commitBatch(c Commit, version uint64) (*pebble.Batch, error) {
	return s.commitBatchSized(c, version, batchSizeHint(c))
}

// commitBatchSized is commitBatch into a batch of size bytes (it grows if
// need be).
func (s *Store) commitBatchSized(c Commit, version uint64, size int) (*pebble.Batch, error) {
	b := s.db.NewBatchWithSize(size)
	if err := fillCommitBatch(b, c, version); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

func fillCommitBatch(b *pebble.Batch, c Commit, version uint64) error {
	if err := b.Set(streamKey(c.Stream, streamHead), binary.BigEndian.AppendUint64(nil, version), nil); err != nil {
		return err
	}
	for i, e := range c.Events {
		if err := b.Set(eventKey(c.Stream, c.ExpectedVersion+1+uint64(i)), e, nil); err != nil {
			return err
		}
	}
	if c.Snapshot != nil {
		v := make([]byte, 0, 8+len(c.Snapshot))
		v = binary.BigEndian.AppendUint64(v, version)
		v = append(v, c.Snapshot...)
		if err := b.Set(streamKey(c.Stream, streamSnapshot), v, nil); err != nil {
			return err
		}
	}
	if err := indexWrites(b, c.Old, c.New); err != nil {
		return err
	}
	if err := outboxWrites(b, c, version); err != nil {
		return err
	}
	for _, cl := range c.Claims {
		if cl.err != nil {
			return fmt.Errorf("%s claim: %w", cl.kind, cl.err)
		}
		if cl.key == nil {
			return fmt.Errorf("zero Claim: %w", ErrInvalidArgument)
		}
		if err := b.Set(cl.key, cl.value, nil); err != nil {
			return err
		}
		if cl.extraKey != nil {
			if err := b.Set(cl.extraKey, cl.extraValue, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkVersion compares the stream head, read with read, with expected; a
// missing head is version 0.
func checkVersion(read func(key []byte) ([]byte, error), head []byte, expected uint64) error {
	v, err := read(head)
	var current uint64
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return fmt.Errorf("read head: %w", err)
	case len(v) != 8:
		return fmt.Errorf("corrupt head of %d bytes", len(v))
	default:
		current = binary.BigEndian.Uint64(v)
	}
	if current != expected {
		return fmt.Errorf("at version %d, expected %d: %w", current, expected, ErrVersionConflict)
	}
	return nil
}

// batchSizeHint estimates a commit's batch size so the batch buffer is
// allocated once instead of grown by copying (the copies showed in the
// block-match profile).
func batchSizeHint(c Commit) int {
	n := 2048 + len(c.Snapshot)
	for _, e := range c.Events {
		n += len(e) + 32
	}
	for _, o := range c.Outbox {
		n += len(o.Body) + 256
	}
	return n
}

// commitSynced commits b with Sync. Pebble panics (rather than returning an
// error) when its WAL fails mid-commit, possibly holding its commit lock and
// with the batch already visible in memory: that is not an error a caller
// can handle, so it goes to OnFatal, which stops the process.
func (s *Store) commitSynced(b *pebble.Batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.onFatal(fmt.Sprintf("commit: %v", p))
			panic(p)
		}
	}()
	return b.Commit(syncWrite)
}
