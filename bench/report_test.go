package bench

import (
	"strings"
	"testing"
)

func TestFinish_TargetVerdicts(t *testing.T) {
	result := func(name string, rps, p99 float64, errs int64) Result {
		return Result{Name: name, Requests: 1000, Errors: errs, Throughput: rps, Latency: Latency{P50: p99 / 4, P99: p99}}
	}
	tests := []struct {
		name     string
		settings Settings
		create   Result
		get      Result
		baseline bool
		want     map[string]string // target name -> verdict
		wantNote string
	}{
		{"all met", Settings{Conns: 64, Loop: "closed"},
			result("create", 5000, 20, 0), result("get", 8000, 2, 0), true,
			map[string]string{"create throughput >= 0.5x trivial": "pass", "create p99 <= 25ms": "pass", "get throughput >= 0.7x trivial": "pass"}, ""},
		{"slow create, slow p99", Settings{Conns: 64, Loop: "closed"},
			result("create", 4000, 30, 0), result("get", 6000, 2, 0), true,
			map[string]string{"create throughput >= 0.5x trivial": "fail", "create p99 <= 25ms": "fail", "get throughput >= 0.7x trivial": "fail"}, ""},
		{"errors fail a target", Settings{Conns: 64, Loop: "closed"},
			result("create", 9000, 5, 3), result("get", 8000, 2, 0), true,
			map[string]string{"create throughput >= 0.5x trivial": "fail", "create p99 <= 25ms": "fail", "get throughput >= 0.7x trivial": "pass"}, "had errors"},
		{"no baseline", Settings{Conns: 64, Loop: "closed"},
			result("create", 9000, 5, 0), result("get", 8000, 2, 0), false,
			map[string]string{"create throughput >= 0.5x trivial": "n/a", "create p99 <= 25ms": "pass", "get throughput >= 0.7x trivial": "n/a"}, "no trivial"},
		{"open loop", Settings{Conns: 64, Loop: "open", Rate: 1000},
			result("create", 1000, 5, 0), result("get", 1000, 2, 0), true,
			map[string]string{"create throughput >= 0.5x trivial": "n/a", "create p99 <= 25ms": "pass", "get throughput >= 0.7x trivial": "n/a"}, "closed loop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &Report{Settings: tt.settings, Scenarios: []Result{tt.create, tt.get}}
			if tt.baseline {
				rep.Baselines = []Result{result("trivial", 10000, 1, 0), result("pebble", 20000, 4, 0)}
			}
			rep.finish()
			got := map[string]string{}
			notes := ""
			for _, tg := range rep.Targets {
				got[tg.Name] = tg.Verdict
				notes += tg.Note + ";"
			}
			for name, v := range tt.want {
				if got[name] != v {
					t.Errorf("%s: %q, want %q (all: %v)", name, got[name], v, got)
				}
			}
			if !strings.Contains(notes, tt.wantNote) {
				t.Errorf("notes %q, want %q in them", notes, tt.wantNote)
			}
			if tt.baseline && (rep.Scenarios[0].VsTrivial == nil || rep.ClientCeiling == nil) {
				t.Error("ratios and the client ceiling are missing")
			}
		})
	}
}

func TestFinish_RatiosAndCeiling(t *testing.T) {
	rep := &Report{
		Settings:  Settings{Conns: 64, Loop: "closed"},
		Baselines: []Result{{Name: "trivial", Requests: 1, Throughput: 10000, Latency: Latency{P50: 0.5, P99: 2}}, {Name: "pebble", Requests: 1, Throughput: 4000, Latency: Latency{P50: 1, P99: 8}}},
		Scenarios: []Result{{Name: "get", Requests: 1, Throughput: 9500, Latency: Latency{P50: 1, P99: 4}}},
	}
	rep.finish()
	g := rep.Scenarios[0]
	if g.VsTrivial.Throughput != 0.95 || g.VsTrivial.P99 != 2 || g.VsPebble.Throughput != 2.375 || g.VsPebble.P99 != 0.5 {
		t.Fatalf("ratios %+v %+v", *g.VsTrivial, *g.VsPebble)
	}
	if rep.ClientCeiling.Fractions["get"] != 0.95 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "client") {
		t.Fatalf("ceiling %+v, notes %q: get at 95%% of the ceiling must be flagged", rep.ClientCeiling, rep.Notes)
	}
}

// TestFinish_BusyMachineNote: the note on a trivial baseline that could
// not use the machine counts CPUs, not Ps (GOMAXPROCS may exceed them).
func TestFinish_BusyMachineNote(t *testing.T) {
	for _, tt := range []struct {
		cpus, procs int
		used        float64
		want        string
	}{
		{2, 4, 1.96, ""},
		{2, 4, 1.2, "used only 1.20 of 2 cores"},
		{8, 2, 1.2, "used only 1.20 of 2 cores"},
	} {
		rep := &Report{
			Machine:   Machine{CPUs: tt.cpus, GOMAXPROCS: tt.procs},
			Settings:  Settings{Conns: 64, Loop: "closed"},
			Baselines: []Result{{Name: "trivial", Requests: 1, Throughput: 10000, CPUCores: tt.used}},
		}
		rep.finish()
		notes := strings.Join(rep.Notes, "\n")
		if (tt.want == "") != !strings.Contains(notes, "used only") || !strings.Contains(notes, tt.want) {
			t.Errorf("%d CPUs, GOMAXPROCS %d, %.2f cores used: notes %q, want %q", tt.cpus, tt.procs, tt.used, notes, tt.want)
		}
	}
}
