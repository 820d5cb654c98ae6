package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/server"
)

const maintAccountKey = "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"

func maintCall(t *testing.T, addr, method, path, key, body string, out any) int {
	t.Helper()
	status, b := apitest.Call(t, "http://"+addr, method, path, key, body)
	if out != nil {
		apitest.Decode(t, b, out)
	}
	return status
}

func maintStart(t *testing.T, dir string) *server.Server {
	t.Helper()
	srv, err := server.Start(server.Config{Listen: "127.0.0.1:0", DataDir: dir, Mode: "dev", BootstrapAccountKey: maintAccountKey, ChainPoll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func runCmd(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard)
	return out.String(), err
}

// TestBackupCheckRestore takes a backup of a stopped server's data dir,
// damages the original and repairs it with check, and restores the backup
// by starting a server on it.
func TestBackupCheckRestore(t *testing.T) {
	dir, backup := t.TempDir(), filepath.Join(t.TempDir(), "backup")
	srv := maintStart(t, dir)
	var p struct {
		APIKey string `json:"api_key"`
	}
	maintCall(t, srv.Addr, "POST", "/api/v1/projects", maintAccountKey, `{"name":"shop"}`, &p)
	var inv struct {
		ID     string `json:"invoice_id"`
		Status string `json:"status"`
	}
	if code := maintCall(t, srv.Addr, "POST", "/api/v1/invoices", p.APIKey, `{"order_id":"o1","crypto_amount":"0.01","currency":"BTC"}`, &inv); code != 201 {
		t.Fatalf("create: %d", code)
	}
	maintCall(t, srv.Addr, "PATCH", "/api/v1/invoices/"+inv.ID, p.APIKey, `{"status":"cancelled"}`, nil)

	// A running server holds the store: the commands refuse, naming why.
	if _, err := runCmd("check", "-data-dir", dir); err == nil || !strings.Contains(err.Error(), "is a server running") {
		t.Fatalf("check on a running server's data dir: %v", err)
	}
	// backup points at the running server's own backup route instead.
	if _, err := runCmd("backup", "-data-dir", dir, "-to", backup); err == nil || !strings.Contains(err.Error(), "POST http://127.0.0.1:8080/api/v1/admin/backup") {
		t.Fatalf("backup of a running server's data dir: %v", err)
	}
	if _, err := os.Stat(backup); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused backup left %s: %v", backup, err)
	}
	// With the account key it has the running server write the backup and
	// moves it into place; the copy checks clean and holds the invoice.
	online := filepath.Join(t.TempDir(), "online")
	if _, err := runCmd("backup", "-data-dir", dir, "-listen", srv.Addr, "-account-key", strings.Repeat("0", 64), "-to", online); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("online backup with a wrong key: %v", err)
	}
	out, err := runCmd("backup", "-data-dir", dir, "-listen", srv.Addr, "-account-key", maintAccountKey, "-to", online)
	if err != nil || !strings.Contains(out, "moved to "+online) {
		t.Fatalf("online backup: %v\n%s", err, out)
	}
	if out, err := runCmd("check", "-data-dir", online); err != nil || !strings.Contains(out, "0 problems") {
		t.Fatalf("check of the online backup: %v\n%s", err, out)
	}
	// A server of another data dir answering on -listen writes its own
	// backup: the command leaves it there rather than move a directory that
	// is not this data dir's.
	other := maintStart(t, t.TempDir())
	t.Cleanup(func() { other.Shutdown(context.Background()) })
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	_, err = runCmd("backup", "-data-dir", dir, "-listen", other.Addr, "-account-key", maintAccountKey, "-to", elsewhere)
	if err == nil || !strings.Contains(err.Error(), "serves another data dir") {
		t.Fatalf("backup through another data dir's server: %v", err)
	}
	if _, err := os.Stat(elsewhere); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("moved another server's backup to %s: %v", elsewhere, err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	out, err = runCmd("backup", "-data-dir", dir, "-to", backup)
	if err != nil || !strings.Contains(out, "0 problems") || !strings.Contains(out, "written to "+backup) {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(backup, "devchain-btc.json")); err != nil {
		t.Fatalf("the backup lacks the dev chain: %v", err)
	}
	if _, err := runCmd("backup", "-data-dir", dir, "-to", backup); err == nil {
		t.Fatal("backup over an existing directory succeeded")
	}
	if _, err := runCmd("backup", "-data-dir", filepath.Join(dir, "typo"), "-to", backup+"-typo"); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Fatalf("backup of a data dir without a store: %v", err)
	}
	if out, err := runCmd("check", "-data-dir", backup); err != nil {
		t.Fatalf("check of the backup: %v\n%s", err, out)
	}

	// Damage the original: lose the list indexes and counters.
	s, err := persistence.Open(filepath.Join(dir, "store"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []byte{0x04, 0x05} {
		if err := s.DB().DeleteRange([]byte{prefix}, []byte{prefix + 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd("check", "-data-dir", dir); err == nil || !strings.Contains(out, "index: invoice "+inv.ID) {
		t.Fatalf("check missed the damage: %v\n%s", err, out)
	}
	if out, err := runCmd("check", "-repair", "-data-dir", dir); err != nil || !strings.Contains(out, "a second check finds 0 problems") {
		t.Fatalf("check -repair: %v\n%s", err, out)
	}

	// Restore: a server started on the backup serves the invoice as it was.
	restored := maintStart(t, backup)
	defer restored.Shutdown(context.Background())
	var got struct {
		Status string `json:"status"`
	}
	if code := maintCall(t, restored.Addr, "GET", "/api/v1/invoices/"+inv.ID, p.APIKey, "", &got); code != 200 || got.Status != "cancelled" {
		t.Fatalf("restored invoice: %d %s", code, got.Status)
	}
	var list struct {
		Pagination struct {
			Total int `json:"total_records"`
		} `json:"pagination"`
	}
	maintCall(t, restored.Addr, "GET", "/api/v1/invoices?status=cancelled", p.APIKey, "", &list)
	if list.Pagination.Total != 1 {
		t.Fatalf("restored list total %d", list.Pagination.Total)
	}
}

func TestTakeFlags(t *testing.T) {
	vals, rest, err := takeFlags([]string{"-repair", "-data-dir", "d", "--to=x", "-mode", "dev"}, map[string]bool{"repair": true, "to": false})
	if err != nil || vals["repair"] != "true" || vals["to"] != "x" || strings.Join(rest, " ") != "-data-dir d -mode dev" {
		t.Fatalf("%v %v %v", vals, rest, err)
	}
	if _, _, err := takeFlags([]string{"-to"}, map[string]bool{"to": false}); err == nil {
		t.Fatal("-to without a value accepted")
	}
}
