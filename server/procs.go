package server

import "runtime"

// TuneProcs gives the Go scheduler more Ps than the machine has CPUs,
// unless the operator chose GOMAXPROCS through the environment (getenv is
// os.Getenv; "" = not set). It returns the value in effect.
//
// Why: every acknowledged write waits for Pebble's WAL loop, one goroutine
// that writes and fdatasyncs the log. With one P per CPU, that goroutine
// queues for a P behind the request handlers whenever they keep every P
// busy, and a P stays parked in each blocking syscall (fsync, file writes)
// until the runtime notices it, so commits wait on CPUs idling in iowait.
// Extra Ps let the kernel, which is fair between threads, schedule the WAL
// loop and keep the CPUs busy during syscalls. Beyond +4 Ps the gain on
// larger machines is not worth the extra GC workers and thread switches.
// Measurements: docs/performance.md.
func TuneProcs(getenv func(string) string) int {
	if getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := procsFor(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(n)
	return n
}

// procsFor is the GOMAXPROCS for a machine whose default is cpus.
func procsFor(cpus int) int { return cpus + min(cpus, 4) }
