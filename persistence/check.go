package persistence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// The integrity check. Everything besides the event streams is derived:
// list index rows, counters, the expiry schedule and the watch list are a
// function of each invoice's latest state, written in the same batch as the
// events (see commit.go). Check recomputes them from the streams and
// compares them with what is stored; with Repair it rewrites what differs.
//
// Streams are opaque here, so the caller replays them: RowFunc turns one
// stream's records into the IndexRow its last commit must have written (and
// may report problems with the stream itself, such as a snapshot that does
// not match its events). The expected keys are built by the same functions
// Commit uses (indexEntries, counterDeltas, expiryKey, watchKey), so the check
// cannot drift from the writer.

// StreamRecords is everything stored for one invoice stream.
type StreamRecords struct {
	ID uuid.UUID
	// Head is the stream's current version.
	Head uint64
	// Events are all events, version 1 first.
	Events [][]byte
	// Snapshot is the latest snapshot (nil if none), taken at
	// SnapshotVersion.
	Snapshot        []byte
	SnapshotVersion uint64
}

// Derived is what a RowFunc makes of a stream.
type Derived struct {
	// Row is the index row of the stream's current state; nil when the
	// stream cannot be understood (its derived records are then left
	// alone and only reported).
	Row *IndexRow
	// Snapshot, when not nil, is the snapshot the events say the stream
	// should have at Head: the stored one differs. Repair writes it.
	Snapshot []byte
	// Problems are findings about the stream itself (a payment counted
	// twice, a snapshot that disagrees with its events).
	Problems []string
}

// RowFunc derives the expected records of one stream.
type RowFunc func(StreamRecords) Derived

// CheckOptions configures Check.
type CheckOptions struct {
	// Now (unix nanos) is the check's clock: a watch whose Until is at or
	// before Now may have been removed by the chain monitor's sweep, so
	// its absence is not a problem.
	Now int64
	// Repair rewrites every derived record that differs, one synced batch
	// per invoice (plus one for counters and one for orphans). Run it on a
	// store nothing else writes to: a stopped server's (Pebble's directory
	// lock guarantees that for a second process).
	Repair bool
}

// Problem is one difference Check found.
type Problem struct {
	// Kind is "stream", "snapshot", "index", "counter", "expiry", "watch"
	// or "claim".
	Kind string
	// Invoice is the stream concerned, uuid.Nil when none.
	Invoice uuid.UUID
	Detail  string
}

func (p Problem) String() string {
	if p.Invoice == uuid.Nil {
		return p.Kind + ": " + p.Detail
	}
	return fmt.Sprintf("%s: invoice %s: %s", p.Kind, p.Invoice, p.Detail)
}

// CheckReport is the result of Check.
type CheckReport struct {
	Streams, Events int
	// Checked counts the stored derived records compared.
	IndexKeys, Counters, Expiries, Watches, Claims int
	Problems                                       []Problem
	// Repaired counts the keys written or deleted by Repair.
	Repaired int
}

// OK reports whether no problem was found.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 }

// repairOp is one repair write.
type repairOp struct {
	key, value []byte
	del        bool
}

type checkRun struct {
	view   *pebble.Snapshot
	opts   CheckOptions
	report CheckReport
	// rows holds the derived row of every stream; a nil row marks a
	// stream that exists but could not be derived.
	rows   map[uuid.UUID]*IndexRow
	counts map[string]int64
	// watched maps each watch key a derived row expects to its invoice, so
	// a record naming the wrong invoice is rewritten, not deleted.
	watched map[string]uuid.UUID
	fixes   map[uuid.UUID][]repairOp
	// orphans are repairs not owned by any stream (deleted keys of
	// unknown invoices, counters).
	orphans []repairOp
}

func (c *checkRun) problem(kind string, id uuid.UUID, format string, args ...any) {
	c.report.Problems = append(c.report.Problems, Problem{Kind: kind, Invoice: id, Detail: fmt.Sprintf(format, args...)})
}

func (c *checkRun) fix(id uuid.UUID, o repairOp) {
	if id == uuid.Nil {
		c.orphans = append(c.orphans, o)
		return
	}
	c.fixes[id] = append(c.fixes[id], o)
}

// Check verifies every derived record against the event streams, reading
// one consistent view of the store; see the comment at the top of this
// file. A returned error means the check could not run (an I/O error);
// differences are in the report.
func (s *Store) Check(rowOf RowFunc, opts CheckOptions) (CheckReport, error) {
	view := s.db.NewSnapshot()
	c := &checkRun{view: view, opts: opts, rows: map[uuid.UUID]*IndexRow{}, counts: map[string]int64{}, watched: map[string]uuid.UUID{}, fixes: map[uuid.UUID][]repairOp{}}
	err := c.run(rowOf)
	if cerr := view.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return c.report, fmt.Errorf("check: %w", err)
	}
	if opts.Repair {
		if err := s.repair(c); err != nil {
			return c.report, fmt.Errorf("check: repair: %w", err)
		}
	}
	return c.report, nil
}

func (c *checkRun) run(rowOf RowFunc) error {
	if err := c.streams(rowOf); err != nil {
		return fmt.Errorf("streams: %w", err)
	}
	if err := c.expected(); err != nil {
		return fmt.Errorf("expected records: %w", err)
	}
	if err := c.indexes(); err != nil {
		return fmt.Errorf("indexes: %w", err)
	}
	if err := c.counters(); err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	if err := c.expiries(); err != nil {
		return fmt.Errorf("expiry schedule: %w", err)
	}
	if err := c.watches(); err != nil {
		return fmt.Errorf("watch list: %w", err)
	}
	if err := c.addressClaims(); err != nil {
		return fmt.Errorf("address claims: %w", err)
	}
	return nil
}

// streams walks every stream once, checks its shape (head, contiguous
// events, snapshot version) and asks rowOf for its derived records.
func (c *checkRun) streams(rowOf RowFunc) error {
	it, err := c.view.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixStream}, UpperBound: []byte{prefixStream + 1}})
	if err != nil {
		return err
	}
	var cur *StreamRecords
	var hasHead bool
	flush := func() {
		if cur == nil {
			return
		}
		c.stream(rowOf, cur, hasHead)
		cur, hasHead = nil, false
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 18 {
			c.problem("stream", uuid.Nil, "malformed stream key %x", k)
			continue
		}
		id := uuid.UUID(k[1:17])
		if cur == nil || cur.ID != id {
			flush()
			cur = &StreamRecords{ID: id}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		switch tag := k[17]; {
		case tag == streamHead && len(k) == 18:
			hasHead = true
			if len(v) != 8 {
				c.problem("stream", id, "head of %d bytes", len(v))
				continue
			}
			cur.Head = binary.BigEndian.Uint64(v)
		case tag == streamEvent && len(k) == 26:
			if want := uint64(len(cur.Events)) + 1; eventVersion(k) != want {
				c.problem("stream", id, "event version %d where %d was expected", eventVersion(k), want)
			}
			cur.Events = append(cur.Events, bytes.Clone(v))
		case tag == streamSnapshot && len(k) == 18:
			version, snap, err := decodeSnapshot(v)
			if err != nil {
				c.problem("snapshot", id, "%v", err)
				continue
			}
			cur.Snapshot, cur.SnapshotVersion = snap, version
		default:
			c.problem("stream", id, "unknown stream key %x", k)
		}
	}
	flush()
	return errors.Join(it.Error(), it.Close())
}

func (c *checkRun) stream(rowOf RowFunc, r *StreamRecords, hasHead bool) {
	c.report.Streams++
	c.report.Events += len(r.Events)
	c.rows[r.ID] = nil
	switch {
	case !hasHead:
		c.problem("stream", r.ID, "events without a head record")
		return
	case r.Head != uint64(len(r.Events)):
		c.problem("stream", r.ID, "head says version %d but %d events are stored", r.Head, len(r.Events))
		return
	case r.Snapshot != nil && r.SnapshotVersion > r.Head:
		c.problem("snapshot", r.ID, "snapshot version %d is past the head %d", r.SnapshotVersion, r.Head)
		return
	}
	d := rowOf(*r)
	for _, p := range d.Problems {
		c.problem("stream", r.ID, "%s", p)
	}
	if d.Snapshot != nil {
		c.problem("snapshot", r.ID, "the snapshot (version %d) differs from the state its events replay to", r.SnapshotVersion)
		c.fix(r.ID, repairOp{key: streamKey(r.ID, streamSnapshot), value: append(binary.BigEndian.AppendUint64(nil, r.Head), d.Snapshot...)})
	}
	if d.Row != nil && d.Row.InvoiceID != r.ID {
		c.problem("stream", r.ID, "derived row names invoice %s", d.Row.InvoiceID)
		return
	}
	c.rows[r.ID] = d.Row
}

// expected looks up every record each derived row should have written and
// adds up the counters.
func (c *checkRun) expected() error {
	ids := make([]uuid.UUID, 0, len(c.rows))
	for id := range c.rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	for _, id := range ids {
		row := c.rows[id]
		if row == nil {
			continue
		}
		entries, err := indexEntries(row)
		if err != nil {
			c.problem("index", id, "row cannot be indexed: %v", err)
			c.rows[id] = nil
			continue
		}
		for f, e := range entries {
			if e.key == nil {
				continue // no such family
			}
			if err := c.expect("index", id, e.key, e.value, fmt.Sprintf("family %d", f)); err != nil {
				return err
			}
		}
		for _, d := range counterDeltas(nil, row) {
			c.counts[string(d.key)] += d.delta
		}
		if row.ExpiresAt != 0 {
			if err := c.expect("expiry", id, expiryKey(row.ExpiresAt, id), nil, "expiry at "+fmt.Sprint(row.ExpiresAt)); err != nil {
				return err
			}
		}
		if w := row.Watch; w != nil {
			swept := w.Until != 0 && w.Until <= c.opts.Now
			key := watchKey(w.Currency, w.Address)
			c.watched[string(key)] = id
			v, err := getFrom(c.view, key)
			switch {
			case errors.Is(err, ErrNotFound) && swept:
			case err != nil && !errors.Is(err, ErrNotFound):
				return err
			default:
				want := watchValue(id, w.Until)
				if !bytes.Equal(v, want) {
					c.problem("watch", id, "watch of %s %s is %x, want %x", w.Currency, w.Address, v, want)
					c.fix(id, repairOp{key: key, value: want})
				}
			}
		}
	}
	return nil
}

// expect checks that key holds value (any value when value is nil and the
// key is an expiry key, whose value is empty).
func (c *checkRun) expect(kind string, id uuid.UUID, key, value []byte, what string) error {
	v, err := getFrom(c.view, key)
	switch {
	case errors.Is(err, ErrNotFound):
		c.problem(kind, id, "%s key missing", what)
		c.fix(id, repairOp{key: key, value: value})
	case err != nil:
		return err
	case !bytes.Equal(v, value):
		c.problem(kind, id, "%s key holds %x, want %x", what, v, value)
		c.fix(id, repairOp{key: key, value: value})
	}
	return nil
}

func watchValue(id uuid.UUID, until int64) []byte {
	v := make([]byte, 0, 24)
	v = append(v, id[:]...)
	return binary.BigEndian.AppendUint64(v, uint64(clampNanos(until)))
}

// indexes walks every list index key and flags those no derived row has.
func (c *checkRun) indexes() error {
	return c.scan(prefixIndex, func(k, _ []byte) {
		c.report.IndexKeys++
		if len(k) < 2+16+16 {
			c.problem("index", uuid.Nil, "malformed index key %x", k)
			c.fix(uuid.Nil, repairOp{key: k, del: true})
			return
		}
		id := invoiceFromIndexKey(k)
		row, exists := c.rows[id]
		switch {
		case !exists:
			c.problem("index", id, "index key %x of an invoice without a stream", k)
			c.fix(uuid.Nil, repairOp{key: k, del: true})
			return
		case row == nil:
			return
		}
		f := k[1]
		if f >= numFamilies || !hasFamily(f) {
			c.problem("index", id, "index key %x of unknown family %d", k, f)
			c.fix(id, repairOp{key: k, del: true})
			return
		}
		want, err := familyEntry(row, f)
		if err != nil {
			return // reported by expected
		}
		if !bytes.Equal(want.key, k) {
			c.problem("index", id, "stale family %d key %x (the row's is %x)", f, k, want.key)
			c.fix(id, repairOp{key: k, del: true})
		}
		// A wrong value under the right key was reported by expected.
	})
}

// counters compares every stored counter, totals and created counters,
// with the recount.
func (c *checkRun) counters() error {
	seen := map[string]bool{}
	for _, prefix := range []byte{prefixCounter, prefixCreated} {
		err := c.scan(prefix, func(k, v []byte) {
			c.report.Counters++
			seen[string(k)] = true
			got, err := decodeCount(v)
			want := c.counts[string(k)]
			if err != nil || got != want {
				c.problem("counter", counterProject(k), "counter %x is %d, a recount gives %d", k, got, want)
				c.fix(uuid.Nil, repairOp{key: bytes.Clone(k), value: encodeCount(want)})
			}
		})
		if err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(c.counts))
	for k := range c.counts {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want := c.counts[k]; want != 0 {
			c.problem("counter", counterProject([]byte(k)), "counter %x missing, a recount gives %d", k, want)
			c.fix(uuid.Nil, repairOp{key: []byte(k), value: encodeCount(want)})
		}
	}
	return nil
}

func counterProject(k []byte) uuid.UUID {
	if len(k) < 17 {
		return uuid.Nil
	}
	return uuid.UUID(k[1:17])
}

// expiries flags scheduled expiries no derived row has.
func (c *checkRun) expiries() error {
	return c.scan(prefixExpiry, func(k, _ []byte) {
		c.report.Expiries++
		due, ok := parseExpiryKey(k)
		if !ok {
			c.problem("expiry", uuid.Nil, "malformed expiry key %x", k)
			c.fix(uuid.Nil, repairOp{key: k, del: true})
			return
		}
		at, id := due.At, due.Invoice
		row, exists := c.rows[id]
		switch {
		case !exists:
			c.problem("expiry", id, "expiry of an invoice without a stream")
			c.fix(uuid.Nil, repairOp{key: k, del: true})
		case row == nil:
		case row.ExpiresAt == 0 || clampNanos(row.ExpiresAt) != at:
			c.problem("expiry", id, "scheduled at %d, the invoice says %d", at, row.ExpiresAt)
			c.fix(id, repairOp{key: k, del: true})
		}
	})
}

// watches flags watched addresses no derived row has.
func (c *checkRun) watches() error {
	return c.scan(prefixWatch, func(k, v []byte) {
		c.report.Watches++
		if len(k) < 2 || len(k) < 2+int(k[1]) || len(v) != 24 {
			c.problem("watch", uuid.Nil, "malformed watch record %x = %x", k, v)
			c.fix(uuid.Nil, repairOp{key: k, del: true})
			return
		}
		currency, address := string(k[2:2+int(k[1])]), string(k[2+int(k[1]):])
		id := uuid.UUID(v[:16])
		row, exists := c.rows[id]
		switch {
		case !exists:
			c.problem("watch", id, "watch of %s %s for an invoice without a stream", currency, address)
			c.fix(uuid.Nil, repairOp{key: k, del: true})
		case row == nil:
		case c.watched[string(k)] != uuid.Nil:
			// Some invoice expects this key; expected() rewrites its value.
		case row.Watch == nil || row.Watch.Currency != currency || row.Watch.Address != address:
			c.problem("watch", id, "watch of %s %s the invoice does not have", currency, address)
			c.fix(id, repairOp{key: k, del: true})
		}
	})
}

// addressClaims checks that every deposit address claim names an existing
// invoice and every derivation record has its claim. Claims are never
// derived, so these are reported, not repaired.
func (c *checkRun) addressClaims() error {
	prefix := []byte{prefixClaim, byte(ClaimAddress)}
	claimed := map[string]bool{}
	err := c.scan(prefix[0], func(k, v []byte) {
		if len(k) < 2 || k[1] != byte(ClaimAddress) {
			return
		}
		c.report.Claims++
		claimed[string(k)] = true
		if len(v) != 16 {
			c.problem("claim", uuid.Nil, "address claim %x has a value of %d bytes", k, len(v))
			return
		}
		if _, exists := c.rows[uuid.UUID(v)]; !exists {
			c.problem("claim", uuid.UUID(v), "address claim %x of an invoice without a stream", k)
		}
	})
	if err != nil {
		return err
	}
	return c.scan(prefixDerivation, func(k, v []byte) {
		if len(k) < 2 || len(k) != 2+int(k[1])+8 {
			c.problem("claim", uuid.Nil, "malformed derivation key %x", k)
			return
		}
		currency := string(k[2 : 2+int(k[1])])
		if !claimed[string(claimKey(ClaimAddress, addressClaimScope(currency), string(v)))] {
			c.problem("claim", uuid.Nil, "derivation index %d of %s (%s) has no address claim", binary.BigEndian.Uint64(k[len(k)-8:]), currency, v)
		}
	})
}

// scan calls fn with copies of every key and value under prefix.
func (c *checkRun) scan(prefix byte, fn func(k, v []byte)) error {
	it, err := c.view.NewIter(&pebble.IterOptions{LowerBound: []byte{prefix}, UpperBound: []byte{prefix + 1}})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		fn(bytes.Clone(it.Key()), bytes.Clone(v))
	}
	return errors.Join(it.Error(), it.Close())
}

// repair writes the fixes: one synced batch per invoice, then one for the
// records no invoice owns (counters and orphans).
func (s *Store) repair(c *checkRun) error {
	ids := make([]uuid.UUID, 0, len(c.fixes))
	for id := range c.fixes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	write := func(ops []repairOp) error {
		b := s.db.NewBatch()
		defer b.Close()
		for _, o := range ops {
			var err error
			if o.del {
				err = b.Delete(o.key, nil)
			} else {
				err = b.Set(o.key, o.value, nil)
				s.claims.addIfClaim(o.key)
			}
			if err != nil {
				return err
			}
		}
		if err := b.Commit(syncWrite); err != nil {
			return err
		}
		c.report.Repaired += len(ops)
		return nil
	}
	for _, id := range ids {
		if err := write(c.fixes[id]); err != nil {
			return fmt.Errorf("invoice %s: %w", id, err)
		}
	}
	if len(c.orphans) > 0 {
		if err := write(c.orphans); err != nil {
			return fmt.Errorf("counters and orphans: %w", err)
		}
	}
	return nil
}
