//go:build unix

package bench

import (
	"syscall"
	"time"
)

// processCPU is the user plus system CPU time this process has used. The
// in-process server, the baselines and the client all count: it says how
// close the run came to using every core, not who used them.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
