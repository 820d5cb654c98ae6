package persistence

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Group commits the commits of many writers, each to its own stream, as
// one synced batch (see commit): a chain round that applies a block's
// payments to thousands of invoices pays for one commit instead of one per
// invoice. Each member's commit is checked (version, claims) on its own
// and is written only if its checks pass, exactly as Commit would,
// atomically, and durably before its Commit returns or its Add's done
// runs. Counter deltas of the members are summed, so a thousand invoices
// making the same status change merge one operand per counter. Commit's
// invariants hold for every member: the group holds the stripes of all
// members' heads and claims from the checks until the batch is synced and
// the counts mirror and Committed hooks have run.
//
// A group expects a fixed number of members, each of which must call
// Add, Commit or Leave exactly once; it commits when the last one has, or
// when its wait ends, whichever comes first, so a member that never
// arrives holds the others up for at most wait. A member arriving after
// that commits alone, as Store.Commit does, once the group's batch is
// durable (or has failed). A member must not hold up
// another member's arrival (one writer per stream).
//
// A chain round's group also writes the monitor's write-ahead state in
// its batch (NewChainGroup), so the state is durable no later than any
// member's commit without a synced write of its own before the round.
//
// Add does not block its caller: a chain round's ten thousand invoice
// actors each hand their commit over and free their goroutine, instead of
// ten thousand goroutines waiting (and growing their stacks) until the
// round's last member arrives.
type Group struct {
	s       *Store
	mu      sync.Mutex
	pending int // members yet to arrive (Add, Commit or Leave)
	// size is the largest member batch so far (0: none yet). The members
	// of a group are alike (a round's payments, an expiry's expiries),
	// so it sizes the next member's batch better than batchSizeHint,
	// which must fit any commit: that allocated twice a payment's 1 KB,
	// about 12 MB per 10,000-payment block.
	size    atomic.Int64
	sealed  bool
	members []*member
	// arrived is closed when the last member arrives, which ends the
	// wait early.
	arrived chan struct{}
	// lead is a record the batch holds whatever the members do (nil:
	// none): a chain monitor's write-ahead state.
	lead *lead
	// written is closed once the group's batch is durable or has failed
	// (err, set before): a member arriving after the group committed
	// commits alone only then, so it is never durable before lead.
	written chan struct{}
	err     error
}

// lead is one key and value a group writes in its batch.
type lead struct{ key, value []byte }

type member struct {
	c       Commit
	b       *pebble.Batch // c's writes but its counter deltas
	deltas  []counterDelta
	done    func(version uint64, err error)
	version uint64
	err     error
}

// NewGroup returns a group expecting n members that commits at the latest
// wait after it is created, on the store's clock.
func (s *Store) NewGroup(n int, wait time.Duration) *Group {
	return s.newGroup(n, wait, nil)
}

// NewChainGroup is NewGroup for a chain round whose monitor must record
// state before any member's commit is durable (its write-ahead record of
// the payments the members apply): the group's batch stores state as
// network's chain state, as PutChainState does, whether or not any member
// is written, and a member arriving after the group committed fails if
// that batch failed. With n = 0 nothing is written.
func (s *Store) NewChainGroup(n int, wait time.Duration, network string, state []byte) *Group {
	return s.newGroup(n, wait, &lead{key: chainKey(network), value: state})
}

func (s *Store) newGroup(n int, wait time.Duration, l *lead) *Group {
	g := &Group{s: s, pending: n, lead: l, written: make(chan struct{})}
	if n <= 0 {
		g.sealed = true
		close(g.written)
		return g
	}
	g.arrived = make(chan struct{})
	expired := s.clock.After(wait)
	go func() {
		select {
		case <-expired:
			g.expire()
		case <-g.arrived:
		}
	}()
	return g
}

// Commit is Store.Commit as a member of g: it returns once the group's
// batch is durable (or failed), with c's own version or error.
func (g *Group) Commit(c Commit) (uint64, error) {
	type result struct {
		version uint64
		err     error
	}
	res := make(chan result, 1)
	g.Add(c, func(v uint64, err error) { res <- result{v, err} })
	r := <-res
	return r.version, r.err
}

// Add is Commit without the wait: c joins g and Add returns at once; done
// gets c's version or error, exactly once, from another goroutine, when
// the group's batch holding c is durable (after c's Committed hook) or
// has failed. c's batch is encoded in the caller, so the members' encoding
// runs on their own goroutines.
func (g *Group) Add(c Commit, done func(version uint64, err error)) {
	if len(c.Events) == 0 {
		g.Leave()
		go done(0, fmt.Errorf("commit stream %s: no events: %w", c.Stream, ErrInvalidArgument))
		return
	}
	m := &member{c: c, done: done, version: c.ExpectedVersion + uint64(len(c.Events)), deltas: counterDeltas(c.Old, c.New)}
	// The slack covers what Pebble reserves for a record beyond its bytes
	// and small differences between members (an amount's digits).
	size := int(g.size.Load()) + 256
	if size == 256 {
		size = batchSizeHint(c)
	}
	b, err := g.s.commitBatchSized(c, m.version, size)
	if err != nil {
		g.Leave()
		go done(0, fmt.Errorf("commit stream %s: %w", c.Stream, err))
		return
	}
	g.sized(int64(len(b.Repr())))
	m.b = b
	if !g.arrive(m) {
		b.Close()
		go g.commitAlone(c, done)
	}
}

// commitAlone commits c, which arrived after g committed, alone once g's
// batch is durable; it fails if g's lead was not written.
func (g *Group) commitAlone(c Commit, done func(version uint64, err error)) {
	<-g.written
	if g.lead != nil && g.err != nil {
		done(0, fmt.Errorf("commit stream %s: the group's batch before it failed: %w", c.Stream, g.err))
		return
	}
	done(g.s.Commit(c))
}

// sized raises g.size to a member batch's size n if n is larger.
func (g *Group) sized(n int64) {
	for cur := g.size.Load(); n > cur; cur = g.size.Load() {
		if g.size.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Leave tells g a member will not commit.
func (g *Group) Leave() { g.arrive(nil) }

// arrive adds m (nil: a member leaving) and commits the group when it is
// the last. It reports false if the group had already committed.
func (g *Group) arrive(m *member) bool {
	g.mu.Lock()
	if g.sealed {
		g.mu.Unlock()
		return false
	}
	if m != nil {
		g.members = append(g.members, m)
	}
	g.pending--
	last := g.pending == 0
	g.sealed = last
	g.mu.Unlock()
	if last {
		close(g.arrived)
		go g.commit() // the last member's caller goes on, as every other's did
	}
	return true
}

// expire commits the members that have arrived when the wait ends.
func (g *Group) expire() {
	g.mu.Lock()
	sealed := g.sealed
	g.sealed = true
	g.mu.Unlock()
	if !sealed {
		g.commit()
	}
}

// commit writes the members whose checks pass and hands every member its
// result. It holds the stripes of every member's keys, finds the members
// that clash with an earlier one of the group, checks the others against
// the store (a point read each) on every CPU, a part per P, and writes
// those that pass as one batch in key order (groupbatch.go), committed
// with Sync, their counter deltas summed. One batch, not one per part: a batch this large goes to Pebble
// as a flushable batch that rotates the memtable and the WAL, so batches
// per part were synced one after another (one WAL each) and each left its
// own L0 sublevel and flush. A member's done runs once the batch is
// durable and its Committed hook has run under the stripes, as in Commit.
func (g *Group) commit() {
	start := time.Now() // wall time, not the store's clock: it measures work for the histogram
	s := g.s
	var lockKeys [][]byte
	for _, m := range g.members {
		lockKeys = append(lockKeys, streamKey(m.c.Stream, streamHead))
		for _, cl := range m.c.Claims {
			lockKeys = append(lockKeys, cl.key)
		}
	}
	held := s.stripes.lock(lockKeys)
	defer s.stripes.unlock(held)

	// What earlier members write, which the store does not show yet: a
	// stream advanced, a claim taken.
	streams := map[[16]byte]bool{}
	claims := map[string][]byte{}
	var rest, clashed []*member
	for _, m := range g.members {
		if m.err = clash(m.c, streams, claims); m.err == nil {
			rest = append(rest, m)
		} else {
			clashed = append(clashed, m)
		}
	}
	finish(clashed)
	parts := split(rest, runtime.GOMAXPROCS(0))
	var dealt [][]piece // a flushable batch's records, in key ranges
	var splits [][]byte
	if flushable(rest) {
		splits = splitKeys(rest, len(parts))
		dealt = make([][]piece, len(parts))
	}
	sums := make([][]counterDelta, len(parts))
	inParallel(len(parts), func(i int) {
		s.checkAll(parts[i])
		if dealt != nil {
			dealt[i] = deal(parts[i], splits)
		}
		sums[i] = partSums(parts[i])
	})
	written, err := s.writeGroup(rest, dealt, splits, sums, g.lead)
	g.err = err
	close(g.written)
	if err != nil {
		for _, m := range written {
			m.err = fmt.Errorf("commit stream %s: write: %w", m.c.Stream, err)
		}
		written = nil
	}
	latency := time.Since(start).Seconds() // every member waited for the same sync
	outbox := false
	for _, m := range written {
		outbox = outbox || len(m.c.Outbox) > 0
		s.commitLatency.Observe(latency)
	}
	inParallel(len(parts), func(i int) {
		for _, m := range parts[i] {
			if m.err == nil && m.c.Committed != nil {
				m.c.Committed()
			}
		}
		finish(parts[i])
	})
	if outbox {
		s.signalOutbox()
	}
}

// checkAll checks each of ms, as check does, reading their heads with one
// iterator in key order: a point read builds and drops an iterator of its
// own, and the reads were the largest cost of the checks (3.5 µs a member
// in BenchmarkGroupCommit). The caller holds the heads' stripes, so the
// iterator's view of them is current.
func (s *Store) checkAll(ms []*member) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		for _, m := range ms {
			m.err = fmt.Errorf("commit stream %s: read head: %w", m.c.Stream, err)
		}
		return
	}
	defer it.Close()
	read := func(key []byte) ([]byte, error) {
		if it.SeekGE(key) && bytes.Equal(it.Key(), key) {
			return it.ValueAndErr()
		}
		if err := it.Error(); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	// sorted by head, which is the stream id's order
	byHead := slices.Clone(ms)
	slices.SortFunc(byHead, func(a, b *member) int { return bytes.Compare(a.c.Stream[:], b.c.Stream[:]) })
	for _, m := range byHead {
		m.err = s.checkWith(m.c, read)
	}
}

// writeGroup writes the members that passed their checks and l (if not
// nil) as one synced batch, their counter deltas summed (per part in sums,
// then here), and applies the deltas to the counts mirror once the batch
// is durable. A batch Pebble takes as a flushable batch is built in key
// order from dealt (the members' records, a piece per key range that splits cut, for
// each part of them; see groupbatch.go); a smaller one, which Pebble
// inserts into its memtable record by record, in member order. It returns
// the members it wrote (or tried to: err is the batch's).
func (s *Store) writeGroup(ms []*member, dealt [][]piece, splits [][]byte, sums [][]counterDelta, l *lead) (written []*member, err error) {
	written = make([]*member, 0, len(ms))
	for _, m := range ms {
		if m.err == nil {
			written = append(written, m)
		}
	}
	if len(written) == 0 {
		if l == nil {
			return nil, nil
		}
		return nil, s.writeLead(l)
	}
	var total []counterDelta
	at := map[string]int{}
	for _, part := range sums {
		total = sumDeltas(total, at, part)
	}
	deltas := slices.DeleteFunc(total, func(d counterDelta) bool { return d.delta == 0 })
	var b *pebble.Batch
	if dealt != nil {
		b, err = s.sortedGroupBatch(written, dealt, splits, deltas, l)
	} else {
		b, err = s.groupBatch(written, deltas, l)
	}
	if err != nil {
		return written, err
	}
	defer b.Close()
	// any member's head tells a reader whether its snapshot holds the batch
	pending := s.counts.begin(streamKey(written[0].c.Stream, streamHead), written[0].version, deltas)
	if err := s.commitSynced(b); err != nil {
		s.counts.abort(pending)
		return written, err
	}
	s.counts.done(pending)
	return written, nil
}

// writeLead writes l alone, synced: a group none of whose members passed
// their checks.
func (s *Store) writeLead(l *lead) error {
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Set(l.key, l.value, nil); err != nil {
		return fmt.Errorf("group lead record %x: %w", l.key, err)
	}
	if err := s.commitSynced(b); err != nil {
		return fmt.Errorf("group lead record %x: write: %w", l.key, err)
	}
	return nil
}

// groupBatch is the batch of the members ms, in member order, the merges
// of deltas and l (if not nil).
func (s *Store) groupBatch(ms []*member, deltas []counterDelta, l *lead) (*pebble.Batch, error) {
	// Sized for every member up front: grown by appends, the batch copied
	// itself over and over. The merges fit in the headroom.
	size := 4096
	for _, m := range ms {
		size += len(m.b.Repr())
	}
	b := s.db.NewBatchWithSize(size)
	for _, m := range ms {
		if err := b.Apply(m.b, nil); err != nil {
			b.Close()
			return nil, fmt.Errorf("commit stream %s: %w", m.c.Stream, err)
		}
	}
	if err := extraRecords(b, deltas, l); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// extraRecords adds what a group writes beside its members' batches to
// b: the merges of deltas and l (if not nil).
func extraRecords(b *pebble.Batch, deltas []counterDelta, l *lead) error {
	if err := mergeCounts(b, deltas); err != nil {
		return err
	}
	if l == nil {
		return nil
	}
	return b.Set(l.key, l.value, nil)
}

// sortedGroupBatch is the batch of the members ms, whose records are
// dealt, the merges of deltas and l (if not nil), in key order.
func (s *Store) sortedGroupBatch(ms []*member, dealt [][]piece, splits [][]byte, deltas []counterDelta, l *lead) (*pebble.Batch, error) {
	extra := s.db.NewBatch()
	defer extra.Close()
	if err := extraRecords(extra, deltas, l); err != nil {
		return nil, err
	}
	extraRecs, err := appendRecords(nil, extra.Repr())
	if err != nil {
		return nil, err
	}
	count := extra.Count()
	for _, m := range ms {
		count += m.b.Count()
	}
	b := s.db.NewBatch()
	if err := b.SetRepr(sortedRepr(append(dealt, dealRecs(extraRecs, splits)), count)); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// partSums sums the counter deltas of the members in ms that passed their
// checks, one entry per counter key.
func partSums(ms []*member) []counterDelta {
	var sums []counterDelta
	at := map[string]int{}
	for _, m := range ms {
		if m.err == nil {
			sums = sumDeltas(sums, at, m.deltas)
		}
	}
	return sums
}

// finish releases the members' batches and hands each its result.
func finish(ms []*member) {
	for _, m := range ms {
		m.b.Close()
		if m.err != nil {
			m.done(0, m.err)
		} else {
			m.done(m.version, nil)
		}
	}
}

// split cuts ms into at most n parts of about the same size.
func split(ms []*member, n int) [][]*member {
	n = min(n, len(ms))
	parts := make([][]*member, n)
	for i := range parts {
		parts[i] = ms[i*len(ms)/n : (i+1)*len(ms)/n]
	}
	return parts
}

// inParallel runs f(0) to f(n-1), each in its own goroutine, and waits.
func inParallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

// clash fails a member whose stream or claim an earlier member of the
// group writes, as Commit would once that member is durable; it records
// what c writes.
func clash(c Commit, streams map[[16]byte]bool, claims map[string][]byte) error {
	if streams[c.Stream] {
		return fmt.Errorf("commit stream %s: already committed in this group: %w", c.Stream, ErrVersionConflict)
	}
	for _, cl := range c.Claims {
		if existing, ok := claims[string(cl.key)]; ok {
			return fmt.Errorf("commit stream %s: %w", c.Stream, &ClaimTakenError{Kind: cl.kind, Existing: existing})
		}
	}
	streams[c.Stream] = true
	for _, cl := range c.Claims {
		claims[string(cl.key)] = cl.value
	}
	return nil
}
