package bench

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request of a scenario or baseline, called by one worker at a
// time. It returns nil on success (for HTTP: a 2xx answer whose body was
// read to the end), a *StatusError for any other answer, or the failure.
type Op func(ctx context.Context) error

// Shape is how a phase drives its ops. A run's baselines and scenarios share
// one Shape, which is what makes their figures comparable.
type Shape struct {
	Conns    int           // workers, each with its own connection
	Duration time.Duration // length of the measured phase when Requests is 0
	Requests int64         // > 0: the measured phase is this many requests in all
	Rate     float64       // > 0: open loop at this many requests per second in all
	Warmup   time.Duration // unmeasured load before each measured phase
}

// OpenLoop reports whether requests follow a schedule instead of each
// worker sending as soon as its previous answer arrived.
func (s Shape) OpenLoop() bool { return s.Rate > 0 }

// drainGrace is how long requests in flight when the run is interrupted may
// take to finish before they are cancelled (and counted as aborted).
const drainGrace = 2 * time.Second

// measurement is what one phase recorded.
type measurement struct {
	hist       *Histogram // latencies of successful requests
	ok         int64
	errors     int64
	errKinds   map[string]int64  // "409", "timeout", "transport"
	errSamples map[string]string // the first message of each kind
	aborted    int64             // cut off by an interrupt: neither success nor error
	late       int64             // open loop: started more than lateAfter after due
	elapsed    time.Duration
	cpu        time.Duration // this process's CPU time during the phase
	series     []Point
}

// recorder is one worker's tally since the collector last drained it. Only
// its worker and the collector touch it, once per request and once per
// second, so its mutex is all but uncontended.
type recorder struct {
	mu         sync.Mutex
	hist       *Histogram
	ok, late   int64
	aborted    int64
	errKinds   map[string]int64
	errSamples map[string]string
}

func newRecorder() *recorder {
	return &recorder{hist: NewHistogram(), errKinds: map[string]int64{}, errSamples: map[string]string{}}
}

func (r *recorder) record(latency time.Duration, late bool, err error, stopping bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if late {
		r.late++
	}
	switch {
	case err == nil:
		r.ok++
		r.hist.Record(latency)
	case stopping && errors.Is(err, context.Canceled):
		r.aborted++
	default:
		kind, msg := classify(err)
		r.errKinds[kind]++
		if _, ok := r.errSamples[kind]; !ok {
			r.errSamples[kind] = msg
		}
	}
}

// drain moves r's tally into the second's histogram and m's counters, and
// returns the successes and errors it held.
func (r *recorder) drain(sec *Histogram, m *measurement) (ok, errs int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sec.Merge(r.hist)
	r.hist.Reset()
	ok = r.ok
	m.ok += r.ok
	m.late += r.late
	m.aborted += r.aborted
	for k, n := range r.errKinds {
		errs += n
		m.errKinds[k] += n
		if _, seen := m.errSamples[k]; !seen {
			m.errSamples[k] = r.errSamples[k]
		}
	}
	m.errors += errs
	r.ok, r.late, r.aborted = 0, 0, 0
	clear(r.errKinds)
	clear(r.errSamples)
	return ok, errs
}

// classify names an Op's error for the errors-by-status table.
func classify(err error) (kind, msg string) {
	var se *StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.Code), se.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout", err.Error()
	default:
		return "transport", err.Error()
	}
}

// drive runs one phase: len(ops) workers, ops[w] called only by worker w,
// until the shape's duration or request count is used up or ctx ends.
// progress, if not nil, gets each second's point from the collector
// goroutine. When ctx ends, no new request starts; those in flight get
// drainGrace to finish.
func drive(ctx context.Context, shape Shape, ops []Op, progress func(Point)) *measurement {
	reqCtx, cancelReqs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReqs()
	var stopping atomic.Bool
	stopWatch := context.AfterFunc(ctx, func() {
		stopping.Store(true)
		time.AfterFunc(drainGrace, cancelReqs)
	})
	defer stopWatch()

	cpu0 := processCPU()
	start := time.Now()
	var deadline time.Time
	if shape.Requests <= 0 {
		deadline = start.Add(shape.Duration)
	}
	var sched *schedule
	if shape.OpenLoop() {
		var d time.Duration
		if shape.Requests <= 0 {
			d = shape.Duration
		}
		sched = newSchedule(start, shape.Rate, d, shape.Requests)
	}
	var issued atomic.Int64
	recs := make([]*recorder, len(ops))
	var wg sync.WaitGroup
	for w, op := range ops {
		rec := newRecorder()
		recs[w] = rec
		wg.Go(func() {
			if sched != nil {
				openLoop(ctx, reqCtx, &stopping, sched, op, rec)
				return
			}
			for !stopping.Load() {
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				if shape.Requests > 0 && issued.Add(1) > shape.Requests {
					return
				}
				t0 := time.Now()
				err := op(reqCtx)
				rec.record(time.Since(t0), false, err, stopping.Load())
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	m := collect(start, recs, done, progress)
	m.cpu = processCPU() - cpu0
	return m
}

// openLoop is one worker of an open-loop phase: it takes the next slot,
// waits for its time unless that has passed, and measures from the slot's
// time, not from when the worker got to it.
func openLoop(ctx, reqCtx context.Context, stopping *atomic.Bool, sched *schedule, op Op, rec *recorder) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for !stopping.Load() {
		due, ok := sched.take()
		if !ok {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		started := time.Now()
		err := op(reqCtx)
		rec.record(time.Since(due), started.Sub(due) > lateAfter, err, stopping.Load())
	}
}

// collect drains the recorders every second into a Point and the phase's
// totals until done closes, then once more. A last partial second shorter
// than minPoint adds to the totals but not to the series, where its rate
// would be noise.
func collect(start time.Time, recs []*recorder, done <-chan struct{}, progress func(Point)) *measurement {
	const minPoint = 100 * time.Millisecond
	m := &measurement{hist: NewHistogram(), errKinds: map[string]int64{}, errSamples: map[string]string{}}
	sec := NewHistogram()
	last := start
	flush := func(now time.Time, final bool) {
		var ok, errs int64
		for _, r := range recs {
			o, e := r.drain(sec, m)
			ok, errs = ok+o, errs+e
		}
		if dt := now.Sub(last); !final || dt >= minPoint || len(m.series) == 0 {
			p := Point{
				T: now.Sub(start).Seconds(), Requests: ok, Errors: errs,
				Throughput: float64(ok) / max(dt.Seconds(), 1e-9),
				P50:        ms(sec.Quantile(0.5)), P99: ms(sec.Quantile(0.99)), Max: ms(sec.Max()),
			}
			m.series = append(m.series, p)
			if progress != nil {
				progress(p)
			}
		}
		m.hist.Merge(sec)
		sec.Reset()
		last = now
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			flush(now, false)
		case <-done:
			now := time.Now()
			flush(now, true)
			m.elapsed = now.Sub(start)
			return m
		}
	}
}

// ms is d in milliseconds, the unit of every latency in the report.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
