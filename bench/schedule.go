package bench

import (
	"sync/atomic"
	"time"
)

// lateAfter is how far behind its intended time an open-loop request may
// start before it counts as late: more than that and the client (or a
// server that holds every connection) did not keep the schedule, and the
// report says so.
const lateAfter = time.Millisecond

// schedule hands out the intended send times of an open-loop run. Slot k is
// due at start + k/rate whatever happened to earlier slots, so a slow
// response never delays later sends, and a request that could only start
// late has its latency measured from when it was due: no coordinated
// omission. Workers take slots in order from one counter; it is safe for
// concurrent use.
type schedule struct {
	start time.Time
	rate  float64   // slots per second, > 0
	end   time.Time // no slot at or after end; zero = no deadline
	limit int64     // at most limit slots; 0 = no limit
	next  atomic.Int64
}

func newSchedule(start time.Time, rate float64, duration time.Duration, limit int64) *schedule {
	s := &schedule{start: start, rate: rate, limit: limit}
	if duration > 0 {
		s.end = start.Add(duration)
	}
	return s
}

// at is slot k's intended time, and whether slot k is part of the run.
// Computing each slot from k (not by adding an interval) keeps fractional
// intervals from drifting.
func (s *schedule) at(k int64) (time.Time, bool) {
	if s.limit > 0 && k >= s.limit {
		return time.Time{}, false
	}
	t := s.start.Add(time.Duration(float64(k) * float64(time.Second) / s.rate))
	if !s.end.IsZero() && !t.Before(s.end) {
		return time.Time{}, false
	}
	return t, true
}

// take claims the next slot.
func (s *schedule) take() (time.Time, bool) {
	return s.at(s.next.Add(1) - 1)
}
