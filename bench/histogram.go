package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts durations in the log-linear buckets of HdrHistogram:
// values below 2·subBuckets nanoseconds have a bucket each, and every
// power-of-two range above is split into subBuckets equal buckets. A
// bucket's width is at most 1/subBuckets of its lower bound, so a
// percentile read from it is within 0.79% of the exact one, from 1ns to
// maxTrackable (about 68s; larger values count as maxTrackable, and Max
// keeps the true one).
//
// A Histogram is not safe for concurrent use: each worker records into its
// own and the collector merges them. The zero value is not usable; call
// NewHistogram.
type Histogram struct {
	counts   []uint64
	total    uint64
	sum      float64 // nanoseconds, for the mean
	min, max int64
	lo, hi   int // range of indexes that may be non-zero; lo > hi when empty
}

const (
	subBits      = 7
	subBuckets   = 1 << subBits
	maxTrackable = 1<<36 - 1 // ns, ~68.7s
)

var numBuckets = bucketIndex(maxTrackable) + 1

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, numBuckets), lo: numBuckets, hi: -1, min: math.MaxInt64}
}

// bucketIndex maps a value in [0, maxTrackable] to its bucket.
func bucketIndex(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (subBits + 1)
	return shift*subBuckets + int(v>>shift)
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < 2*subBuckets {
		return int64(i)
	}
	shift := i/subBuckets - 1
	top := int64(i - shift*subBuckets)
	return (top+1)<<shift - 1
}

// Record counts one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	i := bucketIndex(min(v, maxTrackable))
	h.counts[i]++
	h.lo, h.hi = min(h.lo, i), max(h.hi, i)
	h.total++
	h.sum += float64(v)
}

// Merge adds every value counted in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i := o.lo; i <= o.hi; i++ {
		h.counts[i] += o.counts[i]
	}
	h.lo, h.hi = min(h.lo, o.lo), max(h.hi, o.hi)
	h.total += o.total
	h.sum += o.sum
	h.min, h.max = min(h.min, o.min), max(h.max, o.max)
}

// Reset empties h, keeping its storage.
func (h *Histogram) Reset() {
	if h.total > 0 {
		clear(h.counts[h.lo : h.hi+1])
	}
	h.total, h.sum, h.min, h.max, h.lo, h.hi = 0, 0, math.MaxInt64, 0, numBuckets, -1
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest value recorded, exactly; 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest value recorded, exactly; 0 when empty.
func (h *Histogram) Min() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.min)
}

// Mean is the exact mean of the values recorded; 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the value at quantile q in [0, 1]: the highest value of
// the bucket holding the ceil(q·n)-th smallest value, capped at Max. It
// never understates a latency, and overstates it by less than 1/subBuckets.
// It is 0 when h is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(1, min(rank, h.total))
	var seen uint64
	for i := h.lo; i <= h.hi; i++ {
		seen += h.counts[i]
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}
