package apitest

import (
	"fmt"
	"time"
)

// Clock is the time a waiting test moves: a *clock.Test, or a simulation
// that moves its model's time with the server's.
type Clock interface{ Add(d time.Duration) }

// WallLimit bounds a Drive in wall time: a server that stopped working,
// not a slow one (the race detector slows it about tenfold).
const WallLimit = 10 * time.Second

// Drive waits until done returns nil. After each check that fails it moves
// clk by step, until within has passed on it, so the server's ticking
// actors (chain polls, expiry scans, webhook rounds) run the rounds their
// interval brings; within is the clock time the test lets pass, and 0
// holds the clock still (what done waits for must then come from the
// server's own wake-ups, such as a dev chain's). Between checks it pauses
// the step in wall time, at least 1 ms and at most 20 ms, so the rounds a
// step brought can run before the next. Once within has passed it goes on
// checking with the clock held; at WallLimit it returns done's last error
// with the time that passed.
func Drive(clk Clock, step, within time.Duration, done func() error) error {
	return drive(clk, step, within, WallLimit, done)
}

func drive(clk Clock, step, within, wall time.Duration, done func() error) error {
	pause := min(max(step, time.Millisecond), 20*time.Millisecond)
	start := time.Now()
	var passed time.Duration
	for {
		err := done()
		if err == nil {
			return nil
		}
		if time.Since(start) > wall {
			return fmt.Errorf("%w (after %v of clock time, %v of wall time)", err, passed, wall)
		}
		if step > 0 && passed+step <= within {
			clk.Add(step)
			passed += step
		}
		time.Sleep(pause)
	}
}
