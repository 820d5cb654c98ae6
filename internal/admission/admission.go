// Package admission decides how fast background work may run: an elastic
// controller samples the machine's overload signals every tenth of a
// second and sets a factor in [floor, 1] that background rates (the
// expiry scheduler's) are multiplied by.
//
// It follows CockroachDB's admission control for elastic work: full speed
// while the machine has room, cut multiplicatively while the API's
// goroutines wait for a CPU (Go scheduling latency) or the LSM is behind
// (Pebble's L0 deeper than the compaction threshold), raised additively
// once they recover (AIMD), and never below the floor, so background work
// always progresses.
package admission

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/invoiced/invoiced/internal/clock"
)

// Signals are the overload signals of one sample.
type Signals struct {
	// SchedLatency is a high percentile (p99) of how long goroutines waited
	// to run since the previous sample: near zero on an idle machine,
	// milliseconds when every core is busy.
	SchedLatency time.Duration
	// L0Depth is the depth of Pebble's level 0 (persistence.L0Depth,
	// not its sublevel count): above the compaction threshold the
	// compactions are behind the writes.
	L0Depth int
}

// sampler reads the overload signals (Sampler is the real one).
type sampler interface {
	Sample() Signals
}

// Config configures a Controller; zero fields take their defaults.
type Config struct {
	// Floor is the least factor, in (0, 1] (default DefaultFloor). 1 turns
	// elasticity off: background work runs at its configured rates as if
	// the machine were always idle.
	Floor float64
	// Signals samples the overload signals (required unless Floor is 1).
	Signals sampler
	// Interval is how often the signals are sampled (default 100 ms).
	Interval time.Duration
	// SchedTarget is the scheduling latency above which the machine is
	// overloaded (default DefaultSchedTarget).
	SchedTarget time.Duration
	// L0Target is the L0 depth above which the LSM is behind
	// (default DefaultL0Target, the store's compaction threshold).
	L0Target int
	// Decrease multiplies the factor on an overloaded sample (default 0.5,
	// so 1 falls to a floor of 0.1 in four samples); Increase is added to
	// it on a sample with room (default 0.1, so the floor climbs back to 1
	// in nine).
	Decrease, Increase float64
	Clock              clock.Clock // nil = the wall clock
	// Metrics receives the controller's gauges (nil = none).
	Metrics prometheus.Registerer
}

// The controller's defaults.
const (
	DefaultFloor = 0.1
	// DefaultSchedTarget sits between what background work alone causes
	// and what an API under load does: on 2 cores, p99 is ~0.2 ms idle,
	// ~1.3 ms expiring 1,000 invoices a second and nothing else, and
	// 6–18 ms under wrk creates (docs/performance.md, session 9).
	DefaultSchedTarget = 2 * time.Millisecond
	// DefaultL0Target is the store's L0 compaction threshold.
	DefaultL0Target = 8
)

// Controller holds the factor background rates are multiplied by; Run
// moves it.
type Controller struct {
	cfg    Config
	factor atomic.Uint64 // math.Float64bits of the factor

	gFactor, gSched, gL0 prometheus.Gauge
	overloads            *prometheus.CounterVec
}

// New returns a Controller at factor 1.
func New(cfg Config) *Controller {
	if cfg.Floor <= 0 || cfg.Floor > 1 {
		cfg.Floor = DefaultFloor
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 100 * time.Millisecond
	}
	if cfg.SchedTarget <= 0 {
		cfg.SchedTarget = DefaultSchedTarget
	}
	if cfg.L0Target <= 0 {
		cfg.L0Target = DefaultL0Target
	}
	if cfg.Decrease <= 0 || cfg.Decrease >= 1 {
		cfg.Decrease = 0.5
	}
	if cfg.Increase <= 0 {
		cfg.Increase = 0.1
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	c := &Controller{
		cfg: cfg,
		gFactor: prometheus.NewGauge(prometheus.GaugeOpts{Name: "invoiced_background_factor",
			Help: "Factor background rates (expiries) are multiplied by: 1 while the machine has room, down to the floor while the API needs the CPU or the LSM is behind."}),
		gSched: prometheus.NewGauge(prometheus.GaugeOpts{Name: "invoiced_background_sched_latency_p99_seconds",
			Help: "p99 of Go scheduling latency over the controller's last sample, one of its overload signals."}),
		// The gauge keeps the name it had when the signal was L0's
		// sublevel count, so operators' dashboards keep working.
		gL0: prometheus.NewGauge(prometheus.GaugeOpts{Name: "invoiced_background_l0_sublevels",
			Help: "Pebble L0 depth (the most L0 tables one key is in) at the controller's last sample, one of its overload signals."}),
		overloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "invoiced_background_overloaded_total",
			Help: "Samples on which an overload signal was over its target (sched, l0), cutting the background factor unless it was at its floor."}, []string{"signal"}),
	}
	c.set(1)
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(c.gFactor, c.gSched, c.gL0, c.overloads)
	}
	return c
}

// Factor is what background rates are multiplied by now, in [floor, 1].
func (c *Controller) Factor() float64 { return math.Float64frombits(c.factor.Load()) }

func (c *Controller) set(f float64) {
	c.factor.Store(math.Float64bits(f))
	c.gFactor.Set(f)
}

// Run samples the signals every interval and moves the factor until ctx
// ends. With a floor of 1 the factor stays 1, but the signals are still
// sampled and published, so an operator sees what elasticity would do.
func (c *Controller) Run(ctx context.Context) {
	if c.cfg.Signals == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.cfg.Clock.After(c.cfg.Interval):
			c.step(c.cfg.Signals.Sample())
		}
	}
}

// step moves the factor by one sample: cut by Decrease (not below the
// floor) when a signal is over its target, else raised by Increase (not
// above 1).
func (c *Controller) step(s Signals) {
	c.gSched.Set(s.SchedLatency.Seconds())
	c.gL0.Set(float64(s.L0Depth))
	f := c.Factor()
	overloaded := false
	if s.SchedLatency > c.cfg.SchedTarget {
		c.overloads.WithLabelValues("sched").Inc()
		overloaded = true
	}
	if s.L0Depth > c.cfg.L0Target {
		c.overloads.WithLabelValues("l0").Inc()
		overloaded = true
	}
	if overloaded {
		f = max(c.cfg.Floor, f*c.cfg.Decrease)
	} else {
		f = min(1, f+c.cfg.Increase)
	}
	c.set(f)
}
