package persistence

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func TestCounterMerger(t *testing.T) {
	cases := []struct {
		name     string
		operands []int64 // oldest first; the first may be a full value
		want     int64
	}{
		{"single operand", []int64{1}, 1},
		{"increments", []int64{1, 1, 1}, 3},
		{"full value then deltas", []int64{41, 1, -1, 1}, 42},
		{"back to zero", []int64{1, -1}, 0},
		{"negative partial sum", []int64{-1, -1}, -2},
		{"large values", []int64{1 << 40, 1 << 40}, 1 << 41},
	}
	key := []byte("counter")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Pebble feeds operands newest-first during reads
			// (MergeOlder) and oldest-first during some compactions
			// (MergeNewer); both must give the same bytes.
			n := len(tc.operands)
			older, err := counterMerger.Merge(key, encodeCount(tc.operands[n-1]))
			if err != nil {
				t.Fatal(err)
			}
			for i := n - 2; i >= 0; i-- {
				if err := older.MergeOlder(encodeCount(tc.operands[i])); err != nil {
					t.Fatal(err)
				}
			}
			newer, err := counterMerger.Merge(key, encodeCount(tc.operands[0]))
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range tc.operands[1:] {
				if err := newer.MergeNewer(encodeCount(op)); err != nil {
					t.Fatal(err)
				}
			}
			for name, m := range map[string]pebble.ValueMerger{"older": older, "newer": newer} {
				for _, includesBase := range []bool{true, false} {
					v, closer, err := m.Finish(includesBase)
					if err != nil || closer != nil {
						t.Fatalf("%s finish: %v %v", name, closer, err)
					}
					if got, err := decodeCount(v); err != nil || got != tc.want {
						t.Fatalf("%s: %d %v, want %d", name, got, err, tc.want)
					}
				}
			}
		})
	}
}

func TestCounterMerger_RejectsBadOperand(t *testing.T) {
	if _, err := counterMerger.Merge([]byte("k"), []byte{1, 2, 3}); err == nil {
		t.Fatal("3-byte first operand accepted")
	}
	m, err := counterMerger.Merge([]byte("k"), encodeCount(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.MergeOlder(nil); err == nil {
		t.Fatal("empty operand accepted")
	}
}

// TestCounterMerger_InPebble checks the merger where Pebble applies it: over
// a Set full value, in the memtable, and after flush and compaction.
func TestCounterMerger_InPebble(t *testing.T) {
	s := newStore(t)
	key := []byte("\x05test-counter")
	if err := s.db.Set(key, encodeCount(10), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	for _, d := range []int64{1, 1, -1, 5} {
		if err := s.db.Merge(key, encodeCount(d), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	check := func(stage string, want int64) {
		t.Helper()
		got, err := decodeCount(mustGet(t, s.db, key))
		if err != nil || got != want {
			t.Fatalf("%s: %d %v, want %d", stage, got, err, want)
		}
	}
	check("memtable", 16)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Merge(key, encodeCount(-6), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	check("flushed plus memtable", 10)
	if err := s.db.Compact(t.Context(), []byte{0x05}, []byte{0x06}, true); err != nil {
		t.Fatal(err)
	}
	check("compacted", 10)
}
