package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/bench"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(o options) bool
		wantErr string
	}{
		{"defaults", nil, func(o options) bool {
			c := o.cfg
			return c.Shape.Conns == 64 && c.Shape.Duration == 10*time.Second && c.Shape.Requests == 0 &&
				c.Shape.Warmup == 2*time.Second && c.Invoices == 2000 && c.Baseline && len(c.Scenarios) == 4 &&
				c.URL == "" && !o.json && o.report == "" && c.Events == bench.DefaultEventConfig() &&
				c.Events.BlockOutputs == 10000 && c.Events.Watched == 0 && c.Events.ExpiryInvoices == 10000 && c.Events.RestartInvoices == 100000
		}, ""},
		{"event scenarios", []string{"-scenario", "events", "-block-outputs", "500", "-watched", "2000", "-blocks", "4", "-cold",
			"-expiry-invoices", "300", "-restart-invoices", "7000", "-webhook-invoices", "90", "-settle", "45s"}, func(o options) bool {
			e := o.cfg.Events
			return len(o.cfg.Scenarios) == 4 && o.cfg.Scenarios[0].Name == "restart" && e.BlockOutputs == 500 && e.Watched == 2000 &&
				e.Blocks == 4 && e.Cold && e.ExpiryInvoices == 300 && e.RestartInvoices == 7000 && e.WebhookInvoices == 90 && e.Settle == 45*time.Second
		}, ""},
		{"all", []string{"-scenario", "all"}, func(o options) bool { return len(o.cfg.Scenarios) == 8 }, ""},
		{"open loop by requests", []string{"-scenario", "create,get", "-conns", "8", "-requests", "500", "-rate", "250.5", "-baseline=false", "-json", "-report", "out.HTML"},
			func(o options) bool {
				c := o.cfg
				return len(c.Scenarios) == 2 && c.Shape.Conns == 8 && c.Shape.Requests == 500 && c.Shape.Rate == 250.5 &&
					!c.Baseline && o.json && o.report == "out.HTML"
			}, ""},
		{"remote server", []string{"-url", "http://10.0.0.5:8080", "-account-key", "abc"}, func(o options) bool {
			return o.cfg.URL == "http://10.0.0.5:8080" && o.cfg.AccountKey == "abc"
		}, ""},
		{"unknown scenario", []string{"-scenario", "nope"}, nil, "unknown scenario"},
		{"report format", []string{"-report", "r.png"}, nil, ".svg or .html"},
		{"stray argument", []string{"create"}, nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(o) {
				t.Fatalf("parseFlags(%q) = %+v, %v", tt.args, o, err)
			}
		})
	}
}

func TestHelp_ListsScenariosAndWhereTheyRun(t *testing.T) {
	var out strings.Builder
	_, err := parseFlags([]string{"-help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v", err)
	}
	for _, want := range []string{"-conns", "-rate", "mixed", "payments", "in-process only", "webhooks", "in-process, or -url", "-block-outputs", "-watched", "990000", "-cold", "BenchmarkBlockMatch"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestRun_JSONOnStdoutTableOnStderrAndReportFile(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "run.svg")
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	err = run(context.Background(), []string{
		"-scenario", "create,get", "-conns", "2", "-requests", "60", "-warmup", "0", "-invoices", "10",
		"-data-dir", dir, "-json", "-report", report,
	}, stdout, &stderr)
	stdout.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(stdout.Name())
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, b)
	}
	if len(rep.Scenarios) != 2 || len(rep.Baselines) != 2 || rep.Scenarios[0].Requests != 60 || rep.Scenarios[1].Errors != 0 {
		t.Fatalf("report: %+v", rep.Scenarios)
	}
	if !strings.Contains(stderr.String(), "client ceiling") || !strings.Contains(stderr.String(), "create   done") {
		t.Errorf("stderr lacks the table or the progress:\n%s", stderr.String())
	}
	if svg, err := os.ReadFile(report); err != nil || !strings.HasPrefix(string(svg), "<svg") {
		t.Fatalf("report file: %v", err)
	}
}

func TestRun_EventScenarioJSON(t *testing.T) {
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	err = run(context.Background(), []string{
		"-scenario", "payments,expiry", "-conns", "2", "-block-outputs", "6", "-blocks", "1", "-expiry-invoices", "4",
		"-data-dir", dir, "-json", "-quiet",
	}, stdout, &stderr)
	stdout.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(stdout.Name())
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, b)
	}
	p, e := rep.Scenario("payments"), rep.Scenario("expiry")
	if p == nil || p.Payments == nil || p.Payments.MatchedPerSecond <= 0 || p.Errors != 0 || e == nil || e.Expiry == nil || e.Requests != 4 || e.Errors != 0 {
		t.Fatalf("report: %+v", rep.Scenarios)
	}
	if !strings.Contains(stderr.String(), "payments matched/s") || !strings.Contains(stderr.String(), "all expired after") {
		t.Errorf("stderr lacks the event figures:\n%s", stderr.String())
	}
}
