package apitest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/clock"
)

func TestDrive_MovesTheClockInStepsUntilDoneWithinTheTimeItLetsPass(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notYet := errors.New("not yet")
	for _, tc := range []struct {
		name         string
		step, within time.Duration
		doneAt       time.Duration // clock time after which done holds
		wantErr      bool
		wantPassed   time.Duration
	}{
		{"done at once moves nothing", time.Second, time.Minute, 0, false, 0},
		{"steps until done", time.Second, time.Minute, 3 * time.Second, false, 3 * time.Second},
		{"never past within", time.Second, 2500 * time.Millisecond, 3 * time.Second, true, 2 * time.Second},
		{"within 0 holds the clock", time.Second, 0, time.Second, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewTest(start)
			wall := WallLimit // the cases that fail wait it out: a short one
			if tc.wantErr {
				wall = 300 * time.Millisecond
			}
			err := drive(clk, tc.step, tc.within, wall, func() error {
				if clk.Now().Sub(start) < tc.doneAt {
					return notYet
				}
				return nil
			})
			if (err != nil) != tc.wantErr || (err != nil && (!errors.Is(err, notYet) || !strings.Contains(err.Error(), "of clock time"))) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if passed := clk.Now().Sub(start); passed != tc.wantPassed {
				t.Fatalf("clock moved %v, want %v", passed, tc.wantPassed)
			}
		})
	}
}
