package maintenance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/persistence"
)

// dataDir is a data dir with an open store holding one account, the files
// a dev server keeps beside it, a dev chain's half-written temp file and an
// earlier backup.
func dataDir(t *testing.T) (string, *persistence.Store, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := persistence.Open(filepath.Join(dir, "store"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	accts, err := accounts.New(store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := accts.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"account.key": "k\n", "devchain-btc.json": `{"blocks":[]}`, ".devchain-123": "{"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, BackupDirName, "20260101T000000Z"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, store, key
}

func TestWrite_CopiesStoreAndTopLevelFilesChecked(t *testing.T) {
	dir, store, key := dataDir(t)
	dst := filepath.Join(t.TempDir(), "nested", "copy")
	res, err := WriteBackup(store, dir, dst, CheckConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != dst || !res.Report.OK() || res.Files < 3 || res.Bytes <= 0 || res.Duration <= 0 {
		t.Fatalf("result %+v", res)
	}
	for name, want := range map[string]bool{"account.key": true, "devchain-btc.json": true, ".devchain-123": false, BackupDirName: false} {
		info, err := os.Stat(filepath.Join(dst, name))
		if got := err == nil; got != want {
			t.Fatalf("%s copied: %v, want %v", name, got, want)
		}
		if want && info.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want the original's 0600", name, info.Mode().Perm())
		}
	}
	copied, err := persistence.Open(filepath.Join(dst, "store"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer copied.Close()
	accts, err := accounts.New(copied, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := accts.Account(key); !ok {
		t.Fatal("the account is not in the copy")
	}
}

func TestWrite_RefusesAnExistingDirectory(t *testing.T) {
	dir, store, _ := dataDir(t)
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteBackup(store, dir, dst, CheckConfig{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("write over an existing directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "keep")); err != nil {
		t.Fatalf("the existing directory was touched: %v", err)
	}
}

func TestOnline_NamedByUTCSecondWithSuffix(t *testing.T) {
	dir, store, _ := dataDir(t)
	now := time.Date(2026, 11, 25, 0, 55, 1, 0, time.FixedZone("CET", 3600))
	var paths []string
	for range 3 {
		res, err := OnlineBackup(store, dir, now, CheckConfig{})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, res.Path)
	}
	base := filepath.Join(dir, BackupDirName, "20261124T235501Z")
	if want := []string{base, base + "-2", base + "-3"}; strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Fatalf("backups at %v, want %v", paths, want)
	}
}

func TestWrite_FailureLeavesNoPartialCopy(t *testing.T) {
	_, store, _ := dataDir(t)
	// The checkpoint succeeds; listing the data dir's files fails.
	dst := filepath.Join(t.TempDir(), "copy")
	if _, err := WriteBackup(store, filepath.Join(t.TempDir(), "gone"), dst, CheckConfig{}); err == nil {
		t.Fatal("backup without its data dir's files succeeded")
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a failed backup left %s: %v", dst, err)
	}
}

// TestMove_RenamesOrCopies: a backup moves by rename on one filesystem and
// by a synced copy when rename fails (another filesystem); either way the
// destination opens and checks like the original, and the source is gone.
func TestMove_RenamesOrCopies(t *testing.T) {
	for _, crossDevice := range []bool{false, true} {
		t.Run(fmt.Sprintf("cross device %v", crossDevice), func(t *testing.T) {
			dir, store, _ := dataDir(t)
			res, err := OnlineBackup(store, dir, time.Now(), CheckConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if crossDevice {
				rename = func(string, string) error { return &os.LinkError{Op: "rename", Err: syscall.EXDEV} }
				t.Cleanup(func() { rename = os.Rename })
			}
			dst := filepath.Join(t.TempDir(), "nested", "copy")
			if err := MoveBackup(res.Path, dst); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(res.Path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("source still there: %v", err)
			}
			files, bytes, err := sizeOf(dst)
			if err != nil || files != res.Files || bytes != res.Bytes {
				t.Fatalf("moved copy has %d files, %d bytes (%v); the backup had %d, %d", files, bytes, err, res.Files, res.Bytes)
			}
			copied, err := persistence.Open(filepath.Join(dst, "store"), persistence.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer copied.Close()
			if rep, err := Check(copied, CheckConfig{}); err != nil || !rep.OK() {
				t.Fatalf("moved copy: %v %+v", err, rep)
			}
			if err := MoveBackup(dst, dst); err == nil {
				t.Fatal("moved onto an existing directory")
			}
		})
	}
}

// TestMove_OtherRenameErrorsLeaveTheSource: only a cross-device rename
// falls back to copy-and-delete; any other failure is returned and the
// source stays.
func TestMove_OtherRenameErrorsLeaveTheSource(t *testing.T) {
	dir, store, _ := dataDir(t)
	res, err := OnlineBackup(store, dir, time.Now(), CheckConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rename = func(string, string) error { return &os.LinkError{Op: "rename", Err: syscall.EACCES} }
	t.Cleanup(func() { rename = os.Rename })
	dst := filepath.Join(t.TempDir(), "copy")
	if err := MoveBackup(res.Path, dst); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("move: %v, want the rename's EACCES", err)
	}
	if _, err := os.Stat(res.Path); err != nil {
		t.Fatalf("source gone after a failed rename: %v", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("destination written after a failed rename: %v", err)
	}
}
