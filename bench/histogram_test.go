package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile is the reference: the ceil(q·n)-th smallest value.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func TestHistogram_QuantilesWithinOnePercentOfSortedReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	distributions := []struct {
		name string
		draw func() time.Duration
	}{
		{"uniform 1µs..60s", func() time.Duration {
			return time.Microsecond + time.Duration(rng.Int64N(int64(60*time.Second)))
		}},
		{"log-uniform 1µs..60s", func() time.Duration {
			return time.Duration(math.Exp(rng.Float64()*math.Log(6e7))) * time.Microsecond
		}},
		{"lognormal around 2ms", func() time.Duration {
			return time.Duration(2e6 * math.Exp(rng.NormFloat64()))
		}},
		{"bimodal 100µs and 30ms", func() time.Duration {
			if rng.IntN(100) < 97 {
				return time.Duration(100e3 + rng.Int64N(20e3))
			}
			return time.Duration(30e6 + rng.Int64N(5e6))
		}},
		{"small exact values", func() time.Duration { return time.Duration(rng.Int64N(300)) }},
	}
	quantiles := []float64{0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1}
	for _, d := range distributions {
		t.Run(d.name, func(t *testing.T) {
			h := NewHistogram()
			values := make([]time.Duration, 100_000)
			for i := range values {
				values[i] = d.draw()
				h.Record(values[i])
			}
			slices.Sort(values)
			for _, q := range quantiles {
				want := exactQuantile(values, q)
				got := h.Quantile(q)
				if got < want {
					t.Errorf("q=%v: got %v below the exact %v; quantiles must not understate", q, got, want)
				}
				if rel := float64(got-want) / float64(max(want, 1)); rel > 0.01 {
					t.Errorf("q=%v: got %v, exact %v: relative error %.4f > 1%%", q, got, want, rel)
				}
			}
			if h.Max() != values[len(values)-1] || h.Min() != values[0] {
				t.Errorf("min/max %v/%v, want %v/%v", h.Min(), h.Max(), values[0], values[len(values)-1])
			}
			if h.Count() != uint64(len(values)) {
				t.Errorf("count %d, want %d", h.Count(), len(values))
			}
		})
	}
}

func TestHistogram_BucketsAreContiguousAndNarrow(t *testing.T) {
	prevHigh := int64(-1)
	for i := 0; i < numBuckets; i++ {
		high := bucketHigh(i)
		low := prevHigh + 1
		if bucketIndex(low) != i || bucketIndex(high) != i {
			t.Fatalf("bucket %d = [%d, %d] does not map back to itself", i, low, high)
		}
		if width := high - low + 1; low > 0 && float64(width-1)/float64(low) > 1.0/subBuckets {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its lower bound", i, low, high, subBuckets)
		}
		prevHigh = high
	}
	if prevHigh != maxTrackable {
		t.Fatalf("last bucket ends at %d, want %d", prevHigh, maxTrackable)
	}
}

func TestHistogram_MergeEqualsRecordingEverythingInOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	all := NewHistogram()
	parts := []*Histogram{NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()}
	for i := range 20_000 {
		d := time.Duration(rng.Int64N(int64(time.Second)))
		all.Record(d)
		parts[i%len(parts)].Record(d)
	}
	merged := NewHistogram()
	for _, p := range parts {
		merged.Merge(p)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("q=%v: merged %v, single %v", q, merged.Quantile(q), all.Quantile(q))
		}
	}
	if merged.Count() != all.Count() || merged.Mean() != all.Mean() || merged.Min() != all.Min() {
		t.Errorf("merged count/mean/min %d/%v/%v, single %d/%v/%v",
			merged.Count(), merged.Mean(), merged.Min(), all.Count(), all.Mean(), all.Min())
	}
}

func TestHistogram_ResetAndOutOfRangeValues(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Min() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	h.Record(-time.Second)
	h.Record(5 * time.Minute)
	if h.Min() != 0 || h.Max() != 5*time.Minute {
		t.Fatalf("min/max %v/%v, want 0/5m", h.Min(), h.Max())
	}
	if got := h.Quantile(1); got != time.Duration(maxTrackable) {
		t.Fatalf("p100 of an over-range value = %v, want the clamp %v", got, time.Duration(maxTrackable))
	}
	h.Reset()
	h.Record(time.Millisecond)
	if h.Count() != 1 || h.Quantile(0.5) < time.Millisecond || h.Quantile(0.5) > time.Millisecond*101/100 {
		t.Fatalf("after reset: count %d, p50 %v", h.Count(), h.Quantile(0.5))
	}
}
