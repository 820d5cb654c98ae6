package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/actors/chainwatch"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/internal/admission"
	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/server"
)

// start runs serve on a free loopback port until the returned stop is
// called; stop waits for the graceful shutdown to finish.
func start(t *testing.T, dataDir string, env map[string]string) (addr string, out string, stop func()) {
	t.Helper()
	env["INVOICED_DATA_DIR"] = dataDir
	env["INVOICED_LISTEN"] = "127.0.0.1:0"
	env["INVOICED_LOG_LEVEL"] = "error"
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, stdout, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	b, _ := os.ReadFile(stdout.Name())
	return addr, string(b), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}
}

func postProject(t *testing.T, addr, key string) (int, string) {
	t.Helper()
	status, b := apitest.Call(t, "http://"+addr, "POST", "/api/v1/projects", key, `{"name":"shop"}`)
	return status, string(b)
}

func TestServe_DevBootstrapKeyAndRestart(t *testing.T) {
	dir := t.TempDir()
	addr, out, stop := start(t, dir, map[string]string{})
	keyPath := filepath.Join(dir, server.AccountKeyFile)
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("account key file: %v, mode %v; want 0600", err, fi.Mode())
	}
	kb, _ := os.ReadFile(keyPath)
	key := strings.TrimSpace(string(kb))
	if !strings.Contains(out, key) || !strings.Contains(out, "listening on http://"+addr) {
		t.Fatalf("first start printed %q; want the key and the address", out)
	}
	status, body := postProject(t, addr, key)
	if status != 201 {
		t.Fatalf("create project: %d %s", status, body)
	}
	stop()

	addr, out, stop = start(t, dir, map[string]string{})
	defer stop()
	if strings.Contains(out, key) {
		t.Fatalf("restart printed the key again: %q", out)
	}
	// The saved key still works, and the project name is still taken.
	if status, body := postProject(t, addr, key); status != 409 {
		t.Fatalf("project after restart: %d %s", status, body)
	}
}

func TestServe_BootstrapKeyFromEnv(t *testing.T) {
	key := strings.Repeat("ab", 32)
	addr, out, stop := start(t, t.TempDir(), map[string]string{"INVOICED_BOOTSTRAP_ACCOUNT_KEY": key})
	defer stop()
	if strings.Contains(out, key) {
		t.Fatal("configured key was printed")
	}
	if status, body := postProject(t, addr, key); status != 201 {
		t.Fatalf("create project with bootstrap key: %d %s", status, body)
	}
}

func TestParseConfig(t *testing.T) {
	env := map[string]string{"INVOICED_LISTEN": "0.0.0.0:9000", "INVOICED_DEFAULT_EXPIRE_MIN": "45"}
	cfg, err := parseConfig([]string{"-listen", "127.0.0.1:7000"}, func(k string) string { return env[k] })
	if err != nil || cfg.Listen != "127.0.0.1:7000" || cfg.DefaultExpireMin != 45 || cfg.Mode != "dev" || cfg.LogFormat != "text" || cfg.ActorIdle != 2*time.Minute ||
		cfg.StateCacheBytes != invoice.DefaultStateCacheBytes || cfg.RenderCacheBytes != invoice.DefaultRenderCacheBytes || cfg.ChainCatchUpRate != chainwatch.DefaultCatchUpRate {
		t.Fatalf("cfg = %+v, %v", cfg, err)
	}
	if cfg, err := parseConfig([]string{"-state-cache-mb", "8"}, func(string) string { return "" }); err != nil || cfg.StateCacheBytes != 8<<20 {
		t.Fatalf("-state-cache-mb 8: %d bytes, %v", cfg.StateCacheBytes, err)
	}
	if cfg, err := parseConfig(nil, func(k string) string { return map[string]string{"INVOICED_RENDER_CACHE_MB": "0"}[k] }); err != nil || cfg.RenderCacheBytes != 0 || cfg.StateCacheBytes != invoice.DefaultStateCacheBytes {
		t.Fatalf("INVOICED_RENDER_CACHE_MB=0: %d bytes (state %d), %v", cfg.RenderCacheBytes, cfg.StateCacheBytes, err)
	}
	for _, bad := range []map[string]string{
		{"INVOICED_MODE": "staging"},
		{"INVOICED_DEFAULT_EXPIRE_MIN": "0"},
		{"INVOICED_DEFAULT_ALLOWED_ERROR_PERCENT": "101"},
		{"INVOICED_ACTOR_IDLE": "soon"},
		{"INVOICED_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"},
		{"INVOICED_LOG_FORMAT": "xml"},
		{"INVOICED_STATE_CACHE_MB": "-1"},
		{"INVOICED_RENDER_CACHE_MB": "-1"},
		{"INVOICED_CHAIN_CATCHUP_RATE": "0"},
		{"INVOICED_BACKGROUND_FLOOR": "0"},
		{"INVOICED_BACKGROUND_FLOOR": "1.5"},
		{"INVOICED_BACKGROUND_FLOOR": "NaN"},
		{"INVOICED_STATE_CACHE": "100000"}, // the entry count it replaced
	} {
		if _, err := parseConfig(nil, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
}

// The background floor defaults to admission's and 1 turns elasticity off.
func TestParseConfig_BackgroundFloor(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want float64
	}{
		{"", admission.DefaultFloor},
		{"0.25", 0.25},
		{"1", 1},
	} {
		cfg, err := parseConfig(nil, func(k string) string { return map[string]string{"INVOICED_BACKGROUND_FLOOR": tc.env}[k] })
		if err != nil || cfg.BackgroundFloor != tc.want {
			t.Errorf("INVOICED_BACKGROUND_FLOOR=%q: %v (%v), want %v", tc.env, cfg.BackgroundFloor, err, tc.want)
		}
	}
}

func TestServe_ProdRefusesWithoutChainKeys(t *testing.T) {
	cfg, err := parseConfig([]string{"-mode", "prod", "-data-dir", t.TempDir()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), cfg, io.Discard, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "extended public key") {
		t.Fatalf("prod serve = %v, want a refusal naming the missing keys", err)
	}
}

func TestServe_RefusesPrivateOrBadExtendedKeys(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi", "private key"},
		{"zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDGf4aUNM9M9pB6GDHyEAq6wXP", "checksum"},
	} {
		cfg, err := parseConfig([]string{"-mode", "prod", "-data-dir", t.TempDir(), "-btc-rpc-url", "http://127.0.0.1:1", "-btc-xpub", tc.key}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		err = serve(context.Background(), cfg, io.Discard, io.Discard, nil)
		if err == nil || strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("serve with key %.8s…: %v; want a refusal saying %q that does not echo the key", tc.key, err, tc.want)
		}
	}
}

func TestParseConfig_PprofListen(t *testing.T) {
	cfg, err := parseConfig(nil, func(k string) string { return map[string]string{"INVOICED_PPROF_LISTEN": "127.0.0.1:6060"}[k] })
	if err != nil || cfg.PprofListen != "127.0.0.1:6060" {
		t.Fatalf("env: %q, %v", cfg.PprofListen, err)
	}
	cfg, err = parseConfig([]string{"-pprof-listen", "127.0.0.1:6061"}, func(string) string { return "" })
	if err != nil || cfg.PprofListen != "127.0.0.1:6061" {
		t.Fatalf("flag: %q, %v", cfg.PprofListen, err)
	}
	if sc, err := serverConfig(cfg, nil, io.Discard); err != nil || sc.PprofListen != "127.0.0.1:6061" {
		t.Fatalf("server config: %q, %v", sc.PprofListen, err)
	}
	if cfg, _ := parseConfig(nil, func(string) string { return "" }); cfg.PprofListen != "" {
		t.Fatalf("pprof on by default: %q", cfg.PprofListen)
	}
}

func TestParseConfig_LitecoinAndCookies(t *testing.T) {
	env := map[string]string{
		"INVOICED_LTC_RPC_URL": "http://127.0.0.1:19332", "INVOICED_LTC_RPC_COOKIE": "/var/lib/litecoind/.cookie",
		"INVOICED_LTC_NET": "testnet", "INVOICED_LTC_XPUB": "ttub-key",
		"INVOICED_BTC_RPC_URL": "http://127.0.0.1:8332", "INVOICED_BTC_RPC_COOKIE": "/var/lib/bitcoind/.cookie",
		"INVOICED_BTC_XPUB": "zpub-key",
	}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	wantLTC := btcConfig{URL: "http://127.0.0.1:19332", Cookie: "/var/lib/litecoind/.cookie", Net: "testnet", XPub: "ttub-key"}
	wantBTC := btcConfig{URL: "http://127.0.0.1:8332", Cookie: "/var/lib/bitcoind/.cookie", Net: "mainnet", XPub: "zpub-key"}
	if cfg.LTC == nil || *cfg.LTC != wantLTC || cfg.BTC == nil || *cfg.BTC != wantBTC {
		t.Fatalf("LTC %+v BTC %+v", cfg.LTC, cfg.BTC)
	}
	sc, err := serverConfig(cfg, nil, io.Discard)
	if err != nil || sc.Litecoin == nil || sc.Litecoin.Cookie != wantLTC.Cookie || sc.Litecoin.Net != "testnet" || sc.Bitcoin.Cookie != wantBTC.Cookie {
		t.Fatalf("server config: %+v %+v, %v", sc.Litecoin, sc.Bitcoin, err)
	}
	for _, bad := range []map[string]string{
		{"INVOICED_LTC_RPC_URL": "http://127.0.0.1:19332"},
		{"INVOICED_LTC_XPUB": "zpub-key"},
		{"INVOICED_LTC_RPC_URL": "http://h", "INVOICED_LTC_XPUB": "k", "INVOICED_LTC_RPC_COOKIE": "/c", "INVOICED_LTC_RPC_USER": "u"},
	} {
		if _, err := parseConfig(nil, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
	bad := map[string]string{"INVOICED_LTC_RPC_URL": "http://h", "INVOICED_LTC_XPUB": "k", "INVOICED_LTC_NET": "dogenet"}
	cfg, err = parseConfig(nil, func(k string) string { return bad[k] })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serverConfig(cfg, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "-ltc-net") {
		t.Fatalf("LTC net dogenet: %v", err)
	}
}

// In dev mode the merchant's receiver runs on the same machine, so private
// callbacks are allowed unless the setting says otherwise; prod refuses them
// unless it says so.
func TestParseConfig_PrivateCallbacksFollowTheMode(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, true},
		{map[string]string{"INVOICED_MODE": "dev", "INVOICED_ALLOW_PRIVATE_CALLBACKS": "false"}, false},
		{map[string]string{"INVOICED_MODE": "prod"}, false},
		{map[string]string{"INVOICED_MODE": "prod", "INVOICED_ALLOW_PRIVATE_CALLBACKS": "true"}, true},
	} {
		cfg, err := parseConfig(nil, func(k string) string { return tc.env[k] })
		if err != nil || cfg.AllowPrivateCallbacks != tc.want {
			t.Errorf("%v: allow private callbacks %v, %v; want %v", tc.env, cfg.AllowPrivateCallbacks, err, tc.want)
		}
	}
}
