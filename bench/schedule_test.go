package bench

import (
	"sync"
	"testing"
	"time"
)

func TestSchedule_SlotsAreDueAtStartPlusKOverRate(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name     string
		rate     float64
		duration time.Duration
		limit    int64
		wantN    int64
		checks   map[int64]time.Duration // slot -> offset from start
	}{
		{"1000/s for 1s", 1000, time.Second, 0, 1000,
			map[int64]time.Duration{0: 0, 1: time.Millisecond, 999: 999 * time.Millisecond}},
		{"3/s does not drift", 3, 10 * time.Second, 0, 30,
			map[int64]time.Duration{3: time.Second, 29: 9*time.Second + 666_666_666}},
		{"request limit before the deadline", 100, 10 * time.Second, 5, 5,
			map[int64]time.Duration{4: 40 * time.Millisecond}},
		{"request limit without a deadline", 0.5, 0, 4, 4,
			map[int64]time.Duration{3: 6 * time.Second}},
		{"deadline excludes a slot exactly at the end", 10, 2 * time.Second, 0, 20,
			map[int64]time.Duration{19: 1900 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSchedule(start, tt.rate, tt.duration, tt.limit)
			for k, off := range tt.checks {
				got, ok := s.at(k)
				if !ok || got.Sub(start) != off {
					t.Errorf("slot %d: %v (ok %v), want start+%v", k, got.Sub(start), ok, off)
				}
			}
			var n int64
			for {
				if _, ok := s.take(); !ok {
					break
				}
				n++
			}
			if n != tt.wantN {
				t.Errorf("%d slots, want %d", n, tt.wantN)
			}
		})
	}
}

func TestSchedule_ConcurrentTakersGetEachSlotOnce(t *testing.T) {
	s := newSchedule(time.Now(), 1e6, 0, 10_000)
	var mu sync.Mutex
	seen := make(map[time.Time]int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				at, ok := s.take()
				if !ok {
					return
				}
				mu.Lock()
				seen[at]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 10_000 {
		t.Fatalf("%d distinct slots, want 10000", len(seen))
	}
	for at, n := range seen {
		if n != 1 {
			t.Fatalf("slot %v taken %d times", at, n)
		}
	}
}
