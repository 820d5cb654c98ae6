package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func startForPprof(t *testing.T, pprofListen string) *Server {
	t.Helper()
	srv, err := Start(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: accountKey, PprofListen: pprofListen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

func TestPprof_OnlyOnItsOwnAddress(t *testing.T) {
	srv := startForPprof(t, "127.0.0.1:0")
	if srv.PprofAddr == "" || srv.PprofAddr == srv.Addr {
		t.Fatalf("pprof address %q, API address %q", srv.PprofAddr, srv.Addr)
	}
	for path, want := range map[string]string{
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/cmdline":           "",
		"/debug/pprof/heap?debug=1":      "heap profile",
		"/debug/pprof/goroutine?debug=1": "goroutine profile",
		"/debug/pprof/symbol":            "num_symbols",
	} {
		if status, body := get(t, "http://"+srv.PprofAddr+path); status != 200 || !strings.Contains(body, want) {
			t.Errorf("pprof %s: %d %.200s", path, status, body)
		}
		if status, _ := get(t, "http://"+srv.Addr+path); status != http.StatusNotFound {
			t.Errorf("API address serves %s: %d, want 404", path, status)
		}
	}
	// The API keeps working beside it.
	if status, body := get(t, "http://"+srv.Addr+"/healthz"); status != 200 {
		t.Errorf("healthz: %d %s", status, body)
	}
}

func TestPprof_OffUnlessConfigured(t *testing.T) {
	srv := startForPprof(t, "")
	if srv.PprofAddr != "" {
		t.Fatalf("pprof listens on %s without being configured", srv.PprofAddr)
	}
	if status, _ := get(t, "http://"+srv.Addr+"/debug/pprof/"); status != http.StatusNotFound {
		t.Errorf("API address serves /debug/pprof/: %d, want 404", status)
	}
}

func TestPprof_BadAddressRefusesToStart(t *testing.T) {
	_, err := Start(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: accountKey, PprofListen: "256.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "pprof") {
		t.Fatalf("Start with a bad pprof address = %v, want a pprof listen error", err)
	}
}
