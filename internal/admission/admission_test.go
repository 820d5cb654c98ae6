package admission

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/invoiced/invoiced/internal/clock"
)

// The controller's steps: cut in half while either signal is over its
// target, never below the floor; raised by 0.1 a sample with room, never
// above 1.
func TestStep_AIMDBetweenFloorAndOne(t *testing.T) {
	busy := Signals{SchedLatency: 4 * time.Millisecond}
	behind := Signals{SchedLatency: 50 * time.Microsecond, L0Depth: 12}
	idle := Signals{SchedLatency: 50 * time.Microsecond, L0Depth: 3}
	atTargets := Signals{SchedLatency: DefaultSchedTarget, L0Depth: DefaultL0Target}
	for _, tc := range []struct {
		name  string
		floor float64
		steps []Signals
		want  float64
	}{
		{"idle stays at 1", 0.1, []Signals{idle, idle}, 1},
		{"at the targets is not over them", 0.1, []Signals{atTargets}, 1},
		{"busy halves", 0.1, []Signals{busy}, 0.5},
		{"the LSM behind halves", 0.1, []Signals{behind}, 0.5},
		{"busy and behind halve once", 0.1, []Signals{{SchedLatency: time.Second, L0Depth: 20}}, 0.5},
		{"busy twice quarters", 0.1, []Signals{busy, busy}, 0.25},
		{"busy long stops at the floor", 0.1, []Signals{busy, busy, busy, busy, busy, busy}, 0.1},
		{"the floor is configurable", 0.3, []Signals{busy, busy, busy}, 0.3},
		{"room adds 0.1 a sample", 0.1, []Signals{busy, busy, idle, idle}, 0.45},
		{"back to 1 from the floor in 9 samples", 0.1, append(repeat(busy, 5), repeat(idle, 9)...), 1},
		{"not there in 8", 0.1, append(repeat(busy, 5), repeat(idle, 8)...), 0.9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Config{Floor: tc.floor})
			for _, s := range tc.steps {
				c.step(s)
			}
			if got := c.Factor(); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("factor %v, want %v", got, tc.want)
			}
		})
	}
}

func repeat(s Signals, n int) []Signals {
	out := make([]Signals, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// The operator sees the factor, the signals and which signal cut it.
func TestStep_Metrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := New(Config{Metrics: reg})
	c.step(Signals{SchedLatency: 3 * time.Millisecond, L0Depth: 2})
	c.step(Signals{SchedLatency: 2500 * time.Microsecond, L0Depth: 9})
	for _, tc := range []struct {
		metric prometheus.Collector
		want   float64
	}{
		{c.gFactor, 0.25},
		{c.gSched, 0.0025},
		{c.gL0, 9},
		{c.overloads.WithLabelValues("sched"), 2},
		{c.overloads.WithLabelValues("l0"), 1},
	} {
		if got := testutil.ToFloat64(tc.metric); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%v: %v, want %v", tc.metric, got, tc.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "invoiced_background_factor"); err != nil || n != 1 {
		t.Fatalf("invoiced_background_factor registered %d times (%v)", n, err)
	}
}

type signalsFunc func() Signals

func (f signalsFunc) Sample() Signals { return f() }

// Run samples once per interval on the injected clock; a floor of 1 keeps
// the factor at 1 while the signals are still sampled.
func TestRun_SamplesEveryInterval(t *testing.T) {
	for _, tc := range []struct {
		floor float64
		want  float64
	}{
		{0.1, 0.125},
		{1, 1},
	} {
		t.Run(fmt.Sprint("floor ", tc.floor), func(t *testing.T) {
			clk := clock.NewTest(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			sampled := make(chan struct{}, 10)
			c := New(Config{Floor: tc.floor, Clock: clk, Signals: signalsFunc(func() Signals {
				sampled <- struct{}{}
				return Signals{SchedLatency: time.Second}
			})})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { c.Run(ctx); close(done) }()
			for range 3 {
				if w := <-clk.Waits(); w != 100*time.Millisecond {
					t.Fatalf("waits %s between samples, want 100ms", w)
				}
				clk.Add(100 * time.Millisecond)
				<-sampled
			}
			cancel()
			<-done
			if got := c.Factor(); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("factor %v after 3 overloaded samples, want %v", got, tc.want)
			}
			if got := testutil.ToFloat64(c.gSched); got != 1 {
				t.Fatalf("sched latency gauge %v, want the sampled 1 s", got)
			}
		})
	}
}

// percentile reads the quantile of what was counted between two readings
// of a cumulative histogram, not since the process started.
func TestPercentile_OfTheDeltaBetweenReadings(t *testing.T) {
	// Buckets in seconds: [0,1µs) [1µs,1ms) [1ms,10ms) [10ms,+Inf).
	buckets := []float64{0, 1e-6, 1e-3, 1e-2, math.Inf(1)}
	for _, tc := range []struct {
		name          string
		before, after []uint64
		q             float64
		want          time.Duration
	}{
		{"no waits", []uint64{5, 5, 5, 5}, []uint64{5, 5, 5, 5}, 0.99, 0},
		{"all fast", []uint64{0, 0, 0, 0}, []uint64{100, 0, 0, 0}, 0.99, time.Microsecond},
		{"1 % slow is the p99", []uint64{0, 0, 0, 0}, []uint64{0, 99, 1, 0}, 0.99, time.Millisecond},
		{"2 % slow passes the p99", []uint64{0, 0, 0, 0}, []uint64{0, 98, 2, 0}, 0.99, 10 * time.Millisecond},
		{"old slow waits do not count", []uint64{0, 0, 1000, 0}, []uint64{0, 100, 1000, 0}, 0.99, time.Millisecond},
		{"the unbounded bucket reads its lower bound", []uint64{0, 0, 0, 0}, []uint64{0, 0, 0, 7}, 0.99, 10 * time.Millisecond},
		{"p90", []uint64{0, 0, 0, 0}, []uint64{0, 95, 5, 0}, 0.9, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(buckets, tc.before, tc.after, tc.q); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// The Sampler reads L0's depth from a real Pebble database with the
// store's compaction threshold (DefaultL0Target) and compactions off: three flushes that
// overlap over their whole range are three tables deep; a staircase, each
// table overlapping the one before at one key, is three sublevels but two
// tables deep.
func TestSampler_ReadsL0Depth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flushes [][]string // the keys of each flushed memtable
		want    int
	}{
		{"overlapping flushes", [][]string{{"a", "z"}, {"a", "z"}, {"a", "z"}}, 3},
		{"a staircase", [][]string{{"a", "b"}, {"b", "c"}, {"c", "d"}}, 2},
		{"disjoint flushes", [][]string{{"a", "b"}, {"c", "d"}, {"e", "f"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), DisableAutomaticCompactions: true, L0CompactionThreshold: DefaultL0Target})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s := NewSampler(db)
			s.Sample() // the first reading only sets the scheduling baseline
			for i, keys := range tc.flushes {
				for _, k := range keys {
					if err := db.Set([]byte(k), []byte{byte(i)}, pebble.NoSync); err != nil {
						t.Fatal(err)
					}
				}
				if err := db.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.Sample(); got.L0Depth != tc.want || got.SchedLatency < 0 {
				t.Fatalf("sampled %+v (%d sublevels), want an L0 depth of %d", got, db.Metrics().Levels[0].Sublevels, tc.want)
			}
		})
	}
}
