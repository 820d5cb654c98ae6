package persistence

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
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
}

// joiner is one Commit's batch waiting in a combined write.
type joiner struct {
	b      *pebble.Batch // the commit's writes but its counter merges
	deltas []counterDelta
	err    error
	ready  chan struct{} // closed when err is final, or when the joiner leads
	lead   []*joiner     // the batch this joiner writes, if it was made leader
}

// maxCombinedBytes caps a combined batch well below half a memtable
// (16 MiB), where Pebble would write it as a flushable batch that rotates
// the memtable and the WAL; the joiners past it lead the next batch.
const maxCombinedBytes = 1 << 20

// write commits b (without its counter merges) and deltas with Sync, alone
// or combined with concurrent writes, and returns once they are durable
// or failed. b stays the caller's to close.
func (s *Store) write(b *pebble.Batch, deltas []counterDelta) error {
	j := &joiner{b: b, deltas: deltas}
	c := &s.combiner
	c.mu.Lock()
	if c.writing {
		j.ready = make(chan struct{})
		c.next = append(c.next, j)
		c.mu.Unlock()
		<-j.ready
		if j.lead == nil {
			return j.err
		}
	} else {
		c.writing = true
		c.mu.Unlock()
		j.lead = []*joiner{j}
	}
	s.lead(j.lead)
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
			for _, j := range group {
				j.err = fmt.Errorf("combined write: store failed: %v", p)
			}
		}
		s.handOff()
		for _, j := range group[1:] {
			close(j.ready)
		}
		if p != nil {
			panic(p)
		}
	}()
	err := s.writeCombined(group)
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
	group := c.next[:n:n]
	c.next = c.next[n:]
	group[0].lead = group
	close(group[0].ready)
}

// writeCombined commits group's batches and their summed counter deltas as
// one batch with Sync. A lone batch gets its merges and is committed as
// it is, without a copy.
func (s *Store) writeCombined(group []*joiner) error {
	if len(group) == 1 {
		b := group[0].b
		for _, d := range group[0].deltas {
			if err := b.Merge(d.key, encodeCount(d.delta), nil); err != nil {
				return err
			}
		}
		return s.commitSynced(b)
	}
	size := 1024
	for _, j := range group {
		size += len(j.b.Repr())
	}
	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	var sums map[string]int64
	for _, j := range group {
		if err := b.Apply(j.b, nil); err != nil {
			return err
		}
		for _, d := range j.deltas {
			if sums == nil {
				sums = make(map[string]int64, len(j.deltas))
			}
			sums[string(d.key)] += d.delta
		}
	}
	var err error
	for k, d := range sums {
		if d != 0 {
			err = errors.Join(err, b.Merge([]byte(k), encodeCount(d), nil))
		}
	}
	if err != nil {
		return err
	}
	return s.commitSynced(b)
}
