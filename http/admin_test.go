package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
)

// fakeBackups answers the backup route with whatever next holds; the real
// backups are tested through the server (server/backup_test.go).
type fakeBackups struct {
	calls atomic.Int32
	next  atomic.Value // func() (maintenance.BackupResult, error)
}

func (f *fakeBackups) Backup(context.Context) (maintenance.BackupResult, error) {
	f.calls.Add(1)
	return f.next.Load().(func() (maintenance.BackupResult, error))()
}

func (f *fakeBackups) answer(res maintenance.BackupResult, err error) {
	f.next.Store(func() (maintenance.BackupResult, error) { return res, err })
}

func TestAdminBackup_AnswersAndErrorsMatchTheDocument(t *testing.T) {
	f := &fakeBackups{}
	e := newEnv(t, t.TempDir(), envOpts{backups: f})
	_, projectKey := e.project("shop", "")
	written := maintenance.BackupResult{Path: "/data/backups/20261124T235501Z", Files: 23, Bytes: 48213504,
		Report: persistence.CheckReport{Streams: 12}, Duration: 412 * time.Millisecond}
	damaged := written
	damaged.Report.Problems = []persistence.Problem{{}, {}}

	for _, tc := range []struct {
		name, key string
		res       maintenance.BackupResult
		err       error
		status    int
		code      string
		called    bool
	}{
		{"no key", "", written, nil, 401, "unauthorized", false},
		{"unknown key", "ff" + e.accountKey[2:], written, nil, 401, "unauthorized", false},
		{"project key", projectKey, written, nil, 403, "forbidden", false},
		{"written", e.accountKey, written, nil, 201, "", true},
		{"written with problems", e.accountKey, damaged, nil, 201, "", true},
		{"another running", e.accountKey, maintenance.BackupResult{}, maintenance.ErrBackupInProgress, 409, "backup_in_progress", true},
		{"failed", e.accountKey, maintenance.BackupResult{}, errors.New("checkpoint: no space left on device"), 500, "internal_error", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.answer(tc.res, tc.err)
			before := f.calls.Load()
			r := e.do("POST", "/api/v1/admin/backup", tc.key, "")
			if r.status != tc.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tc.status)
			}
			if called := f.calls.Load() != before; called != tc.called {
				t.Fatalf("backup called: %v, want %v", called, tc.called)
			}
			if tc.code != "" {
				if code, _ := r.errorField(t); code != tc.code {
					t.Fatalf("code %q, want %q: %s", code, tc.code, r.body)
				}
				return
			}
			var got struct {
				Path        string `json:"path"`
				Bytes       int64  `json:"bytes"`
				Files       int    `json:"files"`
				Invoices    int    `json:"invoices"`
				IntegrityOK bool   `json:"integrity_ok"`
				Problems    int    `json:"problems"`
				DurationMS  int64  `json:"duration_ms"`
			}
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Path != tc.res.Path || got.Bytes != tc.res.Bytes || got.Files != tc.res.Files || got.Invoices != 12 ||
				got.IntegrityOK != tc.res.Report.OK() || got.Problems != len(tc.res.Report.Problems) || got.DurationMS != 412 {
				t.Fatalf("answer %s for %+v", r.body, tc.res)
			}
		})
	}
	if r := e.do("GET", "/api/v1/admin/backup", e.accountKey, ""); r.status != 405 {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
}

func TestAdminBackup_RateLimitedPerAccountKey(t *testing.T) {
	f := &fakeBackups{}
	f.answer(maintenance.BackupResult{Path: "/data/backups/x"}, nil)
	e := newEnv(t, t.TempDir(), envOpts{backups: f, rateLimit: 0.01, rateBurst: 1})
	if r := e.do("POST", "/api/v1/admin/backup", e.accountKey, ""); r.status != 201 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/admin/backup", e.accountKey, ""); r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("second: %d %s", r.status, r.body)
	}
}

func TestAdminBackup_AbsentWithoutBackups(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	if r := e.do("POST", "/api/v1/admin/backup", e.accountKey, ""); r.status != 404 {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// TestAdminBackup_OutlastsTheWriteTimeout: a backup of a large store takes
// longer than the server's write timeout, and its answer still arrives.
func TestAdminBackup_OutlastsTheWriteTimeout(t *testing.T) {
	f := &fakeBackups{}
	f.next.Store(func() (maintenance.BackupResult, error) {
		time.Sleep(300 * time.Millisecond)
		return maintenance.BackupResult{Path: "/data/backups/slow"}, nil
	})
	e := newEnv(t, t.TempDir(), envOpts{backups: f})
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/admin/backup", nil)
	req.Header.Set("Api-Key", e.accountKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the answer did not arrive: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || !strings.Contains(string(b), "/data/backups/slow") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
