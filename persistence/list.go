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

// SortField selects the index family a list query scans.
type SortField uint8

const (
	SortCreatedAt SortField = iota
	SortUpdatedAt
	SortFiatAmount
	SortCryptoAmount
)

// Query selects one page of one project's invoices.
type Query struct {
	ProjectID uuid.UUID
	Status    string // "" = any
	Currency  string // "" = any
	// CreatedAfter and CreatedBefore are exclusive bounds in unix nanos;
	// a value <= 0 means unbounded (stored created times are >= 0).
	CreatedAfter  int64
	CreatedBefore int64
	SortBy        SortField
	Desc          bool
	// Offset rows are skipped by walking the index (O(Offset)); Limit <= 0
	// returns no rows, only the total.
	Offset, Limit int
}

func (q Query) mask() byte {
	var m byte
	if q.Status != "" {
		m |= maskStatus
	}
	if q.Currency != "" {
		m |= maskCurrency
	}
	return m
}

// scanMask is the filter mask of the family q's page scan walks: q's own,
// or without the currency when q's sort has no currency families (the scan
// then skips other currencies by the index value).
func (q Query) scanMask() byte {
	m := q.mask()
	if !hasFamily(family(q.SortBy, m)) {
		m &^= maskCurrency
	}
	return m
}

func (q Query) ranged() bool { return q.CreatedAfter > 0 || q.CreatedBefore > 0 }

// createdOK applies the created range to a stored (clamped) created time.
func (q Query) createdOK(created int64) bool {
	return (q.CreatedAfter <= 0 || created > q.CreatedAfter) &&
		(q.CreatedBefore <= 0 || created < q.CreatedBefore)
}

// bounds returns the key range of q's scan in family (sort, mask). For
// the created_at family the created range is part of the bounds; ok is
// false when the range is empty.
func (q Query) bounds(sort SortField, mask byte) (lo, hi []byte, ok bool) {
	prefix := indexPrefix(sort, mask, q.ProjectID, q.Status, q.Currency)
	lo, hi = prefix, prefixEnd(prefix)
	if sort != SortCreatedAt {
		return lo, hi, true
	}
	if q.CreatedAfter > 0 {
		if q.CreatedAfter == math.MaxInt64 {
			return nil, nil, false
		}
		lo = appendTime(bytes.Clone(prefix), q.CreatedAfter+1)
	}
	if q.CreatedBefore > 0 {
		hi = appendTime(bytes.Clone(prefix), q.CreatedBefore)
	}
	return lo, hi, bytes.Compare(lo, hi) < 0
}

func (q Query) validate() error {
	if q.SortBy > SortCryptoAmount {
		return fmt.Errorf("sort field %d: %w", q.SortBy, ErrInvalidArgument)
	}
	if q.Offset < 0 {
		return fmt.Errorf("offset %d: %w", q.Offset, ErrInvalidArgument)
	}
	if err := checkString("status", q.Status); err != nil {
		return err
	}
	return checkString("currency", q.Currency)
}

// List returns the states of one page, in order, and the total number of
// matches. Ties in the sort value are broken by invoice id (same direction)
// so pages are stable.
//
// The page is one range scan of the index family for q's sort field and
// filters, forwards or backwards. Everything is read from one Pebble
// snapshot, so the page, its snapshots and the total agree. The total comes
// from the per-project counters when there is no created range; with one,
// from the created counters of the same view (see countCreated), separate
// from the page scan (which stops after the page, whatever its direction).
func (s *Store) List(q Query) (states []State, total int, err error) {
	return s.ListKnown(q, nil)
}

// ListKnown is List for a caller that keeps something derived from an
// invoice's state at a version (a rendered body): it reads each page
// invoice's version from the stream head in the page's snapshot and calls
// known(id, version), in page order, once per invoice; when known returns
// true, the invoice's State carries only its ID and Version, and its
// snapshot and events are not read. known runs while the snapshot is held,
// so it must only look the version up; the caller takes what it knows
// inside known (it may be gone by the time ListKnown returns). A nil known
// knows nothing.
func (s *Store) ListKnown(q Query, known func(id uuid.UUID, version uint64) bool) (states []State, total int, err error) {
	if err := q.validate(); err != nil {
		return nil, 0, fmt.Errorf("list project %s: %w", q.ProjectID, err)
	}
	view := s.db.NewSnapshot()
	defer view.Close()

	ids, err := scanPage(view, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list project %s: %w", q.ProjectID, err)
	}
	if q.ranged() {
		total, err = countCreated(view, q)
	} else {
		total = int(s.counts.get(q.ProjectID, q.mask(), q.Status, q.Currency))
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list project %s: total: %w", q.ProjectID, err)
	}
	if len(ids) == 0 {
		return nil, total, nil
	}
	// one iterator moved from stream to stream: opening and closing one per
	// invoice was a seventh of a page's CPU
	it, err := streamIter(view, ids[0])
	if err != nil {
		return nil, 0, fmt.Errorf("list project %s: %w", q.ProjectID, err)
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	states = make([]State, 0, len(ids))
	for i, id := range ids {
		if i > 0 {
			setStreamBounds(it, id)
		}
		st, err := latestFrom(it, id, known)
		if err != nil {
			return nil, 0, fmt.Errorf("list project %s: state of %s: %w", q.ProjectID, id, err)
		}
		states = append(states, st)
	}
	return states, total, nil
}

// State is an invoice's latest stored state as List reads it: its
// snapshot (nil if it has none) and the events after it, and the version
// of its stream head (the last event's).
type State struct {
	ID       uuid.UUID
	Version  uint64
	Snapshot []byte
	Events   [][]byte
}

// latestFrom reads id's latest state with it, bounded to id's stream: its
// head's version, then, unless known(id, version), its snapshot and the
// events after it (all of them when it has none).
func latestFrom(it *pebble.Iterator, id uuid.UUID, known func(uuid.UUID, uint64) bool) (State, error) {
	version, err := readHead(it, id)
	if err != nil {
		return State{}, err
	}
	st := State{ID: id, Version: version}
	if known != nil && known(id, version) {
		return st, nil
	}
	st.Snapshot, _, st.Events, err = readRecords(it)
	if err != nil {
		return State{}, err
	}
	if st.Snapshot == nil && len(st.Events) == 0 {
		return State{}, fmt.Errorf("indexed but has no events: %w", ErrNotFound)
	}
	return st, nil
}

// scanPage walks q's index range in q's direction and returns the invoice
// ids of the page; it stops after the page.
func scanPage(view *pebble.Snapshot, q Query) ([]uuid.UUID, error) {
	mask := q.scanMask()
	lo, hi, ok := q.bounds(q.SortBy, mask)
	if !ok {
		return nil, nil
	}
	if q.SortBy == SortCreatedAt && q.Offset >= skipFrom && q.Offset > 0 {
		var err error
		if lo, hi, q.Offset, err = skipCreated(view, q, lo, hi); err != nil {
			return nil, err
		}
	}
	it, err := view.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, err
	}
	byCreated := q.ranged() && q.SortBy != SortCreatedAt
	byCurrency := q.Currency != "" && mask&maskCurrency == 0
	limit := max(q.Limit, 0)
	ids := make([]uuid.UUID, 0, min(limit, 128))
	matched := 0
	step := it.Next
	ok = it.First()
	if q.Desc {
		step = it.Prev
		ok = it.Last()
	}
	for ; ok; ok = step() {
		if len(ids) == limit {
			break
		}
		if byCreated || byCurrency {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, errors.Join(err, it.Close())
			}
			created, currency, err := indexValue(v)
			if err != nil {
				return nil, errors.Join(err, it.Close())
			}
			if byCreated && !q.createdOK(created) || byCurrency && string(currency) != q.Currency {
				continue
			}
		}
		if matched >= q.Offset {
			ids = append(ids, invoiceFromIndexKey(it.Key()))
		}
		matched++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, err
	}
	return ids, nil
}

// skipFrom is the offset from which a created_at page skips whole buckets
// by the created counters instead of walking the index: below it the walk
// is cheaper than the counter reads. Tests set it to 0.
var skipFrom = 1000

// skipCreated narrows the created_at scan [lo, hi) of q so that it starts
// (in q's direction) at most one finest bucket before the page: whole
// buckets of every shift are skipped by their counters, coarsest first,
// and the offset left to walk is returned. Every key with one created
// time lies in one finest bucket, so skipping whole buckets never splits
// a tie.
func skipCreated(view *pebble.Snapshot, q Query, lo, hi []byte) (newLo, newHi []byte, offset int, err error) {
	from, to := uint64(0), uint64(1)<<63 // [from, to) of clamped created nanos
	if q.CreatedAfter > 0 {
		from = uint64(q.CreatedAfter) + 1
	}
	if q.CreatedBefore > 0 {
		to = uint64(q.CreatedBefore)
	}
	it, err := view.NewIter(nil)
	if err != nil {
		return nil, nil, 0, err
	}
	c := createdCount{it: it, q: q, mask: q.mask()}
	prefix := indexPrefix(SortCreatedAt, c.mask, q.ProjectID, q.Status, q.Currency)
	var at uint64
	var left int64
	if q.Desc {
		at, left, err = c.skipDesc(from, to, 0, int64(q.Offset))
		if err == nil && at < 1<<63 {
			hi = appendTime(bytes.Clone(prefix), int64(at))
		}
	} else {
		at, left, err = c.skipAsc(from, to, 0, int64(q.Offset))
		switch {
		case err != nil:
		case at >= 1<<63: // skipped everything
			lo, left = hi, 0
		default:
			lo = appendTime(bytes.Clone(prefix), int64(at))
		}
	}
	return lo, hi, int(left), errors.Join(err, it.Close())
}

// skipAsc skips k invoices created in [lo, hi), ascending, by whole
// buckets of createdShifts[level] and finer: the page starts at pos after
// left more keys.
func (c *createdCount) skipAsc(lo, hi uint64, level int, k int64) (pos uint64, left int64, err error) {
	if level == len(createdShifts) || lo >= hi {
		return lo, k, nil
	}
	shift := createdShifts[level]
	first, end := (lo+1<<shift-1)>>shift, hi>>shift
	if first >= end {
		return c.skipAsc(lo, hi, level+1, k)
	}
	n, err := c.count(lo, first<<shift, level+1)
	if err != nil {
		return 0, 0, err
	}
	if n > k { // the page starts in the partial bucket below
		return c.skipAsc(lo, first<<shift, level+1, k)
	}
	k -= n
	c.bucketBounds(shift, first, end)
	for ok := c.it.First(); ok; ok = c.it.Next() {
		b, n, err := c.bucket()
		if err != nil {
			return 0, 0, err
		}
		if n > k {
			return c.skipAsc(b<<shift, (b+1)<<shift, level+1, k)
		}
		k -= n
	}
	if err := c.it.Error(); err != nil {
		return 0, 0, err
	}
	return c.skipAsc(end<<shift, hi, level+1, k)
}

// skipDesc is skipAsc descending: the page ends below pos (exclusive)
// after left more keys.
func (c *createdCount) skipDesc(lo, hi uint64, level int, k int64) (pos uint64, left int64, err error) {
	if level == len(createdShifts) || lo >= hi {
		return hi, k, nil
	}
	shift := createdShifts[level]
	first, end := (lo+1<<shift-1)>>shift, hi>>shift
	if first >= end {
		return c.skipDesc(lo, hi, level+1, k)
	}
	n, err := c.count(end<<shift, hi, level+1)
	if err != nil {
		return 0, 0, err
	}
	if n > k { // the page starts in the partial bucket above
		return c.skipDesc(end<<shift, hi, level+1, k)
	}
	k -= n
	c.bucketBounds(shift, first, end)
	for ok := c.it.Last(); ok; ok = c.it.Prev() {
		b, n, err := c.bucket()
		if err != nil {
			return 0, 0, err
		}
		if n > k {
			return c.skipDesc(b<<shift, (b+1)<<shift, level+1, k)
		}
		k -= n
	}
	if err := c.it.Error(); err != nil {
		return 0, 0, err
	}
	return c.skipDesc(lo, first<<shift, level+1, k)
}

// bucketBounds points the iterator at the created counters of shift for
// buckets [first, end).
func (c *createdCount) bucketBounds(shift byte, first, end uint64) {
	q := c.q
	c.it.SetBounds(createdKey(q.ProjectID, c.mask, q.Status, q.Currency, shift, first),
		createdKey(q.ProjectID, c.mask, q.Status, q.Currency, shift, end))
}

// bucket reads the bucket and count of the counter under the iterator.
func (c *createdCount) bucket() (uint64, int64, error) {
	v, err := c.it.ValueAndErr()
	if err != nil {
		return 0, 0, err
	}
	n, err := decodeCount(v)
	if err != nil {
		return 0, 0, fmt.Errorf("created counter %x: %w", c.it.Key(), err)
	}
	k := c.it.Key()
	return binary.BigEndian.Uint64(k[len(k)-8:]), n, nil
}

// countCreated counts q's matches inside its created range from the
// created counters: the buckets of each shift that lie wholly inside the
// range are summed from their counters, coarsest first, and only the two
// partial buckets of the finest shift are counted key by key in q's
// created_at family. That is O(levels × fan-out) counters plus the
// invoices created in two 268 ms windows, whatever the project's size;
// everything comes from view, so the total agrees with the page.
func countCreated(view *pebble.Snapshot, q Query) (int, error) {
	if q.CreatedAfter == math.MaxInt64 {
		return 0, nil
	}
	lo, hi := uint64(0), uint64(1)<<63 // [lo, hi) of clamped created nanos
	if q.CreatedAfter > 0 {
		lo = uint64(q.CreatedAfter) + 1
	}
	if q.CreatedBefore > 0 {
		hi = uint64(q.CreatedBefore)
	}
	it, err := view.NewIter(nil)
	if err != nil {
		return 0, err
	}
	c := createdCount{it: it, q: q, mask: q.mask()}
	n, err := c.count(lo, hi, 0)
	return int(n), errors.Join(err, it.Close())
}

// createdCount is one countCreated, its iterator moved by SetBounds.
type createdCount struct {
	it   *pebble.Iterator
	q    Query
	mask byte
}

// count counts the invoices created in [lo, hi) from the counters of
// createdShifts[level] and finer.
func (c *createdCount) count(lo, hi uint64, level int) (int64, error) {
	if lo >= hi {
		return 0, nil
	}
	if level == len(createdShifts) {
		return c.keys(lo, hi)
	}
	shift := createdShifts[level]
	first, end := (lo+1<<shift-1)>>shift, hi>>shift // whole buckets [first, end)
	if first >= end {
		return c.count(lo, hi, level+1)
	}
	n, err := c.buckets(shift, first, end)
	if err != nil {
		return 0, err
	}
	below, err := c.count(lo, first<<shift, level+1)
	if err != nil {
		return 0, err
	}
	above, err := c.count(end<<shift, hi, level+1)
	return n + below + above, err
}

// buckets sums the created counters of shift for buckets [first, end).
func (c *createdCount) buckets(shift byte, first, end uint64) (int64, error) {
	c.bucketBounds(shift, first, end)
	var sum int64
	for ok := c.it.First(); ok; ok = c.it.Next() {
		_, n, err := c.bucket()
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, c.it.Error()
}

// keys counts the keys of q's created_at family created in [lo, hi),
// reading no values.
func (c *createdCount) keys(lo, hi uint64) (int64, error) {
	prefix := indexPrefix(SortCreatedAt, c.mask, c.q.ProjectID, c.q.Status, c.q.Currency)
	upper := prefixEnd(prefix)
	if hi < 1<<63 {
		upper = appendTime(bytes.Clone(prefix), int64(hi))
	}
	c.it.SetBounds(appendTime(bytes.Clone(prefix), int64(lo)), upper)
	var n int64
	for ok := c.it.First(); ok; ok = c.it.Next() {
		n++
	}
	return n, c.it.Error()
}
