package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report for people: the run's shape, one row per
// baseline and scenario with absolute figures and ratios to the baselines,
// errors, the client's ceiling and the targets.
func WriteTable(w io.Writer, rep *Report) error {
	var b strings.Builder
	st, m := rep.Settings, rep.Machine
	var phases []Result // baselines and request scenarios
	phases = append(phases, rep.Baselines...)
	for _, r := range rep.Scenarios {
		if !r.Event() {
			phases = append(phases, r)
		}
	}
	requestRun := len(phases) > 0 || !slices.ContainsFunc(rep.Scenarios, func(r Result) bool { return r.Event() })
	if requestRun {
		fmt.Fprintf(&b, "invoicebench: %s, %s loop, %d conns, %s per phase (warmup %gs); %s/%s, %d CPUs, GOMAXPROCS %d, %s\n",
			targetWords(st.Target), st.Loop, st.Conns, phaseWords(st), st.WarmupS, m.GOOS, m.GOARCH, m.CPUs, m.GOMAXPROCS, m.GoVersion)
	} else {
		fmt.Fprintf(&b, "invoicebench: event scenarios, %d conns for their setup; %s/%s, %d CPUs, GOMAXPROCS %d, %s\n",
			st.Conns, m.GOOS, m.GOARCH, m.CPUs, m.GOMAXPROCS, m.GoVersion)
	}
	if rep.Seed != nil {
		fmt.Fprintf(&b, "seeded %d invoices in %.1fs (%.0f creates/s)\n", rep.Seed.Invoices, rep.Seed.Seconds, rep.Seed.Throughput)
	}
	if rep.Interrupted {
		b.WriteString("INTERRUPTED: the figures cover what ran before Ctrl-C\n")
	}
	if requestRun {
		if err := writePhases(&b, phases); err != nil {
			return err
		}
	}
	if err := writeEvents(&b, rep.Scenarios); err != nil {
		return err
	}

	var errLines []string
	for _, r := range slices.Concat(rep.Baselines, rep.Scenarios) {
		kinds := make([]string, 0, len(r.ErrorsByStatus))
		for k := range r.ErrorsByStatus {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			errLines = append(errLines, fmt.Sprintf("  %s: %s x%d, e.g. %s", r.Name, k, r.ErrorsByStatus[k], r.ErrorSamples[k]))
		}
		if r.Late > 0 {
			errLines = append(errLines, fmt.Sprintf("  %s: %d requests started late (>1ms after their intended time)", r.Name, r.Late))
		}
		if r.Aborted > 0 {
			errLines = append(errLines, fmt.Sprintf("  %s: %d requests aborted by the interrupt (not counted)", r.Name, r.Aborted))
		}
	}
	if len(errLines) > 0 {
		b.WriteString("\nerrors (never counted in latencies):\n" + strings.Join(errLines, "\n") + "\n")
	}

	if c := rep.ClientCeiling; c != nil {
		fmt.Fprintf(&b, "\nclient ceiling: %.0f req/s against the trivial handler at %d conns (p99 %s, process CPU %.2f cores)",
			c.Throughput, st.Conns, fmtMs(c.P99), c.CPUCores)
		var parts []string
		for _, s := range rep.Scenarios {
			if !s.Event() {
				parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Name, 100*c.Fractions[s.Name]))
			}
		}
		if len(parts) > 0 {
			b.WriteString("; scenarios reached " + strings.Join(parts, ", ") + " of it")
		}
		b.WriteString("\n")
	}
	if len(rep.Targets) > 0 {
		fmt.Fprintf(&b, "\ntargets (%d cores, client on the same machine, %d conns, closed loop):\n", m.CPUs, targetConns)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, t := range rep.Targets {
			val := "-"
			if t.Verdict != "n/a" {
				if t.Unit == "ms" {
					val = fmtMs(t.Value)
				} else {
					val = fmt.Sprintf("%.2fx", t.Value)
				}
			}
			note := ""
			if t.Note != "" {
				note = "(" + t.Note + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, val, strings.ToUpper(t.Verdict), note)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range rep.Notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePhases is the table of the baselines and request scenarios.
func writePhases(b *strings.Builder, phases []Result) error {
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	nameWidth := 8
	fmt.Fprintf(tw, "%-*s\trequests\treq/s\terrors\tp50\tp90\tp99\tp999\tmax\tcpu\treq/s÷triv\treq/s÷pebble\tp99÷triv\tp99÷pebble\t\n", nameWidth, "")
	row := func(r Result) {
		fmt.Fprintf(tw, "%-*s\t%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t\n", nameWidth, r.Name,
			r.Requests, r.Throughput, r.Errors,
			fmtMs(r.Latency.P50), fmtMs(r.Latency.P90), fmtMs(r.Latency.P99), fmtMs(r.Latency.P999), fmtMs(r.Latency.Max),
			r.CPUCores, fmtRatio(r.VsTrivial, thr), fmtRatio(r.VsPebble, thr), fmtRatio(r.VsTrivial, p99), fmtRatio(r.VsPebble, p99))
	}
	for _, r := range phases {
		row(r)
	}
	return tw.Flush()
}

func targetWords(target string) string {
	if target == "in-process" {
		return "in-process server"
	}
	return "server at " + target
}

func phaseWords(st Settings) string {
	s := fmt.Sprintf("%gs", st.DurationS)
	if st.Requests > 0 {
		s = fmt.Sprintf("%d requests", st.Requests)
	}
	if st.Rate > 0 {
		s += fmt.Sprintf(" at %g req/s", st.Rate)
	}
	return s
}

type ratioField int

const (
	thr ratioField = iota
	p99
)

func fmtRatio(r *Ratio, f ratioField) string {
	if r == nil {
		return "-"
	}
	v := r.Throughput
	if f == p99 {
		v = r.P99
	}
	return fmt.Sprintf("%.2fx", v)
}

// fmtMs formats milliseconds with a unit that keeps three significant
// digits readable: 840µs, 3.21ms, 25.4ms, 155ms, 1.20s.
func fmtMs(v float64) string {
	switch {
	case v <= 0:
		return "0"
	case v < 1:
		return fmt.Sprintf("%.0fµs", v*1000)
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 100:
		return fmt.Sprintf("%.1fms", v)
	case v < 1000:
		return fmt.Sprintf("%.0fms", v)
	default:
		return fmt.Sprintf("%.2fs", v/1000)
	}
}
