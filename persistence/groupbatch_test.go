package persistence

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortRecs: the radix sort orders records as a stable sort by key
// would, for keys that share long prefixes, keys that are prefixes of
// others, empty keys and repeated keys (whose records keep their order).
func TestSortRecs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	prefix := bytes.Repeat([]byte{0x04}, 30)
	for _, tc := range []struct {
		name string
		n    int
		key  func(i int) []byte
	}{
		{"none", 0, nil},
		{"one", 1, func(int) []byte { return []byte("k") }},
		{"random", 5000, func(int) []byte { return binaryKey(rng, rng.IntN(40)) }},
		{"shared prefix", 5000, func(int) []byte { return append(slices.Clip(prefix), binaryKey(rng, rng.IntN(4))...) }},
		{"prefixes of each other", 3000, func(int) []byte { return prefix[:rng.IntN(len(prefix)+1)] }},
		{"repeated", 3000, func(int) []byte { return fmt.Appendf(nil, "key-%d", rng.IntN(50)) }},
		{"few repeated", 20, func(int) []byte { return fmt.Appendf(nil, "key-%d", rng.IntN(3)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newStore(t).DB().NewBatch()
			for i := range tc.n {
				if err := b.Set(tc.key(i), fmt.Appendf(nil, "%d", i), nil); err != nil {
					t.Fatal(err)
				}
			}
			recs, err := appendRecords(nil, b.Repr())
			if err != nil || len(recs) != tc.n {
				t.Fatalf("%d records of %d (%v)", len(recs), tc.n, err)
			}
			want := slices.Clone(recs)
			slices.SortStableFunc(want, func(a, b groupRec) int { return bytes.Compare(a.key(), b.key()) })
			sortRecs(recs)
			for i := range recs {
				if !bytes.Equal(recs[i].rec, want[i].rec) {
					t.Fatalf("record %d: %q, want %q", i, recs[i].rec, want[i].rec)
				}
			}
		})
	}
}

// TestSortedRepr_LastWriteOfAKeyWins: a group's batch in key order holds
// every record once, and of records of one key, in different parts or in
// one, the one written last is the one a read finds after the commit, as
// in a batch in member order.
func TestSortedRepr_LastWriteOfAKeyWins(t *testing.T) {
	s := newStore(t)
	rng := rand.New(rand.NewPCG(3, 4))
	last := map[string]string{}
	var parts [][]groupRec
	count := 0
	for p := range 3 {
		b := s.DB().NewBatch()
		for i := range 2000 {
			k := fmt.Appendf(nil, "key-%d", rng.IntN(3000))
			v := fmt.Sprintf("part %d record %d", p, i)
			if err := b.Set(k, []byte(v), nil); err != nil {
				t.Fatal(err)
			}
			last[string(k)] = v
			count++
		}
		recs, err := appendRecords(nil, b.Repr())
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, recs)
	}
	// split at keys of one part (keys repeat across the ranges' edges)
	sorted := slices.Clone(parts[0])
	sortRecs(sorted)
	splits := [][]byte{sorted[len(sorted)/3].key(), sorted[2*len(sorted)/3].key()}
	var dealt [][]piece
	for _, recs := range parts {
		dealt = append(dealt, dealRecs(recs, splits))
	}
	b := s.DB().NewBatch()
	if err := b.SetRepr(sortedRepr(dealt, uint32(count))); err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for r := b.Reader(); ; {
		_, k, _, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		keys = append(keys, k)
	}
	if len(keys) != count || !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Fatalf("%d records (want %d), in key order: %v", len(keys), count, slices.IsSortedFunc(keys, bytes.Compare))
	}
	if err := s.commitSynced(b); err != nil {
		t.Fatal(err)
	}
	for k, v := range last {
		if got := mustGet(t, s.DB(), []byte(k)); string(got) != v {
			t.Fatalf("%s: %q, want %q", k, got, v)
		}
	}
}

// binaryKey is n random bytes, mostly 0x00, 0x01 and 0xff.
func binaryKey(rng *rand.Rand, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = []byte{0x00, 0x01, 0xff, byte(rng.Uint32())}[rng.IntN(4)]
	}
	return k
}
