// Backups: a checked copy of a data dir: the store as a Pebble
// checkpoint in store/, the data dir's other files (account.key, the dev
// chains' devchain-*.json) beside it, and then an integrity check of the
// copy, so a backup that reports success is known to open and to be
// consistent. `invoiced backup` writes one of a stopped server's data dir;
// a running server writes one of its own into <data dir>/backups through
// POST /api/v1/admin/backup.
//
// The copy is a complete data dir: to restore, stop the server and put the
// backup in place of the data dir (or point INVOICED_DATA_DIR at it).

package maintenance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/invoiced/invoiced/persistence"
)

// ErrBackupInProgress is the answer to a backup asked for while another of the
// same data dir is being written.
var ErrBackupInProgress = errors.New("a backup is already being written")

// BackupDirName is the folder of a data dir that online backups are written to.
const BackupDirName = "backups"

// nameLayout names an online backup by its UTC start time.
const nameLayout = "20060102T150405Z"

// BackupResult is a written backup.
type BackupResult struct {
	// Path is the backup's directory.
	Path string
	// Files and Bytes count the regular files in it and their sizes
	// (sstables hard-linked from the live store count in full, though they
	// share its disk blocks until a compaction deletes them there).
	Files int
	Bytes int64
	// Report is the integrity check of the copy. Problems in it are the
	// data dir's own (a checkpoint copies what is there): the backup is
	// still written, and `invoiced check` on the data dir tells more.
	Report   persistence.CheckReport
	Duration time.Duration
}

// BackupSummary is a BackupResult as the backup route answers it and `invoiced backup`
// reads it.
type BackupSummary struct {
	Path        string `json:"path"`
	Bytes       int64  `json:"bytes"`
	Files       int    `json:"files"`
	Invoices    int    `json:"invoices"`
	IntegrityOK bool   `json:"integrity_ok"`
	Problems    int    `json:"problems"`
	DurationMS  int64  `json:"duration_ms"`
}

// Summary is r in its answer form.
func (r BackupResult) Summary() BackupSummary {
	return BackupSummary{
		Path: r.Path, Bytes: r.Bytes, Files: r.Files, Invoices: r.Report.Streams,
		IntegrityOK: r.Report.OK(), Problems: len(r.Report.Problems), DurationMS: r.Duration.Milliseconds(),
	}
}

// WriteBackup copies the data dir dataDir, whose store is store, into dst, which
// must not exist yet (missing parents are created), and checks the copy
// with check (its Repair is ignored). store may be serving: the checkpoint
// holds every commit acknowledged before the call, and whole batches only.
// On an error the partial copy is removed.
func WriteBackup(store *persistence.Store, dataDir, dst string, check CheckConfig) (BackupResult, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return BackupResult{}, fmt.Errorf("backup: %s already exists", dst)
		}
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	return fill(store, dataDir, dst, check)
}

// OnlineBackup writes a backup of the data dir dataDir of a serving store into
// dataDir/backups/<now in UTC, e.g. 20261124T235501Z>, with a suffix (-2,
// -3, ...) when a backup of that second exists; BackupResult.Path is absolute.
// The backup shares the data dir's filesystem (the checkpoint hard-links
// sstables): copy it elsewhere to survive the loss of the disk. The caller
// runs one at a time.
func OnlineBackup(store *persistence.Store, dataDir string, now time.Time, check CheckConfig) (BackupResult, error) {
	parent, err := filepath.Abs(filepath.Join(dataDir, BackupDirName)) // the answer names it to an operator elsewhere
	if err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return BackupResult{}, fmt.Errorf("backup: %w", err)
	}
	name := now.UTC().Format(nameLayout)
	dst := filepath.Join(parent, name)
	for n := 2; ; n++ {
		err := os.Mkdir(dst, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || n > 1000 {
			return BackupResult{}, fmt.Errorf("backup: %w", err)
		}
		dst = filepath.Join(parent, fmt.Sprintf("%s-%d", name, n))
	}
	return fill(store, dataDir, dst, check)
}

// fill writes the backup into the empty directory dst and checks it.
func fill(store *persistence.Store, dataDir, dst string, check CheckConfig) (res BackupResult, err error) {
	start := time.Now()
	res.Path = dst
	defer func() {
		if err != nil {
			os.RemoveAll(dst) // a partial copy is no backup
		}
	}()
	// The directory entry of dst must outlive a crash like its contents.
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	// The store first, then the files: the dev chains only grow (or
	// reorganise, which the monitors follow), so the copied chains hold
	// every block the checkpoint's cursors point at.
	if err := store.Checkpoint(filepath.Join(dst, "store")); err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	if err := copyDataFiles(dataDir, dst); err != nil {
		return res, fmt.Errorf("backup: copy the data dir's files: %w", err)
	}
	// The copy is opened read-only: Pebble replays its WAL into memory as a
	// restore would, but writes nothing, so checking it adds no flush or
	// compaction I/O to a serving process's disk, and no Pebble failure
	// of its own that would stop that process. A small cache: a serving
	// process has its own.
	copied, err := persistence.Open(filepath.Join(dst, "store"), persistence.Options{CacheBytes: 8 << 20, ReadOnly: true})
	if err != nil {
		return res, fmt.Errorf("backup: the copy does not open: %w", err)
	}
	check.Repair = false
	res.Report, err = Check(copied, check)
	if cerr := copied.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the copy: %w", cerr)
	}
	if err != nil {
		return res, fmt.Errorf("backup: check the copy: %w", err)
	}
	if res.Files, res.Bytes, err = sizeOf(dst); err != nil {
		return res, fmt.Errorf("backup: %w", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}
