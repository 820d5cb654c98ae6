package bitcoin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCookie_ReadOnceAgainWhenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".cookie")
	c := &cookie{path: path}
	if _, _, err := c.Basic(); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("missing file: %v, want an error naming %s", err, path)
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("__cookie__:first\n")
	if u, p, err := c.Basic(); err != nil || u != "__cookie__" || p != "first" {
		t.Fatalf("Basic = %q %q %v", u, p, err)
	}
	// The node restarted: the file changes, the cached pair stays until
	// the node refuses it.
	write("__cookie__:second")
	if _, p, _ := c.Basic(); p != "first" {
		t.Fatalf("re-read %q before a refusal", p)
	}
	c.Refused()
	if _, p, err := c.Basic(); err != nil || p != "second" {
		t.Fatalf("after Refused: %q %v", p, err)
	}
	for _, bad := range []string{"s3cr3t-without-colon", "us3r:", ":pa55word", ""} {
		write(bad)
		c.Refused()
		_, _, err := c.Basic()
		if err == nil {
			t.Fatalf("cookie %q accepted", bad)
		}
		if bad != "" && strings.Contains(err.Error(), strings.Trim(bad, ":")) {
			t.Fatalf("error %q quotes the cookie", err)
		}
	}
}

func TestConfig_CookieOrPassword(t *testing.T) {
	base := Config{URL: "http://127.0.0.1:9332", Currency: "LTC", Net: "litecoin-mainnet", Params: &litecoinMainNetParams, Cookie: "/c"}
	if _, err := New(base); err != nil {
		t.Fatal(err)
	}
	both := base
	both.User, both.Password = "u", "p"
	inURL := base
	inURL.URL = "http://u:p@127.0.0.1:9332"
	for _, c := range []Config{both, inURL} {
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), "not both") {
			t.Errorf("cookie and password: %v", err)
		}
	}
}
