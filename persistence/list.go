package persistence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

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
// filters, forwards or backwards. Everything agrees with one Pebble
// snapshot: the page, its snapshots, and the total, which comes from the
// in-memory mirror of the created counters as that snapshot holds them
// (see counterCache): the filter's total without a created range, else
// the range's count (see createdCount). From offset skipFrom a created_at
// page skips whole buckets by the same counts instead of walking them.
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
	series := seriesKey(q.ProjectID, q.mask(), q.Status, q.Currency)
	var view *pebble.Snapshot
	var ids []uuid.UUID
	for {
		var read *counterRead
		if view, read, err = s.counts.openRead(s.db, series); err != nil {
			return nil, 0, fmt.Errorf("list project %s: %w", q.ProjectID, err)
		}
		if ids, total, err = s.page(view, read, q); !errors.Is(err, errHorizonMoved) {
			break
		}
		if err := view.Close(); err != nil {
			return nil, 0, fmt.Errorf("list project %s: %w", q.ProjectID, err)
		}
	}
	defer view.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("list project %s: %w", q.ProjectID, err)
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
	var bounds streamBoundsBuf
	for i, id := range ids {
		if i > 0 {
			setStreamBounds(it, id, &bounds)
		}
		st, err := latestFrom(it, id, known)
		if err != nil {
			return nil, 0, fmt.Errorf("list project %s: state of %s: %w", q.ProjectID, id, err)
		}
		states = append(states, st)
	}
	return states, total, nil
}

// page reads the ids of q's page and its total from view, the snapshot of
// read (see counterCache.openRead), and ends read. It returns
// errHorizonMoved (only) when the read must start over.
func (s *Store) page(view *pebble.Snapshot, read *counterRead, q Query) (ids []uuid.UUID, total int, err error) {
	from, to := q.createdSpan()
	skip := q.SortBy == SortCreatedAt && q.Offset >= skipFrom && q.Offset > 0
	var windows []keyWindow
	var settled map[uint64][]bucketCount
	if q.ranged() || skip {
		windows, err = edgeWindows(view, q, from, to)
		if err == nil {
			settled, err = settledEdges(view, q, from, to, read.horizon)
		}
		if err != nil {
			s.counts.closeRead(read)
			return nil, 0, fmt.Errorf("total: %w", err)
		}
	}
	var start createdSkip
	err = s.counts.counts(read, settled, func(v seriesView) error {
		c := createdCount{v: v, windows: windows}
		var err error
		if q.ranged() {
			var n int64
			n, err = c.count(from, to, 0)
			total = int(n)
		} else {
			total = int(v.total())
		}
		if err == nil && skip {
			start, err = c.skip(q.Desc, from, to, int64(q.Offset))
		}
		return err
	})
	if errors.Is(err, errHorizonMoved) {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, fmt.Errorf("total: %w", err)
	}
	if q.Offset >= total && q.Offset > 0 {
		return nil, total, nil // past the end: nothing to walk
	}
	if far, ok := q.fromFarEnd(total); ok {
		ids, err = scanPage(view, far, createdSkip{})
		slices.Reverse(ids)
		return ids, total, err
	}
	ids, err = scanPage(view, q, start)
	return ids, total, err
}

// fromFarEnd is q walked from the other end of its range, for a page
// nearer that end, given q's total (exact for the page's snapshot). A
// sort without counters to skip by (every sort but created_at) walks its
// offset key by key, so the last pages of a large project walked nearly
// all of it; from the far end the walk is the keys after the page instead,
// and the page is the same keys in reverse order. ok is false when
// walking from q's own end is no longer.
func (q Query) fromFarEnd(total int) (far Query, ok bool) {
	limit := max(q.Limit, 0)
	rest := total - q.Offset // matches from the page's first on
	if q.SortBy == SortCreatedAt || q.Offset < skipFrom || q.Offset == 0 || limit == 0 || rest <= 0 || rest-limit >= q.Offset {
		return q, false
	}
	far = q
	far.Desc = !q.Desc
	far.Offset, far.Limit = max(rest-limit, 0), min(limit, rest)
	return far, true
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

// scanPage walks q's index range in q's direction, from start when the
// counters skipped part of the offset, and returns the invoice ids of the
// page; it stops after the page.
func scanPage(view *pebble.Snapshot, q Query, start createdSkip) ([]uuid.UUID, error) {
	mask := q.scanMask()
	lo, hi, ok := q.bounds(q.SortBy, mask)
	if !ok {
		return nil, nil
	}
	if start.ok {
		prefix := indexPrefix(SortCreatedAt, mask, q.ProjectID, q.Status, q.Currency)
		switch {
		case q.Desc && start.at < 1<<63:
			hi = appendTime(bytes.Clone(prefix), int64(start.at))
		case q.Desc:
		case start.at >= 1<<63: // skipped everything
			lo = hi
		default:
			lo = appendTime(bytes.Clone(prefix), int64(start.at))
		}
		q.Offset = int(start.left)
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
// by the created counts instead of walking the index. The counts are in
// memory, so only tests move it (to 0, so every offset takes that path).
var skipFrom = 1

// createdSkip is where a created_at page's scan starts once whole buckets
// were skipped (see createdCount.skip): ascending from at, descending
// below at (exclusive), with left keys of the offset still to walk; at is
// 1<<63 when an ascending skip passed everything.
type createdSkip struct {
	ok   bool
	at   uint64
	left int64
}

// createdSpan is q's created range as [from, to) of clamped created nanos;
// it is empty (from >= to) when nothing can match.
func (q Query) createdSpan() (from, to uint64) {
	from, to = 0, 1<<63
	if q.CreatedAfter > 0 {
		from = uint64(q.CreatedAfter) + 1
	}
	if q.CreatedBefore > 0 {
		to = uint64(q.CreatedBefore)
	}
	return from, to
}

// keyWindow is a created range [lo, hi) and the number of q's created_at
// index keys in it.
type keyWindow struct {
	lo, hi uint64
	n      int64
}

// edgeWindows counts the keys of q's created_at family in the two partial
// finest buckets at the ends of [from, to): the only created times the
// counters do not resolve. It reads no values.
func edgeWindows(view *pebble.Snapshot, q Query, from, to uint64) ([]keyWindow, error) {
	if from >= to {
		return nil, nil
	}
	f := createdShifts[len(createdShifts)-1]
	firstEnd := min(to, (from+1<<f-1)>>f<<f)
	windows := []keyWindow{{lo: from, hi: firstEnd}, {lo: max(firstEnd, to>>f<<f), hi: to}}
	it, err := view.NewIter(nil)
	if err != nil {
		return nil, err
	}
	prefix := indexPrefix(SortCreatedAt, q.mask(), q.ProjectID, q.Status, q.Currency)
	for i, w := range windows {
		if w.lo >= w.hi {
			continue
		}
		upper := prefixEnd(prefix)
		if w.hi < 1<<63 {
			upper = appendTime(bytes.Clone(prefix), int64(w.hi))
		}
		it.SetBounds(appendTime(bytes.Clone(prefix), int64(w.lo)), upper)
		for ok := it.First(); ok; ok = it.Next() {
			windows[i].n++
		}
	}
	return windows, errors.Join(it.Error(), it.Close())
}

// settledEdges reads from view the finest counters of the (at most two)
// parent buckets at the ends of [from, to) that are older than horizon,
// which the mirror does not hold (see counterCache), by parent.
func settledEdges(view *pebble.Snapshot, q Query, from, to, horizon uint64) (map[uint64][]bucketCount, error) {
	if from >= to {
		return nil, nil
	}
	f := createdShifts[finest]
	var out map[uint64][]bucketCount
	var it *pebble.Iterator
	for _, edge := range []uint64{from, to - 1} {
		p := parentOf(finest, edge>>f)
		if _, done := out[p]; done || coarseOf(p<<finestFanout) >= horizon {
			continue
		}
		if it == nil {
			var err error
			if it, err = view.NewIter(nil); err != nil {
				return nil, err
			}
		}
		if out == nil {
			out = map[uint64][]bucketCount{}
		}
		it.SetBounds(createdKey(q.ProjectID, q.mask(), q.Status, q.Currency, f, p<<finestFanout),
			createdKey(q.ProjectID, q.mask(), q.Status, q.Currency, f, (p+1)<<finestFanout))
		kids := []bucketCount{}
		for ok := it.First(); ok; ok = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return nil, errors.Join(err, it.Close())
			}
			n, err := decodeCount(v)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("created counter %x: %w", it.Key(), err), it.Close())
			}
			if n != 0 {
				k := it.Key()
				kids = append(kids, bucketCount{binary.BigEndian.Uint64(k[len(k)-8:]), n})
			}
		}
		out[p] = kids
		if err := it.Error(); err != nil {
			return nil, errors.Join(err, it.Close())
		}
	}
	if it == nil {
		return out, nil
	}
	return out, it.Close()
}

// createdCount counts a created range of one filter combination, and skips
// into it, from the created counters of every shift as one snapshot holds
// them (v) and the keys of the range's two partial finest buckets
// (windows): the buckets of each shift that lie wholly inside the range
// are summed, coarsest first, and only the partial buckets of the finest
// shift are counted key by key. That is O(levels × fan-out) counters in
// memory plus the invoices created in two 268 ms windows, whatever the
// project's size.
type createdCount struct {
	v       seriesView
	windows []keyWindow
}

// count counts the invoices created in [lo, hi) from the counters of
// createdShifts[level] and finer.
func (c createdCount) count(lo, hi uint64, level int) (int64, error) {
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
	bs, ok := c.v.buckets(level, first, end)
	if !ok {
		return 0, fmt.Errorf("created buckets [%d, %d) of shift %d are neither mirrored nor read", first, end, shift)
	}
	var n int64
	for _, b := range bs {
		n += b.n
	}
	below, err := c.count(lo, first<<shift, level+1)
	if err != nil {
		return 0, err
	}
	above, err := c.count(end<<shift, hi, level+1)
	return n + below + above, err
}

// keys is the number of keys created in [lo, hi), a union of the counted
// windows.
func (c createdCount) keys(lo, hi uint64) (int64, error) {
	var n int64
	covered := uint64(0)
	for _, w := range c.windows {
		if w.lo >= lo && w.hi <= hi && w.lo < w.hi {
			n += w.n
			covered += w.hi - w.lo
		}
	}
	if covered != hi-lo {
		return 0, fmt.Errorf("created range [%d, %d) is not a counted window", lo, hi)
	}
	return n, nil
}

// skip skips k invoices of [from, to) in q's direction by whole buckets.
func (c createdCount) skip(desc bool, from, to uint64, k int64) (createdSkip, error) {
	var at uint64
	var left int64
	var err error
	if desc {
		at, left, err = c.skipDesc(from, to, 0, k)
	} else {
		at, left, err = c.skipAsc(from, to, 0, k)
	}
	return createdSkip{ok: true, at: at, left: left}, err
}

// skipAsc skips k invoices created in [lo, hi), ascending, by whole
// buckets of createdShifts[level] and finer: the page starts at pos after
// left more keys. Every key with one created time lies in one finest
// bucket, so skipping whole buckets never splits a tie.
func (c createdCount) skipAsc(lo, hi uint64, level int, k int64) (pos uint64, left int64, err error) {
	if level == len(createdShifts) || lo >= hi {
		return lo, k, nil
	}
	shift := createdShifts[level]
	first, end := (lo+1<<shift-1)>>shift, hi>>shift
	if first >= end {
		return c.skipAsc(lo, hi, level+1, k)
	}
	bs, ok := c.v.buckets(level, first, end)
	if !ok { // finest buckets neither mirrored nor read: the page walks them
		return lo, k, nil
	}
	n, err := c.count(lo, first<<shift, level+1)
	if err != nil {
		return 0, 0, err
	}
	if n > k { // the page starts in the partial bucket below
		return c.skipAsc(lo, first<<shift, level+1, k)
	}
	k -= n
	for _, b := range bs {
		if b.n > k {
			return c.skipAsc(b.bucket<<shift, (b.bucket+1)<<shift, level+1, k)
		}
		k -= b.n
	}
	return c.skipAsc(end<<shift, hi, level+1, k)
}

// skipDesc is skipAsc descending: the page ends below pos (exclusive)
// after left more keys.
func (c createdCount) skipDesc(lo, hi uint64, level int, k int64) (pos uint64, left int64, err error) {
	if level == len(createdShifts) || lo >= hi {
		return hi, k, nil
	}
	shift := createdShifts[level]
	first, end := (lo+1<<shift-1)>>shift, hi>>shift
	if first >= end {
		return c.skipDesc(lo, hi, level+1, k)
	}
	bs, ok := c.v.buckets(level, first, end)
	if !ok { // finest buckets neither mirrored nor read: the page walks them
		return hi, k, nil
	}
	n, err := c.count(end<<shift, hi, level+1)
	if err != nil {
		return 0, 0, err
	}
	if n > k { // the page starts in the partial bucket above
		return c.skipDesc(end<<shift, hi, level+1, k)
	}
	k -= n
	for i := len(bs) - 1; i >= 0; i-- {
		if b := bs[i]; b.n > k {
			return c.skipDesc(b.bucket<<shift, (b.bucket+1)<<shift, level+1, k)
		}
		k -= bs[i].n
	}
	return c.skipDesc(lo, first<<shift, level+1, k)
}
