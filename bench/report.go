package bench

import (
	"fmt"
	"strings"
	"time"
)

// Report is one run, as -json writes it (schema 1). Latencies are
// milliseconds, throughputs successful requests per second, durations and
// times in series seconds. Fields are added, never renamed, within a schema.
type Report struct {
	Schema      int       `json:"schema"`
	StartedAt   time.Time `json:"started_at"`
	Machine     Machine   `json:"machine"`
	Settings    Settings  `json:"settings"`
	Interrupted bool      `json:"interrupted"` // stopped early (Ctrl-C); results cover what ran
	// Seed is the invoices created for the read scenarios before any
	// measurement; nil when no scenario needed them.
	Seed *Seed `json:"seed,omitempty"`
	// Baselines are "trivial" (httprouter JSON handler on loopback) and
	// "pebble" (raw synced batches on the same filesystem), in that order;
	// empty with -baseline=false.
	Baselines []Result `json:"baselines"`
	Scenarios []Result `json:"scenarios"`
	// ClientCeiling is what this client reached against the trivial handler:
	// no scenario can go faster with this client, conns and machine.
	ClientCeiling *Ceiling `json:"client_ceiling,omitempty"`
	Targets       []Target `json:"targets"`
	Notes         []string `json:"notes,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
}

// Settings is the run's shape and target.
type Settings struct {
	Target    string   `json:"target"` // "in-process" or the -url
	Loop      string   `json:"loop"`   // "closed" or "open"
	Conns     int      `json:"conns"`
	DurationS float64  `json:"duration_s,omitempty"` // per phase, when requests is 0
	Requests  int64    `json:"requests,omitempty"`   // per phase
	Rate      float64  `json:"rate,omitempty"`       // open loop: requests per second
	WarmupS   float64  `json:"warmup_s"`
	Invoices  int      `json:"invoices"` // seeded for the read scenarios
	DataDir   string   `json:"data_dir"` // where the server store and the Pebble baseline live
	Scenarios []string `json:"scenario_names"`
}

// Seed is the setup that created invoices for reads.
type Seed struct {
	Invoices   int     `json:"invoices"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput_rps"`
}

// Result is one measured phase: a scenario or a baseline.
type Result struct {
	Name     string `json:"name"`
	Requests int64  `json:"requests"` // successful (2xx) requests
	Errors   int64  `json:"errors"`   // everything else, never in the latencies
	// ErrorsByStatus counts errors by HTTP status ("409"), "timeout" or
	// "transport"; ErrorSamples has the first message of each.
	ErrorsByStatus map[string]int64  `json:"errors_by_status,omitempty"`
	ErrorSamples   map[string]string `json:"error_samples,omitempty"`
	Aborted        int64             `json:"aborted,omitempty"` // cut off by Ctrl-C
	// Late counts open-loop requests that started more than 1ms after their
	// intended time (their latency still counts from that time).
	Late       int64   `json:"late,omitempty"`
	ElapsedS   float64 `json:"elapsed_s"`
	Throughput float64 `json:"throughput_rps"`
	Latency    Latency `json:"latency_ms"`
	// CPUCores is the process's CPU time over the phase's wall time: with
	// the server in-process it is client and server together.
	CPUCores float64 `json:"cpu_cores"`
	// PerCPUSecond is Throughput over CPUCores: requests per second of
	// process CPU, steadier than throughput on a machine shared with other
	// work.
	PerCPUSecond float64 `json:"requests_per_cpu_s"`
	VsTrivial    *Ratio  `json:"vs_trivial,omitempty"`
	VsPebble     *Ratio  `json:"vs_pebble,omitempty"`
	Series       []Point `json:"series"`
	// QuiesceS is how long the runner waited before the phase for the
	// server's flushes and compactions (left by earlier phases) to finish;
	// see quiesce.
	QuiesceS float64 `json:"quiesce_s,omitempty"`

	// Unit is what an event scenario counts in Requests and Throughput
	// ("payments", "expiries", "restarts", "webhooks"); empty for request
	// phases. An event scenario's Latency is per item (block → completed,
	// clock jump → expired, PATCH → delivered; none for restart), its
	// ElapsedS the measured time (setup excluded), its Series items per
	// second, and it has no ratios to the baselines. Its own figures are
	// in the field named after it.
	Unit     string           `json:"unit,omitempty"`
	Payments *PaymentsFigures `json:"payments,omitempty"`
	Expiry   *ExpiryFigures   `json:"expiry,omitempty"`
	Restart  *RestartFigures  `json:"restart,omitempty"`
	Webhooks *WebhookFigures  `json:"webhooks,omitempty"`
	Storm    *StormFigures    `json:"storm,omitempty"`
}

// Event reports whether r is an event scenario's result.
func (r *Result) Event() bool { return r.Unit != "" }

// eventUnits is each event scenario's Unit.
var eventUnits = map[string]string{"payments": "payments", "expiry": "expiries", "restart": "restarts", "webhooks": "webhooks"}

// Latency is a phase's latency distribution in milliseconds: closed loop
// from send to the end of the body, open loop from the intended send time.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Ratio is a scenario's figures divided by a baseline's.
type Ratio struct {
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
}

// Point is one second of a phase.
type Point struct {
	T          float64 `json:"t_s"` // end of the interval, seconds since the phase started
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	Throughput float64 `json:"throughput_rps"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
}

// Ceiling is the client's own limit against the trivial handler.
type Ceiling struct {
	Throughput float64 `json:"throughput_rps"`
	P99        float64 `json:"p99_ms"`
	CPUCores   float64 `json:"cpu_cores"`
	// Fractions is each scenario's throughput over the ceiling; near 1
	// means the scenario measured the client, not the engine.
	Fractions map[string]float64 `json:"fractions"`
}

// Target is one of the engine's performance requirements, checked on this
// run. Verdict is "pass", "fail" or "n/a" (Note says why).
type Target struct {
	Name     string  `json:"name"`
	Scenario string  `json:"scenario"`
	Value    float64 `json:"value"`
	Limit    float64 `json:"limit"`
	Unit     string  `json:"unit"` // "x trivial" or "ms"
	Verdict  string  `json:"verdict"`
	Note     string  `json:"note,omitempty"`
}

func (m *measurement) result(name string) Result {
	r := Result{
		Name: name, Requests: m.ok, Errors: m.errors, Aborted: m.aborted, Late: m.late,
		ElapsedS: m.elapsed.Seconds(),
		Latency: Latency{
			P50: ms(m.hist.Quantile(0.5)), P90: ms(m.hist.Quantile(0.9)), P99: ms(m.hist.Quantile(0.99)),
			P999: ms(m.hist.Quantile(0.999)), Max: ms(m.hist.Max()), Mean: ms(m.hist.Mean()),
		},
		Series: m.series,
	}
	if m.elapsed > 0 {
		r.Throughput = float64(m.ok) / m.elapsed.Seconds()
		r.CPUCores = m.cpu.Seconds() / m.elapsed.Seconds()
	}
	if m.cpu > 0 {
		r.PerCPUSecond = float64(m.ok) / m.cpu.Seconds()
	}
	if len(m.errKinds) > 0 {
		r.ErrorsByStatus, r.ErrorSamples = m.errKinds, m.errSamples
	}
	return r
}

func ratio(r, base *Result) *Ratio {
	if base == nil || base.Requests == 0 || r.Requests == 0 {
		return nil
	}
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	return &Ratio{
		Throughput: div(r.Throughput, base.Throughput),
		P50:        div(r.Latency.P50, base.Latency.P50),
		P99:        div(r.Latency.P99, base.Latency.P99),
	}
}

// Baseline returns the baseline of that name, or nil.
func (r *Report) Baseline(name string) *Result {
	for i := range r.Baselines {
		if r.Baselines[i].Name == name {
			return &r.Baselines[i]
		}
	}
	return nil
}

// Scenario returns the scenario result of that name, or nil.
func (r *Report) Scenario(name string) *Result {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name {
			return &r.Scenarios[i]
		}
	}
	return nil
}

// Engine targets on the reference machine (2 cores, client on the same
// machine, 64 connections, closed loop).
const (
	targetConns            = 64
	targetCreateVsTrivial  = 0.5
	targetCreateP99Ms      = 25
	targetGetVsTrivial     = 0.7
	clientBoundWarnAtRatio = 0.9
	// busyMachineShare: a trivial baseline that gets less than this share of
	// the cores it may use was starved by other processes.
	busyMachineShare = 0.75
)

// finish fills in the ratios, the client ceiling and the target checks once
// every phase has run.
func (r *Report) finish() {
	trivial, pebble := r.Baseline(baselineTrivial), r.Baseline(baselinePebble)
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if s.Event() {
			continue // events per second are not requests per second
		}
		s.VsTrivial, s.VsPebble = ratio(s, trivial), ratio(s, pebble)
	}
	if trivial != nil && trivial.Requests > 0 {
		c := &Ceiling{Throughput: trivial.Throughput, P99: trivial.Latency.P99, CPUCores: trivial.CPUCores, Fractions: map[string]float64{}}
		for _, s := range r.Scenarios {
			if s.Event() {
				continue
			}
			c.Fractions[s.Name] = s.Throughput / trivial.Throughput
			if !r.Settings.isOpenLoop() && s.Throughput/trivial.Throughput >= clientBoundWarnAtRatio {
				r.Notes = append(r.Notes, fmt.Sprintf("%s reached %.0f%% of the client's ceiling: it may measure the client more than the engine", s.Name, 100*s.Throughput/trivial.Throughput))
			}
		}
		r.ClientCeiling = c
		// The cores the process can use: GOMAXPROCS may exceed the CPUs
		// (see server.TuneProcs).
		cores := min(r.Machine.GOMAXPROCS, r.Machine.CPUs)
		if r.Machine.CPUs == 0 {
			cores = r.Machine.GOMAXPROCS
		}
		if procs := float64(cores); procs > 0 && trivial.CPUCores > 0 && trivial.CPUCores < busyMachineShare*procs {
			r.Notes = append(r.Notes, fmt.Sprintf("the trivial baseline used only %.2f of %d cores: other work on this machine competes for CPU, so ratios between phases (run one after another) are rough; requests_per_cpu_s in -json is steadier", trivial.CPUCores, cores))
		}
	}
	for _, res := range append(append([]Result(nil), r.Baselines...), r.Scenarios...) {
		if res.Late > 0 && res.Requests+res.Errors > 0 {
			if frac := float64(res.Late) / float64(res.Requests+res.Errors); frac > 0.01 {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: %.1f%% of requests started more than %v late: the %d connections could not keep the rate; latencies count from the intended times", res.Name, 100*frac, lateAfter, r.Settings.Conns))
			}
		}
	}
	var waits []string
	for _, res := range r.Scenarios {
		if res.QuiesceS >= 0.05 {
			waits = append(waits, fmt.Sprintf("%s %.1fs", res.Name, res.QuiesceS))
		}
	}
	if len(waits) > 0 {
		r.Notes = append(r.Notes, "before each request phase the runner waited for the server's flushes and compactions left by earlier phases to finish (that work is not in any phase's figures; mixed measures reads and writes together): "+strings.Join(waits, ", "))
	}
	r.Targets = r.checkTargets(trivial)
}

func (s Settings) isOpenLoop() bool { return s.Loop == "open" }

func (r *Report) checkTargets(trivial *Result) []Target {
	shapeNote := ""
	if r.Settings.Conns != targetConns || r.Settings.isOpenLoop() {
		shapeNote = fmt.Sprintf("targets are defined at %d conns, closed loop; this run: %d conns, %s loop", targetConns, r.Settings.Conns, r.Settings.Loop)
	}
	var out []Target
	vsTrivial := func(scenario string, limit float64) {
		t := Target{Name: fmt.Sprintf("%s throughput >= %.1fx trivial", scenario, limit), Scenario: scenario, Limit: limit, Unit: "x trivial", Note: shapeNote}
		s := r.Scenario(scenario)
		switch {
		case s == nil:
			return
		case trivial == nil || trivial.Requests == 0:
			t.Verdict, t.Note = "n/a", "no trivial baseline in this run"
		case r.Settings.isOpenLoop():
			t.Verdict = "n/a" // at a fixed rate both reach the rate; the ratio says nothing
		default:
			t.Value = s.Throughput / trivial.Throughput
			t.Verdict = verdict(t.Value >= limit && s.Errors == 0)
		}
		out = append(out, t)
	}
	vsTrivial("create", targetCreateVsTrivial)
	if s := r.Scenario("create"); s != nil {
		out = append(out, Target{
			Name: fmt.Sprintf("create p99 <= %dms", targetCreateP99Ms), Scenario: "create",
			Value: s.Latency.P99, Limit: targetCreateP99Ms, Unit: "ms",
			Verdict: verdict(s.Requests > 0 && s.Errors == 0 && s.Latency.P99 <= targetCreateP99Ms), Note: shapeNote,
		})
	}
	vsTrivial("get", targetGetVsTrivial)
	for i := range out {
		if out[i].Verdict == "fail" && r.Scenario(out[i].Scenario).Errors > 0 {
			out[i].Note = joinNote(out[i].Note, "the scenario had errors")
		}
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
