package persistence

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestPebbleLogger_RoutesToSlog(t *testing.T) {
	var buf bytes.Buffer
	l := pebbleLogger{log: slog.New(slog.NewTextHandler(&buf, nil)), onFatal: func(string) {}}
	l.Infof("flushed %d tables", 3)
	l.Errorf("background error: %s", "disk full")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Fatalf returned; Pebble relies on it not returning")
			}
		}()
		l.Fatalf("corruption in %s", "000001.sst")
	}()
	out := buf.String()
	for _, want := range []string{"level=INFO msg=\"flushed 3 tables\"", "level=ERROR msg=\"background error: disk full\"", "corruption in 000001.sst"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestOpen_PebbleLogsThroughOptionsLogger checks that Pebble's own lines
// (it reports the WALs it finds on every Open) reach Options.Logger rather
// than stderr.
func TestOpen_PebbleLogsThroughOptionsLogger(t *testing.T) {
	var buf bytes.Buffer
	s, err := Open(t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "WAL") || !strings.Contains(out, "component=pebble") {
		t.Fatalf("no Pebble log line reached the logger: %q", out)
	}
}
