package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/maintenance"
)

// post sends a request from any goroutine (call fails the test, so only
// the test's own goroutine may use it).
func post(addr, path, key, body string) (int, []byte, error) {
	req, _ := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Api-Key", key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var backupName = regexp.MustCompile(`^\d{8}T\d{6}Z(-\d+)?$`)

// TestBackup_WhileServingHoldsEveryAcknowledgedInvoice takes a backup
// through the API while creates are in flight, then starts a second server
// on the backup: every invoice acknowledged before the backup was asked
// for is there.
func TestBackup_WhileServingHoldsEveryAcknowledgedInvoice(t *testing.T) {
	h := newHarness(t, nil)
	var (
		mu    sync.Mutex
		acked []string
		fails []string
	)
	create := func(order string) {
		code, b, err := post(h.srv.Addr, "/api/v1/invoices", h.key, fmt.Sprintf(`{"order_id":%q,"crypto_amount":"0.01","currency":"BTC"}`, order))
		mu.Lock()
		defer mu.Unlock()
		var inv apiInvoice
		if err != nil || code != 201 || json.Unmarshal(b, &inv) != nil {
			fails = append(fails, fmt.Sprintf("%s: %d %v %s", order, code, err, b))
			return
		}
		acked = append(acked, inv.ID)
	}
	for i := range 20 {
		create(fmt.Sprintf("before-%d", i))
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				create(fmt.Sprintf("during-%d-%d", w, i))
			}
		}()
	}
	for n := 0; n < 60; {
		time.Sleep(time.Millisecond)
		mu.Lock()
		n = len(acked)
		mu.Unlock()
	}

	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	var res maintenance.BackupSummary
	h.call("POST", "/api/v1/admin/backup", accountKey, "", 201, &res)
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	stop()
	wg.Wait()
	if len(fails) > 0 {
		t.Fatalf("creates failed: %v", fails)
	}
	t.Logf("backup %+v; %d creates acknowledged before it, %d while it was written", res, len(before), during)

	if filepath.Dir(res.Path) != filepath.Join(h.dir, maintenance.BackupDirName) || !backupName.MatchString(filepath.Base(res.Path)) {
		t.Fatalf("backup written to %s, want %s/<UTC time>", res.Path, filepath.Join(h.dir, maintenance.BackupDirName))
	}
	if !res.IntegrityOK || res.Problems != 0 || res.Files < 3 || res.Bytes <= 0 || res.Invoices < len(before) {
		t.Fatalf("backup answer %+v for %d acknowledged invoices", res, len(before))
	}
	for _, f := range []string{"store", "devchain-btc.json"} {
		if _, err := os.Stat(filepath.Join(res.Path, f)); err != nil {
			t.Fatalf("the backup has no %s: %v", f, err)
		}
	}
	if info, err := os.Stat(filepath.Join(h.dir, maintenance.BackupDirName)); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("backups dir: %v %v", info.Mode(), err)
	}

	// Restore: a server on the backup serves every invoice acknowledged
	// before the backup began.
	restored, err := Start(Config{Listen: "127.0.0.1:0", DataDir: res.Path, Mode: "dev", BootstrapAccountKey: accountKey, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Shutdown(context.Background())
	for _, id := range before {
		if status, _ := apitest.Call(t, "http://"+restored.Addr, "GET", "/api/v1/invoices/"+id, h.key, ""); status != 200 {
			t.Fatalf("invoice %s, acknowledged before the backup, is %d in it", id, status)
		}
	}
	// A backup is a data dir: backing it up again works as well.
	got, err := restored.Backup(context.Background())
	if err != nil || !got.Report.OK() || got.Report.Streams != res.Invoices {
		t.Fatalf("backup of the restored backup: %+v %v", got, err)
	}
}

// TestBackup_AccountKeyOnlyOneAtATime: the route needs the account key,
// refuses a second backup while one is written, and names backups of the
// same second apart.
func TestBackup_AccountKeyOnlyOneAtATime(t *testing.T) {
	h := newHarness(t, nil)
	h.call("POST", "/api/v1/admin/backup", "", "", 401, nil)
	h.call("POST", "/api/v1/admin/backup", strings.Repeat("ab", 32), "", 401, nil)
	h.call("POST", "/api/v1/admin/backup", h.key, "", 403, nil)

	// While one is written (the lock it holds), another is refused at once.
	h.srv.backupMu.Lock()
	var refused struct {
		Code string `json:"error"`
	}
	h.call("POST", "/api/v1/admin/backup", accountKey, "", 409, &refused)
	h.srv.backupMu.Unlock()
	if refused.Code != "backup_in_progress" {
		t.Fatalf("409 code %q", refused.Code)
	}

	// The clock stands still: two backups of one second get two names.
	var first, second maintenance.BackupSummary
	h.call("POST", "/api/v1/admin/backup", accountKey, "", 201, &first)
	h.call("POST", "/api/v1/admin/backup", accountKey, "", 201, &second)
	if second.Path != first.Path+"-2" || !first.IntegrityOK || !second.IntegrityOK {
		t.Fatalf("backups %+v and %+v", first, second)
	}

	// Real concurrent requests: never two backups at once, never none.
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = post(h.srv.Addr, "/api/v1/admin/backup", accountKey, "")
		}()
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 409:
		default:
			t.Fatalf("concurrent backups answered %v", codes)
		}
	}
	if created == 0 {
		t.Fatalf("concurrent backups answered %v", codes)
	}

	// After shutdown the store is closed: no backup starts.
	srv := h.srv
	h.stop()
	if _, err := srv.Backup(context.Background()); !errors.Is(err, errStoreClosed) {
		t.Fatalf("backup after shutdown: %v", err)
	}
}
