package webhook

import (
	"testing"
	"time"
)

func TestBackoff_ScheduleWithJitterThenDeadLetter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rnd    float64
		factor float64
	}{{"lowest jitter", 0, 0.8}, {"no jitter", 0.5, 1}, {"highest jitter", 1, 1.2}} {
		t.Run(tc.name, func(t *testing.T) {
			b := retryBackoff(nil, func() float64 { return tc.rnd })
			var total time.Duration
			for i, base := range DefaultRetrySchedule {
				d, ok := b.Wait(i + 1)
				if want := time.Duration(float64(base) * tc.factor); !ok || d != want {
					t.Fatalf("wait after failure %d = %s %v, want %s", i+1, d, ok, want)
				}
				total += d
			}
			if _, ok := b.Wait(len(DefaultRetrySchedule) + 1); ok {
				t.Fatal("a retry after the schedule ran out")
			}
			if total < 54*time.Hour || total > 83*time.Hour {
				t.Fatalf("schedule spans %s, want about three days", total)
			}
		})
	}
}

func TestBackoff_DefaultScheduleIsTheIssues(t *testing.T) {
	want := []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour}
	if len(DefaultRetrySchedule) != len(want) {
		t.Fatalf("schedule %v", DefaultRetrySchedule)
	}
	for i := range want {
		if DefaultRetrySchedule[i] != want[i] {
			t.Fatalf("schedule %v, want %v", DefaultRetrySchedule, want)
		}
	}
	var sum time.Duration
	for _, d := range want {
		sum += d
	}
	if sum < 60*time.Hour || sum > 80*time.Hour {
		t.Fatalf("nominal span %s", sum)
	}
}
