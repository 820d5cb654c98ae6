package persistence

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// claimFilter is an in-memory negative filter over every claim key the
// store holds, so that a claim check, nearly always a miss, skips Pebble's
// point read (a bloom filter per L0 table and level, each a block-cache
// lookup: 8.5 % of the server's CPU under durable creates).
//
// It is a blocked bloom filter that grows by segments: a key is in one
// 512-bit block of each segment it was added to, a miss needs every
// segment to say "absent", and a full segment gets a successor of twice
// its capacity. A segment takes filterBitsPerKey bits, 2 MB per million
// keys it can hold; Open sizes the first for twice the claims it finds
// (at least a million), and each successor holds as many keys as all
// before it, so the filter takes 2–4 MB per million claims, at least
// 2 MiB (BenchmarkLoadClaimFilter: 4 MB and 0.2–0.3 s at Open for
// 1,000,000 claims).
//
// Invariants (kept here and by the writers named below):
//
//  1. The filter holds every claim key (prefix 0x02) in the store: Open adds
//     every one it finds before the store serves a write, and every writer
//     of a claim key adds it before releasing that key's stripe lock
//     (takeClaims, from check, for Commit and Group members; CreateProject
//     and UpdateProject for project names; repair for any claim key it
//     writes, none today; bulkFillRange in the benchmarks).
//  2. A claim is only ever checked under its key's stripe lock, which its
//     writer held while adding it, so a check sees every add of its key
//     that happened before (the mutex orders them; the bits are atomic
//     only because other keys' adds touch the same words at the same time).
//  3. Bits are only ever set, never cleared: a deleted claim (a renamed
//     project, a write that failed after its add) stays "maybe", which costs
//     one Get and is never wrong.
//  4. Nothing writes claim keys past this package (Store.DB's writers
//     bypass the invariants, as DB says); a store changed on disk while
//     closed is rescanned at the next Open.
//
// So "absent" is always true, and "maybe" falls back to the Get.
type claimFilter struct {
	seed maphash.Seed
	mu   sync.Mutex // serializes growth
	segs atomic.Pointer[[]*filterSegment]
}

// filterBitsPerKey and filterProbes give a false "maybe" rate of about
// 0.25 % per full segment (TestClaimFilter_FalseMaybeRate); a lookup
// reads one cache line per segment.
const (
	filterBitsPerKey = 16
	filterProbes     = 8
	filterBlockWords = 8 // 512 bits: one cache line
	// filterMinCapacity is the least capacity of the first segment Open
	// makes (2 MiB): a store that starts empty grows by few segments, each
	// of which adds its false "maybe" rate to a lookup's.
	filterMinCapacity = 1 << 20
)

type filterSegment struct {
	words    []atomic.Uint64
	blocks   uint64
	capacity int64
	n        atomic.Int64
}

func newFilterSegment(capacity int64) *filterSegment {
	blocks := uint64(capacity*filterBitsPerKey+filterBlockWords*64-1) / (filterBlockWords * 64)
	return &filterSegment{words: make([]atomic.Uint64, blocks*filterBlockWords), blocks: blocks, capacity: capacity}
}

// newClaimFilter returns an empty filter hashing with seed whose first
// segment holds capacity keys.
func newClaimFilter(seed maphash.Seed, capacity int64) *claimFilter {
	f := &claimFilter{seed: seed}
	segs := []*filterSegment{newFilterSegment(capacity)}
	f.segs.Store(&segs)
	return f
}

func (f *claimFilter) hash(key []byte) uint64 { return maphash.Bytes(f.seed, key) }

// probes returns where h's probes are in seg: the block's first word,
// the first bit and the step between bits. The block is chosen by the high
// half (a multiply-shift range reduction), the bits by double hashing of
// the low half, as Pebble's own blocked bloom filter does.
func (seg *filterSegment) probes(h uint64) (base int, bit, delta uint32) {
	block := (h >> 32) * seg.blocks >> 32
	bit = uint32(h)
	return int(block) * filterBlockWords, bit, bit>>17 | bit<<15
}

// add records key (see the invariants: under key's stripe lock).
func (f *claimFilter) add(key []byte) { f.addHash(f.hash(key)) }

// addIfClaim adds key if it is a claim key: for writers of records of any
// kind (repair), so that one that ever writes a claim keeps invariant 1.
func (f *claimFilter) addIfClaim(key []byte) {
	if len(key) > 0 && key[0] == prefixClaim {
		f.add(key)
	}
}

func (f *claimFilter) addHash(h uint64) {
	segs := *f.segs.Load()
	seg := segs[len(segs)-1]
	base, bit, delta := seg.probes(h)
	for range filterProbes {
		b := bit % (filterBlockWords * 64)
		seg.words[base+int(b/64)].Or(1 << (b % 64))
		bit += delta
	}
	// Every adder past capacity grows (or waits for the one growing), so
	// that a segment overfills by at most one key per concurrent adder:
	// with only the adder reaching capacity growing, a segment took four
	// times its capacity while that one waited for a CPU.
	if seg.n.Add(1) >= seg.capacity {
		f.grow(seg)
	}
}

// grow adds a segment of twice full's capacity after full, unless full is
// no longer the last.
func (f *claimFilter) grow(full *filterSegment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	segs := *f.segs.Load()
	if segs[len(segs)-1] != full {
		return
	}
	next := append(segs[:len(segs):len(segs)], newFilterSegment(2*full.capacity))
	f.segs.Store(&next)
}

// mayHold reports false if key is certainly not a claim in the store.
func (f *claimFilter) mayHold(key []byte) bool {
	h := f.hash(key)
	for _, seg := range *f.segs.Load() {
		if seg.holds(h) {
			return true
		}
	}
	return false
}

func (seg *filterSegment) holds(h uint64) bool {
	base, bit, delta := seg.probes(h)
	for range filterProbes {
		b := bit % (filterBlockWords * 64)
		if seg.words[base+int(b/64)].Load()&(1<<(b%64)) == 0 {
			return false
		}
		bit += delta
	}
	return true
}

// bytes is the filter's memory.
func (f *claimFilter) bytes() int {
	n := 0
	for _, seg := range *f.segs.Load() {
		n += len(seg.words) * 8
	}
	return n
}

const loadChunk = 1 << 16

// loadClaimFilter builds the filter from every claim key in db, sized for
// twice as many as it finds (at least filterMinCapacity).
func loadClaimFilter(db *pebble.DB) (*claimFilter, error) {
	seed := maphash.MakeSeed()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixClaim}, UpperBound: []byte{prefixClaim + 1}})
	if err != nil {
		return nil, fmt.Errorf("load claim filter: %w", err)
	}
	// The hashes in chunks, not one slice grown by copying: 8 bytes per
	// claim are all the scan holds.
	var chunks [][]uint64
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if n%loadChunk == 0 {
			chunks = append(chunks, make([]uint64, 0, loadChunk))
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], maphash.Bytes(seed, it.Key()))
		n++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("load claim filter: %w", err)
	}
	f := newClaimFilter(seed, max(2*int64(n), filterMinCapacity))
	for _, c := range chunks {
		for _, h := range c {
			f.addHash(h)
		}
	}
	return f, nil
}
