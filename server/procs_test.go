package server

import (
	"runtime"
	"testing"
)

func TestProcsFor(t *testing.T) {
	for cpus, want := range map[int]int{1: 2, 2: 4, 4: 8, 8: 12, 64: 68} {
		if got := procsFor(cpus); got != want {
			t.Errorf("procsFor(%d) = %d, want %d", cpus, got, want)
		}
	}
}

func TestTuneProcs_RespectsTheEnvironment(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	if got := TuneProcs(func(k string) string {
		if k == "GOMAXPROCS" {
			return "2"
		}
		return ""
	}); got != 2 || runtime.GOMAXPROCS(0) != 2 {
		t.Errorf("with GOMAXPROCS set: %d (runtime %d), want it left at 2", got, runtime.GOMAXPROCS(0))
	}
	if got := TuneProcs(func(string) string { return "" }); got != 4 || runtime.GOMAXPROCS(0) != 4 {
		t.Errorf("unset: %d (runtime %d), want 4", got, runtime.GOMAXPROCS(0))
	}
}
