package admission

import (
	"math"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/invoiced/invoiced/persistence"
)

// lsm is the store's Pebble database (persistence.Store.DB).
type lsm interface {
	Metrics() *pebble.Metrics
}

// schedLatencies is the runtime's cumulative histogram of how long
// goroutines waited in the run queue before running.
const schedLatencies = "/sched/latencies:seconds"

// window is how many readings back the scheduling latency is measured
// from: the p99 of the last half second at the default interval, so one
// noisy tenth of a second (a few hundred waits) does not cut the factor.
const window = 5

// Sampler reads the real signals: the Go runtime's scheduling latencies
// over the last few samples and the depth of the LSM's L0
// (persistence.L0Depth).
type Sampler struct {
	db lsm

	mu   sync.Mutex
	read []metrics.Sample
	past [][]uint64 // the histogram's counts at the last window readings, oldest first
}

// NewSampler returns a Sampler of db's LSM (nil = scheduling latency only).
func NewSampler(db lsm) *Sampler {
	return &Sampler{db: db, read: []metrics.Sample{{Name: schedLatencies}}}
}

// Sample implements the Controller's sampler.
func (s *Sampler) Sample() Signals {
	var out Signals
	s.mu.Lock()
	metrics.Read(s.read)
	if v := s.read[0].Value; v.Kind() == metrics.KindFloat64Histogram {
		h := v.Float64Histogram()
		if len(s.past) > 0 && len(s.past[0]) == len(h.Counts) {
			out.SchedLatency = percentile(h.Buckets, s.past[0], h.Counts, 0.99)
		}
		var counts []uint64
		if len(s.past) == window {
			counts, s.past = s.past[0], s.past[1:]
		}
		s.past = append(s.past, append(counts[:0], h.Counts...))
	}
	s.mu.Unlock()
	if s.db != nil {
		out.L0Depth = persistence.L0Depth(s.db.Metrics())
	}
	return out
}

// percentile is the q-quantile of the waits counted between two readings
// of a cumulative histogram (counts before and after; bucket i spans
// buckets[i] to buckets[i+1]), as the upper bound of the bucket it falls in
// (its lower bound for the last, unbounded bucket); 0 with no waits.
func percentile(buckets []float64, before, after []uint64, q float64) time.Duration {
	var total uint64
	for i := range after {
		total += after[i] - before[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range after {
		seen += after[i] - before[i]
		if seen >= rank {
			bound := buckets[i+1]
			if math.IsInf(bound, 1) {
				bound = buckets[i]
			}
			return time.Duration(bound * float64(time.Second))
		}
	}
	return 0
}
