package backoff

import (
	"testing"
	"time"
)

func TestBackoff_Wait(t *testing.T) {
	steps := Backoff{Steps: []time.Duration{time.Second, time.Minute}}
	doubling := Backoff{Min: time.Second, Max: 5 * time.Second}
	for _, tc := range []struct {
		name     string
		b        Backoff
		failures int
		want     time.Duration
		ok       bool
	}{
		{"no failure yet", steps, 0, 0, false},
		{"first step", steps, 1, time.Second, true},
		{"last step", steps, 2, time.Minute, true},
		{"schedule spent", steps, 3, 0, false},
		{"doubling starts at Min", doubling, 1, time.Second, true},
		{"doubling doubles", doubling, 3, 4 * time.Second, true},
		{"doubling stops at Max", doubling, 4, 5 * time.Second, true},
		{"doubling never gives up", doubling, 1000, 5 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := tc.b.Wait(tc.failures); got != tc.want || ok != tc.ok {
				t.Fatalf("Wait(%d) = %s %v, want %s %v", tc.failures, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestJitter_Bounds(t *testing.T) {
	for range 500 {
		if d := Equal(10 * time.Second); d < 5*time.Second || d > 10*time.Second {
			t.Fatalf("Equal(10s) = %s, want within [5s, 10s]", d)
		}
	}
	for _, tc := range []struct {
		rnd  float64
		want time.Duration
	}{{0, 8 * time.Second}, {0.5, 10 * time.Second}, {1, 12 * time.Second}} {
		if d := Spread(0.2, func() float64 { return tc.rnd })(10 * time.Second); d != tc.want {
			t.Fatalf("Spread(0.2) at %v = %s, want %s", tc.rnd, d, tc.want)
		}
	}
}
