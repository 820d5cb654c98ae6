package invoice

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

func cached(id uuid.UUID, version uint64) *engine.Invoice {
	return &engine.Invoice{ID: id, Version: version}
}

// idInShard returns the n-th id of shard 0, so a test can fill one shard.
func idInShard(n int) uuid.UUID {
	var id uuid.UUID
	id[0], id[1] = byte(n>>8), byte(n)
	id[15] = 0
	return id
}

func TestStateCache(t *testing.T) {
	a, b, c, d := idInShard(1), idInShard(2), idInShard(3), idInShard(4)
	for _, tc := range []struct {
		name string
		ops  func(c stateCache)
		want map[uuid.UUID]uint64 // id -> cached version; absent = not cached
	}{
		{"newer version replaces", func(s stateCache) { s.committed(cached(a, 1)); s.committed(cached(a, 2)) }, map[uuid.UUID]uint64{a: 2}},
		{"older version is ignored", func(s stateCache) { s.committed(cached(a, 3)); s.committed(cached(a, 2)) }, map[uuid.UUID]uint64{a: 3}},
		{"full shard evicts the oldest unread", func(s stateCache) {
			s.committed(cached(a, 1))
			s.committed(cached(b, 1))
			s.committed(cached(c, 1))
		}, map[uuid.UUID]uint64{b: 1, c: 1}},
		{"a read entry gets a second chance", func(s stateCache) {
			s.committed(cached(a, 1))
			s.committed(cached(b, 1))
			s.get(a)
			s.committed(cached(c, 1)) // passes a (clearing its mark), evicts b
			s.committed(cached(d, 1)) // a unmarked now: evicted
		}, map[uuid.UUID]uint64{c: 1, d: 1}},
		{"a larger entry evicts as many as it needs", func(s stateCache) {
			s.committed(cached(a, 1))
			s.committed(cached(b, 1))
			big := cached(c, 1)
			big.OrderID = strings.Repeat("x", entryOverhead/2) // 1.5 entries
			s.committed(big)
		}, map[uuid.UUID]uint64{c: 1}},
		{"an invoice that grew makes room like a new one", func(s stateCache) {
			s.committed(cached(a, 1))
			s.committed(cached(b, 1))
			grown := cached(b, 2)
			grown.Transactions = make([]engine.Transaction, 2)
			s.committed(grown)
		}, map[uuid.UUID]uint64{b: 2}},
		{"an entry larger than the shard is not kept", func(s stateCache) {
			s.committed(cached(a, 1))
			huge := cached(b, 1)
			huge.CallbackURL = strings.Repeat("x", 2*entryOverhead)
			s.committed(huge)
		}, map[uuid.UUID]uint64{a: 1}},
		{"a read keeps what it loaded", func(s stateCache) {
			at := s.stamp(a)
			s.loaded(at, cached(a, 1))
		}, map[uuid.UUID]uint64{a: 1}},
		{"a read does not put back a state older than a commit that came and went", func(s stateCache) {
			at := s.stamp(a) // the read begins and loads version 1
			s.committed(cached(a, 2))
			s.committed(cached(b, 1))
			s.committed(cached(c, 1)) // evicts version 2
			s.loaded(at, cached(a, 1))
		}, map[uuid.UUID]uint64{b: 1, c: 1}},
		{"a commit of another invoice in the shard also stops the fill", func(s stateCache) {
			at := s.stamp(a)
			s.committed(cached(b, 1)) // same shard: the read cannot tell it from a's
			s.loaded(at, cached(a, 1))
		}, map[uuid.UUID]uint64{b: 1}},
		{"a commit after the read replaces its state", func(s stateCache) {
			s.loaded(s.stamp(a), cached(a, 1))
			s.committed(cached(a, 2))
			s.loaded(s.stamp(a), cached(a, 1)) // a slow read of the old version
		}, map[uuid.UUID]uint64{a: 2}},
		{"an evicted slot is reused", func(s stateCache) {
			s.committed(cached(a, 1))
			s.committed(cached(b, 1))
			s.committed(cached(c, 1))
			s.committed(cached(d, 1))
			s.committed(cached(a, 2))
		}, map[uuid.UUID]uint64{d: 1, a: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStateCache(2 * cacheShards * entrySize(cached(a, 1))) // two entries per shard
			tc.ops(s)
			for _, id := range []uuid.UUID{a, b, c, d} {
				inv, ok := s.get(id)
				want, cachedWant := tc.want[id]
				if ok != cachedWant || (ok && inv.Version != want) {
					t.Errorf("%x: cached %v at version %d, want cached %v at %d", id[:2], ok, inv.Version, cachedWant, want)
				}
			}
			if s.len() != len(tc.want) {
				t.Errorf("len %d, want %d", s.len(), len(tc.want))
			}
			sh := &s.shards[0]
			var sum int64
			for _, i := range sh.entries {
				sum += sh.ring[i].size
			}
			if sum != sh.bytes || sh.bytes > sh.max || len(sh.ring) > 2 {
				t.Errorf("shard holds %d bytes, counts %d, bound %d, %d slots", sum, sh.bytes, sh.max, len(sh.ring))
			}
		})
	}
	if newStateCache(0).clockCache != nil || newStateCache(entryOverhead-1).clockCache != nil {
		t.Error("a bound below one entry should disable the cache")
	}
	var off stateCache
	off.committed(cached(a, 1))
	off.loaded(off.stamp(a), cached(a, 1))
	if _, ok := off.get(a); ok || off.len() != 0 {
		t.Error("a disabled cache holds something")
	}
}

// TestStateCache_ReadsMatchTheStore: with a cache far smaller than the
// invoices being changed, every read (API and actor) still returns what the
// store holds, so eviction and refill never serve an old state.
func TestStateCache_ReadsMatchTheStore(t *testing.T) {
	r, store := newTestService(t)
	r.states = newStateCache(cacheShards * 2 * entryOverhead) // one invoice per shard
	ctx := context.Background()
	project := uuid.New()
	var ids []uuid.UUID
	for i := range 64 {
		inv, _, err := r.Create(ctx, project, engine.CreateRequest{OrderID: fmt.Sprint("o-", i), Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.ID)
	}
	at := time.Now()
	for round := range 4 {
		for i, id := range ids {
			if (i+round)%3 == 0 {
				continue // some invoices stay behind, so versions differ
			}
			cmd := engine.ObservePayment{TxID: "tx", Index: 0, Amount: engine.NewUnits(50_000), At: at, Confirmations: round}
			if round > 0 {
				cmd.Height, cmd.BlockHash = uint64(100+round), fmt.Sprint("h", round)
			}
			if _, err := r.Apply(ctx, id, cmd); err != nil {
				t.Fatalf("round %d invoice %d: %v", round, i, err)
			}
		}
		for _, id := range ids {
			fromStore, err := Load(store, id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Get(ctx, project, id)
			if err != nil || !reflect.DeepEqual(got, fromStore) {
				t.Fatalf("round %d: Get %v (%v) at version %d, store has version %d", round, id, err, got.Version, fromStore.Version)
			}
		}
	}
	if hits, misses := r.states.hitCount(), r.states.missCount(); hits == 0 || misses == 0 {
		t.Fatalf("hits %d, misses %d: the test should exercise both", hits, misses)
	}
}

// TestStateCache_ReadFillsNeverGoBack races commits of many invoices
// against reads that fill the cache with what they load, in a cache of two
// entries, so commits are evicted while reads load: a read must never see
// a state older than the last one acknowledged (a commit is acknowledged
// after its Committed hook, which comes after its batch is durable).
func TestStateCache_ReadFillsNeverGoBack(t *testing.T) {
	const invoices, versions, readers = 8, 10000, 4
	s := newStateCache(2 * cacheShards * entrySize(cached(idInShard(0), 1)))
	var stored, acked [invoices]atomic.Uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	for n := range invoices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := idInShard(n)
			for v := uint64(1); v <= versions; v++ {
				stored[n].Store(v) // the durable batch
				s.committed(cached(id, v))
				acked[n].Store(v)
			}
		}()
	}
	errs := make(chan error, readers)
	for r := range readers {
		go func() {
			var err error
			defer func() { errs <- err }()
			for i := r; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				n := i % invoices
				id := idInShard(n)
				ack := acked[n].Load()
				if inv, ok := s.get(id); ok {
					if inv.Version < ack {
						err = fmt.Errorf("invoice %d: cached version %d after version %d was acknowledged", n, inv.Version, ack)
						return
					}
					continue
				}
				at := s.stamp(id)
				v := stored[n].Load() // the store read
				runtime.Gosched()
				if v > 0 {
					s.loaded(at, cached(id, v))
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	for range readers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if s.hitCount() == 0 || s.missCount() == 0 {
		t.Fatalf("hits %d, misses %d: the test should exercise both", s.hitCount(), s.missCount())
	}
}
