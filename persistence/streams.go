package persistence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// streamIter opens an iterator of r (the DB or a snapshot) over exactly
// one stream's records. An iterator is a consistent view, so head,
// snapshot and events read through it belong to the same committed state.
func streamIter(r reader, stream uuid.UUID) (*pebble.Iterator, error) {
	var b streamBoundsBuf
	lower, upper := b.bounds(stream)
	return r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
}

// streamBoundsBuf holds a stream's bounds (streamIter's). Pebble copies
// the bounds an iterator is given, so one buffer serves a caller moving an
// iterator from stream to stream: a buffer per stream was a third of a
// list page's allocations.
type streamBoundsBuf [2 * streamKeyLen]byte

// bounds are stream's bounds, cut from b.
func (b *streamBoundsBuf) bounds(stream uuid.UUID) (lower, upper []byte) {
	lower = append(append(append(b[:0:streamKeyLen], prefixStream), stream[:]...), streamHead)
	upper = append(append(append(b[streamKeyLen:streamKeyLen], prefixStream), stream[:]...), streamSnapshot+1)
	return lower, upper
}

// setStreamBounds bounds it to stream's records, as streamIter does, with
// b's bytes.
func setStreamBounds(it *pebble.Iterator, stream uuid.UUID, b *streamBoundsBuf) {
	it.SetBounds(b.bounds(stream))
}

// Load returns the latest snapshot (nil if none), the version it was taken
// at, and every event after it, in order. ErrNotFound if the stream does
// not exist.
func (s *Store) Load(stream uuid.UUID) (snapshot []byte, snapVersion uint64, events [][]byte, err error) {
	snapshot, snapVersion, events, err = loadStream(s.db, stream)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("load stream %s: %w", stream, err)
	}
	return snapshot, snapVersion, events, nil
}

// loadStream is Load from r, whose errors it leaves to the caller to
// wrap: it reads the stream with one seek (its keys sort head, events,
// snapshot, so the records follow each other; one seek per record cost a
// tenth of a GET's CPU). Invoice streams are short, so the events the
// snapshot covers are stepped over rather than sought past.
func loadStream(r reader, stream uuid.UUID) (snapshot []byte, snapVersion uint64, events [][]byte, err error) {
	it, err := streamIter(r, stream)
	if err != nil {
		return nil, 0, nil, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	return readStream(it, stream)
}

// readStream is loadStream with an iterator bounded to stream (streamIter's
// bounds), which a caller reading many streams moves from one to the next
// with setStreamBounds instead of opening one per stream.
func readStream(it *pebble.Iterator, stream uuid.UUID) (snapshot []byte, snapVersion uint64, events [][]byte, err error) {
	if _, err := readHead(it, stream); err != nil {
		return nil, 0, nil, err
	}
	return readRecords(it)
}

// readHead positions it (bounded to stream) at the stream's head and
// returns its version: ErrNotFound if the stream has no head.
func readHead(it *pebble.Iterator, stream uuid.UUID) (uint64, error) {
	if !it.First() || !bytes.Equal(it.Key(), streamKey(stream, streamHead)) {
		return 0, errors.Join(it.Error(), ErrNotFound)
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("corrupt head of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// readRecords reads the records after the head under it (readHead's
// position): the latest snapshot and the events after it.
func readRecords(it *pebble.Iterator) (snapshot []byte, snapVersion uint64, events [][]byte, err error) {
	// Events are stored contiguously from version 1 (Commit writes
	// ExpectedVersion+1, ...; check verifies it), so the first one's
	// version places every other.
	var firstEvent uint64
	for it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, 0, nil, err
		}
		switch k[17] {
		case streamEvent:
			if events == nil {
				firstEvent = eventVersion(k)
			}
			events = append(events, bytes.Clone(v))
		case streamSnapshot:
			if snapVersion, snapshot, err = decodeSnapshot(v); err != nil {
				return nil, 0, nil, err
			}
		}
	}
	if err := it.Error(); err != nil {
		return nil, 0, nil, err
	}
	// Only the events after the snapshot.
	if covered := snapVersion + 1 - min(firstEvent, snapVersion+1); covered >= uint64(len(events)) {
		events = nil
	} else {
		events = events[covered:]
	}
	return snapshot, snapVersion, events, nil
}

// eventsFrom collects copies of the events with version > after.
func eventsFrom(it *pebble.Iterator, stream uuid.UUID, after uint64) ([][]byte, error) {
	var events [][]byte
	if after == math.MaxUint64 {
		return nil, nil
	}
	for ok := it.SeekGE(eventKey(stream, after+1)); ok; ok = it.Next() {
		k := it.Key()
		if k[17] != streamEvent {
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", eventVersion(k), err)
		}
		events = append(events, append([]byte(nil), v...))
	}
	return events, it.Error()
}

// Events returns the events with version > after, in order (for rebuilding
// and tests). ErrNotFound if the stream does not exist.
func (s *Store) Events(stream uuid.UUID, after uint64) ([][]byte, error) {
	it, err := streamIter(s.db, stream)
	if err != nil {
		return nil, fmt.Errorf("events of stream %s: %w", stream, err)
	}
	var events [][]byte
	if !it.SeekGE(streamKey(stream, streamHead)) || !bytes.Equal(it.Key(), streamKey(stream, streamHead)) {
		err = errors.Join(it.Error(), ErrNotFound)
	} else {
		events, err = eventsFrom(it, stream, after)
	}
	if err = errors.Join(err, it.Close()); err != nil {
		return nil, fmt.Errorf("events of stream %s: %w", stream, err)
	}
	return events, nil
}

// Snapshot returns the latest snapshot and its version (ErrNotFound if
// none).
func (s *Store) Snapshot(stream uuid.UUID) ([]byte, uint64, error) {
	v, err := s.get(streamKey(stream, streamSnapshot))
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot of stream %s: %w", stream, err)
	}
	version, snap, err := decodeSnapshot(v)
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot of stream %s: %w", stream, err)
	}
	return snap, version, nil
}

// decodeSnapshot splits a snapshot value into its version and a copy of
// the opaque bytes.
func decodeSnapshot(v []byte) (uint64, []byte, error) {
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("corrupt snapshot of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), append([]byte{}, v[8:]...), nil
}
