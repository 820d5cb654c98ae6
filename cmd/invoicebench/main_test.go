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
				c.URL == "" && !o.json && o.report == ""
		}, ""},
		{"open loop by requests", []string{"-scenario", "create,get", "-conns", "8", "-requests", "500", "-rate", "250.5", "-baseline=false", "-json", "-report", "out.HTML"},
			func(o options) bool {
				c := o.cfg
				return len(c.Scenarios) == 2 && c.Shape.Conns == 8 && c.Shape.Requests == 500 && c.Shape.Rate == 250.5 &&
					!c.Baseline && o.json && o.report == "out.HTML"
			}, ""},
		{"remote server", []string{"-url", "http://10.0.0.5:8080", "-account-key", "abc"}, func(o options) bool {
			return o.cfg.URL == "http://10.0.0.5:8080" && o.cfg.AccountKey == "abc"
		}, ""},
		{"planned scenario", []string{"-scenario", "webhooks"}, nil, "not built yet"},
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

func TestHelp_ListsScenariosAndPlannedOnes(t *testing.T) {
	var out strings.Builder
	_, err := parseFlags([]string{"-help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v", err)
	}
	for _, want := range []string{"-conns", "-rate", "mixed", "payments", "not built yet"} {
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
