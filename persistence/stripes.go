package persistence

import (
	"hash/maphash"
	"slices"
	"sync"
)

// numStripes bounds the lock table (512 KiB of mutexes). Two keys share a
// lock with probability 1/65536, while a check-then-write on one key (a
// claim, a stream version) is serialized. A lock is held across the fsync,
// so a collision makes a commit wait for another's: with 4,096 stripes,
// three keys per create and 64 creates in flight, 13 % of creates
// collided. Stripe indexes are uint16: this is the largest table they
// address.
const numStripes = 1 << 16

// stripes is a table of mutexes chosen by key hash. A writer holds the
// stripes of every key it checks across "check, then commit with Sync", so
// the check stays true until its batch is durable.
type stripes struct {
	seed maphash.Seed
	mu   [numStripes]sync.Mutex
}

func (s *stripes) init() { s.seed = maphash.MakeSeed() }

// lock locks the stripes of keys in ascending order, once each, so two
// writers with overlapping keys cannot deadlock; it returns what unlock
// needs.
func (s *stripes) lock(keys [][]byte) []uint16 {
	idx := make([]uint16, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, uint16(maphash.Bytes(s.seed, k)%numStripes))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.mu[i].Lock()
	}
	return idx
}

func (s *stripes) unlock(idx []uint16) {
	for _, i := range slices.Backward(idx) {
		s.mu[i].Unlock()
	}
}
