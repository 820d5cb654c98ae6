package persistence

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// L0's depth comes from its fill factor (2 × depth ÷ the compaction
// threshold), whatever its sublevel count; read amplification adds one per
// non-empty level below L0.
func TestReadAmp_L0DepthPlusLevels(t *testing.T) {
	for _, tc := range []struct {
		name               string
		fill               float64
		sublevels          int32
		tablesL5, tablesL6 int64
		depth, readAmp     int
	}{
		{"empty store", 0, 0, 0, 0, 0, 0},
		{"a staircase of sublevels three tables deep", 0.75, 17, 0, 4, 3, 4},
		{"at the compaction threshold", 2, 8, 3, 4, 8, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m pebble.Metrics
			m.Levels[0].FillFactor = tc.fill
			m.Levels[0].Sublevels = tc.sublevels
			m.Levels[5].TablesCount = tc.tablesL5
			m.Levels[6].TablesCount = tc.tablesL6
			if got := L0Depth(&m); got != tc.depth {
				t.Errorf("L0Depth = %d, want %d", got, tc.depth)
			}
			if got := readAmp(&m); got != tc.readAmp {
				t.Errorf("readAmp = %d, want %d", got, tc.readAmp)
			}
		})
	}
}
