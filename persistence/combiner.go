package persistence

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// combiner writes the batches of concurrent Commits, each already checked
// under its own stripes, as one synced batch: while one combined batch is
// being written, the batches that arrive gather into the next, which the
// first of them writes once the write in flight is durable. Their counter
// deltas are summed, so creates of one project in one bucket merge one
// operand per counter instead of one each. A Commit that finds no write
// in flight writes its batch at once (no timer: a lone commit never waits
// for company).
//
// Each writer keeps everything Commit guarantees on its own: its checks
// ran, and its stripes stay held, from before it joins until its batch is
// durable and its Committed hook has run, so two writers with a key in
// common are never in one batch and a gathered batch has nothing to
// refuse. The writer that leads a batch takes no stripe for the others,
// so it cannot wait on a lock a member holds.
type combiner struct {
	mu      sync.Mutex
	writing bool      // a combined batch is being written
	next    []*joiner // gathered for the batch after it
	// batch and deltas are the leader's, reused from one combined write
	// to the next (one leader at a time; handOff orders them).
	batch  *pebble.Batch
	deltas []counterDelta
	// commits observes how many commits each synced write carried.
	commits prometheus.Histogram
}

func newCommitsPerWrite() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "invoiced_pebble_commits_per_write",
		Help:    "Invoice commits written together in one synced batch (concurrent commits combine).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 .. 512
	})
}

// joiner is one Commit's batch waiting in a combined write.
type joiner struct {
	b      *pebble.Batch // the commit's writes but its counter merges
	deltas []counterDelta
	err    error
	// ready is locked while the joiner waits; it is unlocked when err is
	// final, or when the joiner is to lead (a mutex rather than a channel:
	// no allocation of its own).
	ready sync.Mutex
	lead  []*joiner // the batch this joiner writes, if it was made leader
}

// maxCombinedBytes caps a combined batch well below half a memtable
// (16 MiB), where Pebble would write it as a flushable batch that rotates
// the memtable and the WAL; the joiners past it lead the next batch.
const maxCombinedBytes = 1 << 20

// write commits b (without its counter merges) and deltas with Sync, alone
// or combined with concurrent writes, and returns once they are durable
// or failed. b stays the caller's to close.
func (s *Store) write(b *pebble.Batch, deltas []counterDelta) error {
	c := &s.combiner
	c.mu.Lock()
	if !c.writing {
		c.writing = true
		c.mu.Unlock()
		lone := joiner{b: b, deltas: deltas}
		s.lead([]*joiner{&lone})
		return lone.err
	}
	j := &joiner{b: b, deltas: deltas}
	j.ready.Lock()
	c.next = append(c.next, j)
	c.mu.Unlock()
	j.ready.Lock() // until the leader unlocks it
	if j.lead != nil {
		s.lead(j.lead)
	}
	return j.err
}

// lead writes group as one synced batch, hands the batches gathered
// meanwhile to their first joiner, then gives every joiner of group its
// result. If the write panics (a failed WAL: OnFatal has been called),
// the others get an error and the panic goes on in the leader.
func (s *Store) lead(group []*joiner) {
	defer func() {
		p := recover()
		if p != nil {
			s.combiner.batch = nil // whatever state the failed commit left it in
			for _, j := range group {
				j.err = fmt.Errorf("combined write: store failed: %v", p)
			}
		}
		s.handOff()
		for _, j := range group[1:] {
			j.ready.Unlock()
		}
		if p != nil {
			panic(p)
		}
	}()
	err := s.writeCombined(group)
	s.combiner.commits.Observe(float64(len(group)))
	for _, j := range group {
		j.err = err
	}
}

// handOff makes the first of the gathered joiners (up to
// maxCombinedBytes of them) lead the next batch, or ends the writing.
func (s *Store) handOff() {
	c := &s.combiner
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.next) == 0 {
		c.writing = false
		return
	}
	n, size := 1, len(c.next[0].b.Repr())
	for n < len(c.next) && size+len(c.next[n].b.Repr()) <= maxCombinedBytes {
		size += len(c.next[n].b.Repr())
		n++
	}
	group, rest := c.next[:n:n], c.next[n:]
	c.next = nil // a new array: the old one holds the joiners of group
	if len(rest) > 0 {
		c.next = append(c.next, rest...)
	}
	group[0].lead = group
	group[0].ready.Unlock()
}

// writeCombined commits group's batches and their summed counter deltas as
// one batch with Sync. A lone batch gets its merges and is committed as
// it is, without a copy.
func (s *Store) writeCombined(group []*joiner) error {
	if len(group) == 1 {
		b := group[0].b
		if err := mergeCounts(b, group[0].deltas); err != nil {
			return err
		}
		return s.commitSynced(b)
	}
	c := &s.combiner
	if c.batch == nil {
		c.batch = s.db.NewBatchWithSize(maxCombinedBytes / 4)
	}
	b := c.batch
	deltas := c.deltas[:0]
	for _, j := range group {
		if err := b.Apply(j.b, nil); err != nil {
			b.Reset()
			return err
		}
		deltas = append(deltas, j.deltas...)
	}
	// Summed by sorting, not with sumDeltas as a Group does: a combined
	// write holds a few hundred deltas, whose sort allocates nothing, where
	// sumDeltas's map copies each distinct key (3 allocations more per
	// commit in BenchmarkCommitCreateSync/parallel).
	slices.SortFunc(deltas, func(x, y counterDelta) int { return bytes.Compare(x.key, y.key) })
	sums := deltas[:0]
	for _, d := range deltas {
		if n := len(sums); n > 0 && bytes.Equal(sums[n-1].key, d.key) {
			sums[n-1].delta += d.delta
		} else {
			sums = append(sums, d)
		}
	}
	err := mergeCounts(b, sums)
	clear(deltas) // the keys belong to the commits
	c.deltas = deltas[:0]
	if err == nil {
		err = s.commitSynced(b) // a panic here drops the batch (lead)
	}
	b.Reset()
	return err
}
