package persistence

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// counterCache mirrors every created counter in memory, every shift, so a
// list's total, its created-range count and its created_at offset skip
// read no counter from Pebble. Counters are Pebble merge operands (so
// concurrent commits never read-modify-write them), but reading one folds
// every operand still in the memtable, about one per create since the last
// flush: summing a recent created range cost a list page O(recent
// creates). Pebble stays the durable truth, loaded once when the store
// opens, before any commit can run.
//
// The mirror agrees exactly with a reader's Pebble snapshot. A commit with
// counter deltas registers them as pending (begin) before its batch is
// written and folds them (done) after it is durable; a reader (openRead)
// takes its snapshot under the same mutex and notes which commits are
// pending. Every commit in the snapshot has begun by then, so it is either
// folded already or pending; a pending one is in the snapshot if the
// snapshot holds its stream head at its version (one writer per stream,
// dense versions). When the reader comes back for the counts (counts), it
// adds the pending commits its snapshot holds that are still pending and
// takes out those folded since that its snapshot does not hold; commits
// folded while a reader is open are kept (folded) until no reader needs
// them.
//
// The finest counters are mirrored only from the horizon on: for the
// newest two coarsest buckets (3.3 to 6.6 days) of created times any
// project has, which is where creates land and ranges mostly end. Older
// finest buckets each hold few invoices, so mirroring them cost up to
// 226 bytes per invoice (BenchmarkCounterMirrorHeap); a count whose range
// ends in one reads its finest counters from the snapshot instead (see
// settledEdges), where they are settled.
type counterCache struct {
	mu sync.Mutex
	// series holds each filter combination's counters by seriesKey.
	series map[string]*counterSeries
	// horizon is the first coarsest bucket whose finest counters are
	// mirrored: the newest coarsest bucket any counter has, minus one.
	horizon uint64
	pending map[*counterCommit]struct{}
	seq     uint64           // commits folded so far
	folded  []*counterCommit // folded while a reader was open, in seq order
	readers map[*counterRead]struct{}
}

// counterCommit is one batch's counter deltas and how to tell whether a
// snapshot holds the batch: the head of a stream it writes, at version.
type counterCommit struct {
	head    []byte
	version uint64
	deltas  []counterDelta
	series  [][]byte // the series the deltas touch, each once
	seq     uint64   // when it was folded; 0 while pending
}

// counterSeries is one filter combination's created counters: per level of
// createdShifts, the non-zero buckets grouped by their bucket of the level
// above (parentOf) and sorted, so a range of buckets is read in order.
type counterSeries struct {
	total  int64
	levels [len(createdShifts)]map[uint64][]bucketCount
}

type bucketCount struct {
	bucket uint64
	n      int64
}

// seriesKey names one filter combination's counters: a created counter
// key without its prefix, shift and bucket (project mask filters).
func seriesKey(project uuid.UUID, mask byte, status, currency string) []byte {
	k := appendCreatedPrefix(make([]byte, 0, createdKeyLen(status, currency)), project, mask, status, currency, 0)
	return k[1 : len(k)-1]
}

// splitCreated splits a created counter key into its series, level and
// bucket; ok is false for a key of no known shift.
func splitCreated(key []byte) (series []byte, level int, bucket uint64, ok bool) {
	if len(key) < 1+16+1+1+8 || key[0] != prefixCreated {
		return nil, 0, 0, false
	}
	level = slices.Index(createdShifts[:], key[len(key)-9])
	return key[1 : len(key)-9], level, binary.BigEndian.Uint64(key[len(key)-8:]), level >= 0
}

// parentOf is the bucket of the level above that holds bucket of level
// (0 for the coarsest level).
func parentOf(level int, bucket uint64) uint64 {
	if level == 0 {
		return 0
	}
	return bucket >> (createdShifts[level-1] - createdShifts[level])
}

func (s *counterSeries) add(level int, bucket uint64, d int64) {
	if level == 0 {
		s.total += d
	}
	m := s.levels[level]
	if m == nil {
		m = map[uint64][]bucketCount{}
		s.levels[level] = m
	}
	p := parentOf(level, bucket)
	kids := m[p]
	i, found := slices.BinarySearchFunc(kids, bucket, func(b bucketCount, t uint64) int { return cmp.Compare(b.bucket, t) })
	switch {
	case found:
		kids[i].n += d
		if kids[i].n == 0 {
			kids = slices.Delete(kids, i, i+1)
		}
	case d != 0:
		kids = slices.Insert(kids, i, bucketCount{bucket, d})
	}
	if len(kids) == 0 {
		delete(m, p)
	} else {
		m[p] = kids
	}
}

// appendRange appends the buckets of level in [first, end) to dst, in
// bucket order.
func (s *counterSeries) appendRange(dst []bucketCount, level int, first, end uint64) []bucketCount {
	if s == nil || first >= end || len(s.levels[level]) == 0 {
		return dst
	}
	m := s.levels[level]
	from, to := parentOf(level, first), parentOf(level, end-1)
	var parents []uint64
	if to-from < uint64(len(m)) {
		for p := from; ; p++ {
			parents = append(parents, p)
			if p == to {
				break
			}
		}
	} else { // a wide range over few parents
		for p := range m {
			if p >= from && p <= to {
				parents = append(parents, p)
			}
		}
		slices.Sort(parents)
	}
	for _, p := range parents {
		kids := m[p]
		i, _ := slices.BinarySearchFunc(kids, first, func(b bucketCount, t uint64) int { return cmp.Compare(b.bucket, t) })
		for ; i < len(kids) && kids[i].bucket < end; i++ {
			dst = append(dst, kids[i])
		}
	}
	return dst
}

// load reads the created counters of db into the mirror: first the
// coarsest ones' buckets, which set the horizon, then the counters.
func (c *counterCache) load(db *pebble.DB) error {
	lower := []byte{prefixCreated}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return fmt.Errorf("load counters: %w", err)
	}
	var horizon uint64
	for ok := it.First(); ok; ok = it.Next() {
		if _, level, bucket, ok := splitCreated(it.Key()); ok && level == 0 && bucket > 0 {
			horizon = max(horizon, bucket-1)
		}
	}
	series := map[string]*counterSeries{}
	for ok := it.First(); ok; ok = it.Next() {
		sk, level, bucket, ok := splitCreated(it.Key())
		if !ok || level == finest && coarseOf(bucket) < horizon {
			continue
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(fmt.Errorf("load counters: %w", err), it.Close())
		}
		n, err := decodeCount(raw)
		if err != nil {
			return errors.Join(fmt.Errorf("load counter %x: %w", it.Key(), err), it.Close())
		}
		s := series[string(sk)]
		if s == nil {
			s = &counterSeries{}
			series[string(sk)] = s
		}
		s.add(level, bucket, n)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("load counters: %w", err)
	}
	c.mu.Lock()
	c.series, c.horizon = series, horizon
	c.pending = map[*counterCommit]struct{}{}
	c.readers = map[*counterRead]struct{}{}
	c.mu.Unlock()
	return nil
}

// begin registers a batch's deltas as pending, before the batch is
// written; head (a stream head the batch sets to version) tells readers
// whether their snapshot holds it. It returns nil when there are no
// deltas. The caller ends it with done or, if the batch was not written,
// abort.
func (c *counterCache) begin(head []byte, version uint64, deltas []counterDelta) *counterCommit {
	if len(deltas) == 0 {
		return nil
	}
	cc := &counterCommit{head: head, version: version, deltas: deltas}
	for _, d := range deltas { // outside the mutex, which readers share
		if sk, _, _, ok := splitCreated(d.key); ok && !cc.touches(sk) {
			cc.series = append(cc.series, sk)
		}
	}
	c.mu.Lock()
	c.pending[cc] = struct{}{}
	c.mu.Unlock()
	return cc
}

// done folds a durable batch's deltas into the mirror.
func (c *counterCache) done(cc *counterCommit) {
	if cc == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, cc)
	c.fold(cc.deltas)
	c.seq++
	cc.seq = c.seq
	if len(c.readers) > 0 {
		c.folded = append(c.folded, cc)
	}
}

// abort forgets a batch that was not written.
func (c *counterCache) abort(cc *counterCommit) {
	if cc == nil {
		return
	}
	c.mu.Lock()
	delete(c.pending, cc)
	c.mu.Unlock()
}

// apply folds deltas written outside Commit (bulk loads in benchmarks).
func (c *counterCache) apply(deltas []counterDelta) {
	c.mu.Lock()
	c.fold(deltas)
	c.mu.Unlock()
}

func (c *counterCache) fold(deltas []counterDelta) {
	for _, d := range deltas {
		sk, level, bucket, ok := splitCreated(d.key)
		if !ok {
			continue
		}
		if level == 0 && bucket > c.horizon+1 {
			c.raiseHorizon(bucket - 1)
		}
		if level == finest && coarseOf(bucket) < c.horizon {
			continue
		}
		s := c.series[string(sk)]
		if s == nil {
			s = &counterSeries{}
			c.series[string(sk)] = s
		}
		s.add(level, bucket, d.delta)
	}
}

// finest is the level of the finest created counters.
const finest = len(createdShifts) - 1

// coarseOf is the coarsest bucket holding finest bucket b.
func coarseOf(b uint64) uint64 { return b >> (createdShifts[0] - createdShifts[finest]) }

// raiseHorizon moves the horizon up to h and drops the finest buckets
// below it.
func (c *counterCache) raiseHorizon(h uint64) {
	c.horizon = h
	for _, s := range c.series {
		for p := range s.levels[finest] {
			if coarseOf(p<<finestFanout) < h {
				delete(s.levels[finest], p)
			}
		}
	}
}

// counterRead is one reader's view of one series, consistent with its
// snapshot: from openRead to counts.
type counterRead struct {
	series  []byte
	horizon uint64           // the mirror's when the snapshot was taken
	since   uint64           // seq when the snapshot was taken
	pending []*counterCommit // pending then, with deltas on series
	held    []bool           // whether the snapshot holds pending[i]
}

// openRead takes a snapshot of db and opens a read of series consistent
// with it; the caller closes the snapshot and must call counts once.
func (c *counterCache) openRead(db *pebble.DB, series []byte) (*pebble.Snapshot, *counterRead, error) {
	r := &counterRead{series: series}
	c.mu.Lock()
	view := db.NewSnapshot()
	r.since, r.horizon = c.seq, c.horizon
	for cc := range c.pending {
		if cc.touches(series) {
			r.pending = append(r.pending, cc)
		}
	}
	c.readers[r] = struct{}{}
	c.mu.Unlock()
	// pending commits are rare and few (those in flight on this series):
	// one point read each, outside the mutex
	r.held = make([]bool, len(r.pending))
	for i, cc := range r.pending {
		v, err := getFrom(view, cc.head)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			c.closeRead(r)
			return nil, nil, errors.Join(fmt.Errorf("read head: %w", err), view.Close())
		case len(v) == 8:
			r.held[i] = binary.BigEndian.Uint64(v) >= cc.version
		}
	}
	return view, r, nil
}

func (cc *counterCommit) touches(series []byte) bool {
	for _, sk := range cc.series {
		if bytes.Equal(sk, series) {
			return true
		}
	}
	return false
}

// errHorizonMoved: the mirror dropped finest counters a read may need
// after its snapshot was taken; the read starts over.
var errHorizonMoved = errors.New("counter horizon moved")

// counts runs f with r's series as r's snapshot holds it and ends r; the
// finest counters below the horizon are those of settled (by parent
// bucket, read from r's snapshot). f runs under the mutex: it must read
// only the series.
func (c *counterCache) counts(r *counterRead, settled map[uint64][]bucketCount, f func(seriesView) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.horizon != r.horizon {
		c.endRead(r)
		return errHorizonMoved
	}
	v := seriesView{s: c.series[string(r.series)], horizon: r.horizon, settled: settled}
	// the commits the snapshot holds that are not folded yet, and those
	// folded since it was taken that it does not hold
	held := map[*counterCommit]bool{}
	for i, cc := range r.pending {
		held[cc] = r.held[i]
		if r.held[i] && cc.seq == 0 {
			v.adjust(r.series, cc.deltas, +1)
		}
	}
	for _, cc := range c.folded {
		if cc.seq > r.since && !held[cc] {
			v.adjust(r.series, cc.deltas, -1)
		}
	}
	c.endRead(r)
	return f(v)
}

// closeRead ends r without reading.
func (c *counterCache) closeRead(r *counterRead) {
	c.mu.Lock()
	c.endRead(r)
	c.mu.Unlock()
}

// endRead unregisters r and drops the folded commits no reader needs.
func (c *counterCache) endRead(r *counterRead) {
	delete(c.readers, r)
	oldest := c.seq
	for o := range c.readers {
		oldest = min(oldest, o.since)
	}
	i := 0
	for i < len(c.folded) && c.folded[i].seq <= oldest {
		i++
	}
	c.folded = append(c.folded[:0], c.folded[i:]...)
}

// seriesView is a series as one snapshot holds it: the mirror plus the
// adjustments of commits the mirror and the snapshot disagree on.
type seriesView struct {
	s       *counterSeries
	adj     map[levelBucket]int64
	horizon uint64
	settled map[uint64][]bucketCount
}

type levelBucket struct {
	level  int
	bucket uint64
}

func (v *seriesView) adjust(series []byte, deltas []counterDelta, sign int64) {
	for _, d := range deltas {
		sk, level, bucket, ok := splitCreated(d.key)
		if !ok || !bytes.Equal(sk, series) {
			continue
		}
		if v.adj == nil {
			v.adj = map[levelBucket]int64{}
		}
		v.adj[levelBucket{level, bucket}] += sign * d.delta
	}
}

// total is the series' count, all created times.
func (v seriesView) total() int64 {
	var n int64
	if v.s != nil {
		n = v.s.total
	}
	for lb, d := range v.adj {
		if lb.level == 0 {
			n += d
		}
	}
	return n
}

// buckets returns the non-zero buckets of level in [first, end), in order;
// ok is false when part of them are finest buckets below the horizon that
// were not read into settled.
func (v seriesView) buckets(level int, first, end uint64) (out []bucketCount, ok bool) {
	if level != finest || first >= end || coarseOf(first) >= v.horizon {
		return v.mirrored(level, first, end), true
	}
	// a finest range lies in one or two parents (see createdCount)
	for p := parentOf(finest, first); p <= parentOf(finest, end-1); p++ {
		lo, hi := max(first, p<<finestFanout), min(end, (p+1)<<finestFanout)
		if coarseOf(lo) >= v.horizon {
			out = append(out, v.mirrored(finest, lo, hi)...)
			continue
		}
		kids, ok := v.settled[p]
		if !ok {
			return nil, false
		}
		for _, b := range kids {
			if b.bucket >= lo && b.bucket < hi {
				out = append(out, b)
			}
		}
	}
	return out, true
}

// finestFanout is log2 of the number of finest buckets in their parent.
var finestFanout = createdShifts[finest-1] - createdShifts[finest]

// mirrored returns the non-zero buckets of level in [first, end) from the
// mirror and the adjustments, in order.
func (v seriesView) mirrored(level int, first, end uint64) []bucketCount {
	var out []bucketCount
	if v.s != nil {
		out = v.s.appendRange(nil, level, first, end)
	}
	if len(v.adj) == 0 {
		return out
	}
	for lb, d := range v.adj {
		if lb.level != level || lb.bucket < first || lb.bucket >= end || d == 0 {
			continue
		}
		i, found := slices.BinarySearchFunc(out, lb.bucket, func(b bucketCount, t uint64) int { return cmp.Compare(b.bucket, t) })
		if found {
			out[i].n += d
		} else {
			out = slices.Insert(out, i, bucketCount{lb.bucket, d})
		}
	}
	return slices.DeleteFunc(out, func(b bucketCount) bool { return b.n == 0 })
}

// total returns project's total for one filter combination from the
// mirror as it is now (the metrics' and the tests' read; a list reads
// through openRead).
func (c *counterCache) total(project uuid.UUID, mask byte, status, currency string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.series[string(seriesKey(project, mask, status, currency))]; s != nil {
		return s.total
	}
	return 0
}
