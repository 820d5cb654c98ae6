package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// WriteReportFile writes the report with its charts to path: an SVG image
// (.svg) or an HTML page with the table and the charts (.html, .htm).
func WriteReportFile(path string, rep *Report) error {
	var b strings.Builder
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		writeSVG(&b, rep)
	case ".html", ".htm":
		if err := writeHTML(&b, rep); err != nil {
			return err
		}
	default:
		return fmt.Errorf("report %s: want a .svg or .html file", path)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func writeHTML(w io.Writer, rep *Report) error {
	var table strings.Builder
	if err := WriteTable(&table, rep); err != nil {
		return err
	}
	fmt.Fprintf(w, `<!doctype html>
<html><head><meta charset="utf-8"><title>invoicebench %s</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}pre{font-size:13px;background:#f6f6f6;padding:1em;overflow:auto}</style>
</head><body>
<h1>invoicebench</h1>
<p>Started %s. Every phase ran on its own; the charts overlay them by seconds since each phase started.</p>
<pre>%s</pre>
`, html.EscapeString(rep.StartedAt.Format("2006-01-02 15:04:05Z")), html.EscapeString(rep.StartedAt.Format("2006-01-02 15:04:05 UTC")), html.EscapeString(table.String()))
	writeSVG(w, rep)
	_, err := io.WriteString(w, "\n</body></html>\n")
	return err
}

// Chart geometry, in SVG user units.
const (
	svgWidth    = 960
	chartHeight = 300
	marginLeft  = 70
	marginRight = 170
	marginTop   = 40
	marginBot   = 40
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

type svgSeries struct {
	name     string
	dashed   bool
	color    string
	x, y     []float64
	logScale bool
}

// writeSVG draws two charts, throughput and p99 per second, with a line per
// baseline (dashed) and scenario.
func writeSVG(w io.Writer, rep *Report) {
	// Event scenarios count payments, expiries or webhooks, not requests:
	// they stay out of these charts (their series are in the JSON).
	results := append([]Result(nil), rep.Baselines...)
	for _, r := range rep.Scenarios {
		if !r.Event() {
			results = append(results, r)
		}
	}
	var thrSeries, p99Series []svgSeries
	for i, r := range results {
		s := svgSeries{name: r.Name, dashed: i < len(rep.Baselines), color: palette[i%len(palette)]}
		t, p := s, s
		for _, pt := range r.Series {
			t.x, t.y = append(t.x, pt.T), append(t.y, pt.Throughput)
			if pt.Requests > 0 && pt.P99 > 0 {
				p.x, p.y = append(p.x, pt.T), append(p.y, pt.P99)
			}
		}
		thrSeries, p99Series = append(thrSeries, t), append(p99Series, p)
	}
	height := 2*chartHeight + 20
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, height)
	title := fmt.Sprintf("%s, %s loop, %d conns", targetWords(rep.Settings.Target), rep.Settings.Loop, rep.Settings.Conns)
	drawChart(w, 0, "throughput (req/s) — "+title, thrSeries, false)
	drawChart(w, chartHeight+20, "p99 latency (ms, log scale)", p99Series, true)
	io.WriteString(w, "</svg>\n")
}

func drawChart(w io.Writer, top float64, title string, series []svgSeries, logY bool) {
	x0, x1 := float64(marginLeft), float64(svgWidth-marginRight)
	y0, y1 := top+chartHeight-marginBot, top+marginTop // y0 is the bottom
	maxX, minY, maxY := 1.0, math.Inf(1), 0.0
	for _, s := range series {
		for i := range s.x {
			maxX = max(maxX, s.x[i])
			minY, maxY = min(minY, s.y[i]), max(maxY, s.y[i])
		}
	}
	var lo, hi float64
	var yTicks []float64
	if logY {
		if maxY <= 0 {
			minY, maxY = 0.1, 1
		}
		lo, hi = math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
		if hi <= lo {
			hi = lo + 1
		}
		for e := lo; e <= hi; e++ {
			yTicks = append(yTicks, math.Pow(10, e))
		}
	} else {
		step := niceStep(maxY / 5)
		hi = math.Max(step, math.Ceil(maxY/step)*step)
		for k := 0.0; k*step <= hi+step/2; k++ {
			yTicks = append(yTicks, k*step)
		}
	}
	sy := func(v float64) float64 {
		if logY {
			return y0 - (math.Log10(v)-lo)/(hi-lo)*(y0-y1)
		}
		return y0 - v/hi*(y0-y1)
	}
	sx := func(v float64) float64 { return x0 + v/maxX*(x1-x0) }

	fmt.Fprintf(w, `<text x="%g" y="%g" font-size="14" font-weight="bold">%s</text>`+"\n", x0, top+22, html.EscapeString(title))
	for _, v := range yTicks {
		label := fmt.Sprintf("%.0f", v)
		if logY {
			label = fmtMs(v)
		}
		fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n",
			x0, sy(v), x1, sy(v), x0-6, sy(v)+4, html.EscapeString(label))
	}
	xStep := max(1, niceStep(maxX/10)) // points are a second apart
	for k := 0.0; k*xStep <= maxX+xStep/100; k++ {
		v := k * xStep
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#999"/><text x="%.1f" y="%g" text-anchor="middle">%gs</text>`+"\n",
			sx(v), y0, sx(v), y0+4, sx(v), y0+18, v)
	}
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#444"/>`+"\n", x0, y1, x1-x0, y0-y1)
	for i, s := range series {
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts []string
		for j := range s.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(s.x[j]), sy(s.y[j])))
		}
		if len(pts) > 0 {
			fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		}
		ly := y1 + 10 + float64(i)*18
		fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"%s/><text x="%g" y="%g">%s</text>`+"\n",
			x1+12, ly, x1+36, ly, s.color, dash, x1+42, ly+4, html.EscapeString(s.name))
	}
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}
