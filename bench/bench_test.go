package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/server"
)

func TestRun_InProcessEveryScenarioAndBaselineWithoutErrors(t *testing.T) {
	dataDir := t.TempDir()
	var progress bytes.Buffer
	requests, _ := LookupScenarios("requests")
	rep, err := Run(context.Background(), Config{
		Scenarios: requests, Shape: Shape{Conns: 2, Requests: 200}, Invoices: 50,
		Baseline: true, DataDir: dataDir, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Interrupted || rep.Seed == nil || rep.Seed.Invoices != 50 {
		t.Fatalf("interrupted %v, seed %+v", rep.Interrupted, rep.Seed)
	}
	var names []string
	for _, r := range append(append([]Result(nil), rep.Baselines...), rep.Scenarios...) {
		names = append(names, r.Name)
		if r.Requests != 200 || r.Errors != 0 || r.Throughput <= 0 || r.Latency.P99 <= 0 || len(r.Series) == 0 {
			t.Errorf("%s: %d ok, %d errors %v, %.0f req/s, p99 %vms, %d points; want 200 ok, no errors",
				r.Name, r.Requests, r.Errors, r.ErrorSamples, r.Throughput, r.Latency.P99, len(r.Series))
		}
	}
	if got := strings.Join(names, ","); got != "trivial,pebble,create,get,list,mixed" {
		t.Fatalf("phases %s", got)
	}
	if rep.ClientCeiling == nil || len(rep.Targets) != 3 || rep.Scenario("get").VsTrivial == nil {
		t.Fatalf("ceiling %+v, targets %+v", rep.ClientCeiling, rep.Targets)
	}
	if !strings.Contains(progress.String(), "create   done: 200 ok") {
		t.Errorf("progress lacks the create phase's summary:\n%s", progress.String())
	}
	if left, _ := os.ReadDir(dataDir); len(left) != 0 {
		t.Errorf("the run left %d entries in the data dir", len(left))
	}

	t.Run("JSON output parses back", func(t *testing.T) {
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if len(back.Scenarios) != 4 || back.Scenarios[0].Requests != 200 || back.Baselines[0].Name != "trivial" ||
			back.Scenarios[1].Latency.P99 != rep.Scenarios[1].Latency.P99 || back.Targets[0].Verdict == "" {
			t.Fatalf("round trip lost data: %+v", back.Scenarios)
		}
		var raw map[string]any
		_ = json.Unmarshal(b, &raw)
		first := raw["scenarios"].([]any)[0].(map[string]any)
		for _, key := range []string{"name", "requests", "errors", "throughput_rps", "latency_ms", "series", "vs_trivial", "vs_pebble"} {
			if _, ok := first[key]; !ok {
				t.Errorf("scenario JSON has no %q", key)
			}
		}
	})
	t.Run("table", func(t *testing.T) {
		var b strings.Builder
		if err := WriteTable(&b, rep); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"trivial", "pebble", "mixed", "client ceiling", "create p99 <= 25ms"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, b.String())
			}
		}
	})
	t.Run("SVG and HTML reports", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"r.svg", "r.html"} {
			path := filepath.Join(dir, name)
			if err := WriteReportFile(path, rep); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			if name == "r.html" {
				if !strings.Contains(string(b), "</html>") {
					t.Fatal("html report is not a page")
				}
				b = b[bytes.Index(b, []byte("<svg")) : bytes.Index(b, []byte("</svg>"))+len("</svg>")]
			}
			if n := checkSVG(t, b); n != 2*6 {
				t.Errorf("%s: %d polylines, want throughput and p99 for each of 6 phases", name, n)
			}
		}
		if err := WriteReportFile(filepath.Join(dir, "r.png"), rep); err == nil {
			t.Error("a .png report must be refused")
		}
	})
}

// checkSVG parses b as XML with an svg root and counts its polylines.
func checkSVG(t *testing.T, b []byte) int {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	lines, root := 0, ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "polyline" {
				lines++
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return lines
}

func TestRun_DrivesARunningServerByURL(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	srv, err := server.Start(server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: key,
		DefaultExpireMin: 30, MaxExpireMin: 43200,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	url := "http://" + srv.Addr + "/"
	sc, _ := LookupScenarios("get,list")
	rep, err := Run(context.Background(), Config{
		Scenarios: sc, Shape: Shape{Conns: 2, Requests: 100}, Invoices: 20, URL: url, AccountKey: key, DataDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Settings.Target != url || len(rep.Baselines) != 0 || len(rep.Scenarios) != 2 {
		t.Fatalf("target %q, %d baselines, %d scenarios", rep.Settings.Target, len(rep.Baselines), len(rep.Scenarios))
	}
	for _, r := range rep.Scenarios {
		if r.Requests != 100 || r.Errors != 0 {
			t.Errorf("%s: %d ok, %d errors %v", r.Name, r.Requests, r.Errors, r.ErrorSamples)
		}
	}

	_, err = Run(context.Background(), Config{
		Scenarios: sc, Shape: Shape{Conns: 1, Requests: 1}, Invoices: 1, URL: url,
		AccountKey: strings.Repeat("0", 64), DataDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong account key gave %v, want the project creation's 401", err)
	}
}

func TestRun_InterruptStillReports(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc, _ := LookupScenarios("get")
	time.AfterFunc(1500*time.Millisecond, cancel)
	begin := time.Now()
	rep, err := Run(ctx, Config{
		Scenarios: sc, Shape: Shape{Conns: 2, Duration: time.Minute}, Invoices: 20, DataDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 20*time.Second {
		t.Fatalf("the interrupted run took %v", took)
	}
	if !rep.Interrupted || len(rep.Scenarios) != 1 || rep.Scenarios[0].Requests == 0 || rep.Scenarios[0].Errors != 0 {
		t.Fatalf("interrupted %v, scenarios %+v", rep.Interrupted, rep.Scenarios)
	}
	var b strings.Builder
	_ = WriteTable(&b, rep)
	if !strings.Contains(b.String(), "INTERRUPTED") {
		t.Errorf("table does not say the run was interrupted:\n%s", b.String())
	}
}

func TestRun_RejectsBadConfig(t *testing.T) {
	get, _ := LookupScenarios("get")
	payments, _ := LookupScenarios("payments")
	webhooks, _ := LookupScenarios("webhooks")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no conns", Config{Scenarios: get, Shape: Shape{Duration: time.Second}, Invoices: 1}, "conns"},
		{"no length", Config{Scenarios: get, Shape: Shape{Conns: 1}, Invoices: 1}, "duration or a request count"},
		{"reads without invoices", Config{Scenarios: get, Shape: Shape{Conns: 1, Requests: 1}}, "seeded invoice"},
		{"url without key", Config{Scenarios: get, Shape: Shape{Conns: 1, Requests: 1}, Invoices: 1, URL: "http://x"}, "account key"},
		{"no scenario", Config{Shape: Shape{Conns: 1, Requests: 1}}, "no scenario"},
		{"payments without blocks", Config{Scenarios: payments, Shape: Shape{Conns: 1}, Events: EventConfig{BlockOutputs: 1}}, "blocks must be at least 1"},
		{"payments by url", Config{Scenarios: payments, Shape: Shape{Conns: 1}, Events: DefaultEventConfig(), URL: "http://x", AccountKey: "k"}, "needs the in-process server"},
		{"webhooks without invoices", Config{Scenarios: webhooks, Shape: Shape{Conns: 1}}, "webhook invoices must be at least 1"},
	}
	for _, tt := range tests {
		if _, err := Run(context.Background(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error about %q", tt.name, err, tt.want)
		}
	}
}
