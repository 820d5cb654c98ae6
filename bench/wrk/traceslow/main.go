// Command traceslow reads an execution trace of invoiced serving creates
// (bench/wrk/tracecreate.sh takes one) and says where the slow requests
// spent their time: it cuts each connection goroutine's timeline into
// requests (from its wake out of a network wait to its next network wait),
// splits each request into running, runnable (waiting for a P), waiting on
// a sync primitive (a Commit waiting for its combined write), in a
// syscall and other waits, and compares the middle of the distribution
// with its slowest 1 %. It also times the two steps of each combined
// write: the WAL loop's fdatasync and idle waits, and a new combiner
// leader's wake-up and build.
//
// It is its own module so that the trace parser (golang.org/x/exp/trace)
// stays out of the server's dependencies.
//
//	go run . TRACE
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/exp/trace"
)

// request is one request's time by goroutine state, in nanoseconds.
type request struct {
	start, end                               trace.Time
	running, runnable, syncWait, sysc, other int64
}

// goroutine is what is known of one goroutine's timeline.
type goroutine struct {
	state  trace.GoState
	since  trace.Time
	reason string // why it waits, when it waits

	conn      bool // serves an HTTP connection
	inRequest bool
	req       request

	inWrite  bool       // waits in the combiner (persistence.(*Store).write)
	wokenAt  trace.Time // woken out of the combiner's wait
	runnable int64      // then runnable this long
	runFrom  trace.Time // then running from here

	leader, walLoop bool   // in a combined write's lead; Pebble's WAL loop
	site            string // where a leader waits or the WAL loop's syscall
}

// stat sums the durations of one kind of interval.
type stat struct {
	n          int
	total, max int64
	over5ms    int
}

func (s *stat) add(d int64) {
	s.n++
	s.total += d
	s.max = max(s.max, d)
	if d > 5e6 {
		s.over5ms++
	}
}

func has(s trace.Stack, sub string) bool {
	for f := range s.Frames() {
		if strings.Contains(f.Func, sub) {
			return true
		}
	}
	return false
}

// firstFrame is the first function of s whose name holds one of subs.
func firstFrame(s trace.Stack, subs ...string) string {
	for f := range s.Frames() {
		for _, sub := range subs {
			if strings.Contains(f.Func, sub) {
				return f.Func
			}
		}
	}
	return "?"
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: traceslow TRACE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fail(err)
	}
	defer f.Close()
	rd, err := trace.NewReader(f)
	if err != nil {
		fail(err)
	}
	gs := map[trace.GoID]*goroutine{}
	stats := map[string]*stat{}
	add := func(name string, d int64) {
		if stats[name] == nil {
			stats[name] = &stat{}
		}
		stats[name].add(d)
	}
	var reqs []request
	var gcSpans [][2]trace.Time
	var gcFrom trace.Time
	for {
		ev, err := rd.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(err)
		}
		switch ev.Kind() {
		case trace.EventRangeBegin:
			if strings.Contains(ev.Range().Name, "GC concurrent mark") {
				gcFrom = ev.Time()
			}
		case trace.EventRangeEnd:
			if strings.Contains(ev.Range().Name, "GC concurrent mark") && gcFrom != 0 {
				gcSpans = append(gcSpans, [2]trace.Time{gcFrom, ev.Time()})
				gcFrom = 0
			}
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			from, to := st.Goroutine()
			g := gs[st.Resource.Goroutine()]
			if g == nil {
				g = &goroutine{state: from, since: ev.Time()}
				gs[st.Resource.Goroutine()] = g
			}
			now := ev.Time()
			d := int64(now - g.since)
			if g.inRequest {
				switch g.state {
				case trace.GoRunning:
					g.req.running += d
				case trace.GoRunnable:
					g.req.runnable += d
				case trace.GoSyscall:
					g.req.sysc += d
				case trace.GoWaiting:
					if g.reason == "sync" {
						g.req.syncWait += d
					} else {
						g.req.other += d
					}
				}
			}
			switch {
			case g.walLoop && g.state == trace.GoSyscall:
				add("WAL loop: syscall "+g.site, d)
			case g.walLoop && g.state == trace.GoWaiting:
				add("WAL loop: waits for a write ("+g.reason+")", d)
			case g.leader && g.state == trace.GoWaiting:
				add("combined write's leader: waits in "+g.site, d)
			}
			stk := st.Stack
			g.walLoop = has(stk, "record.(*LogWriter).flushLoop")
			if g.walLoop {
				g.site = firstFrame(stk, "Fdatasync", "syscall.write", "Write")
			}
			g.leader = has(stk, "persistence.(*Store).lead")
			if g.leader {
				g.site = firstFrame(stk, "pebble", "persistence.")
			}
			if to == trace.GoWaiting {
				// A connection goroutine waiting on the network has
				// answered its request.
				if st.Reason == "network" && (has(stk, "net/http.(*conn).serve") || has(stk, "net/http.(*connReader)")) {
					g.conn = true
					if g.inRequest {
						g.req.end = now
						reqs = append(reqs, g.req)
					}
					g.inRequest = false
				}
				if g.runFrom != 0 && g.leader {
					add("new leader: woken to running", g.runnable)
					add("new leader: running to its write's sync wait", int64(now-g.runFrom))
				}
				g.runFrom = 0
				g.reason = st.Reason
				g.inWrite = has(stk, "persistence.(*Store).write")
			}
			if from == trace.GoWaiting && g.conn && !g.inRequest && g.reason == "network" {
				g.inRequest, g.req = true, request{start: now}
			}
			if from == trace.GoWaiting && to == trace.GoRunnable && g.inWrite {
				g.wokenAt = now
			}
			if from == trace.GoRunnable && to == trace.GoRunning && g.wokenAt != 0 {
				g.runnable, g.runFrom, g.wokenAt = int64(now-g.wokenAt), now, 0
			}
			g.state, g.since = to, now
		}
	}
	report(reqs, gcSpans, stats)
}

func report(reqs []request, gcSpans [][2]trace.Time, stats map[string]*stat) {
	n := len(reqs)
	if n == 0 {
		fmt.Println("no requests found")
		return
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].end-reqs[i].start < reqs[j].end-reqs[j].start })
	lo, hi := reqs[0].start, reqs[0].end
	for _, r := range reqs {
		lo, hi = min(lo, r.start), max(hi, r.end)
	}
	var gc int64
	for _, s := range gcSpans {
		gc += int64(s[1] - s[0])
	}
	fmt.Printf("requests %d, GC mark phases %d covering %.1f%% of the time\n", n, len(gcSpans), 100*float64(gc)/float64(hi-lo))
	ms := func(r request) float64 { return float64(r.end-r.start) / 1e6 }
	fmt.Printf("latency p50 %.2f ms, p90 %.2f, p99 %.2f, max %.2f\n", ms(reqs[n/2]), ms(reqs[n*90/100]), ms(reqs[n*99/100]), ms(reqs[n-1]))
	inGC := func(r request) bool {
		for _, s := range gcSpans {
			if r.start < s[1] && r.end > s[0] {
				return true
			}
		}
		return false
	}
	part := func(name string, rs []request) {
		var sum request
		overlap := 0
		for _, r := range rs {
			sum.end += r.end - r.start
			sum.running += r.running
			sum.runnable += r.runnable
			sum.syncWait += r.syncWait
			sum.sysc += r.sysc
			sum.other += r.other
			if inGC(r) {
				overlap++
			}
		}
		k := float64(len(rs)) * 1e6
		fmt.Printf("%-11s n=%6d mean %.2f ms: running %.2f, runnable %.2f, waiting on the commit (sync) %.2f, syscall %.2f, other waits %.2f; during a GC mark %.0f%%\n",
			name, len(rs), float64(sum.end)/k, float64(sum.running)/k, float64(sum.runnable)/k, float64(sum.syncWait)/k, float64(sum.sysc)/k, float64(sum.other)/k,
			100*float64(overlap)/float64(len(rs)))
	}
	part("all", reqs)
	part("p45-p55", reqs[n*45/100:n*55/100])
	part("slowest 1%", reqs[n*99/100:])
	names := make([]string, 0, len(stats))
	for k := range stats {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := stats[k]
		fmt.Printf("%-100s n=%6d mean %.3f ms, max %.2f ms, %d over 5 ms\n", k, s.n, float64(s.total)/float64(s.n)/1e6, float64(s.max)/1e6, s.over5ms)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "traceslow:", err)
	os.Exit(1)
}
