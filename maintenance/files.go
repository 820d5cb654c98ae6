package maintenance

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// copyDataFiles copies the regular files at the top of the data dir (not
// the store, which the checkpoint copies, nor earlier backups) into dst,
// each synced, then syncs dst. A serving data dir changes under it: dot
// files are skipped (the dev chains write .devchain-* and rename it over
// devchain-*.json, so the copy gets a whole chain file, old or new), and
// a file gone between listing and opening is skipped too.
func copyDataFiles(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
	}
	return syncDir(dst)
}

// copyFile copies src to the new file dst with src's permissions, synced.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}

// sizeOf counts the regular files under dir and adds up their sizes.
func sizeOf(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += info.Size()
		return nil
	})
	return files, bytes, err
}

// MoveBackup moves the backup directory src to dst, which must not exist, and
// makes the move durable: a rename when both are on one filesystem, and
// when the rename fails with EXDEV (another filesystem: a server's backups
// live in its data dir, and operators keep them on another disk) a synced
// copy of the tree followed by removing src. Any other rename error is
// returned, with src left alone. dst's parent directories are created.
func MoveBackup(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("move backup: %s already exists", dst)
	}
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("move backup: %w", err)
	}
	err := rename(src, dst)
	if err == nil {
		return errors.Join(syncDir(parent), syncDir(filepath.Dir(src)))
	}
	if !errors.Is(err, syscall.EXDEV) {
		return fmt.Errorf("move backup: %w", err)
	}
	if err := copyTree(src, dst); err != nil {
		_ = os.RemoveAll(dst)
		return fmt.Errorf("move backup %s to %s: %w", src, dst, err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("move backup: %w", err)
	}
	if err := os.RemoveAll(src); err != nil {
		return fmt.Errorf("move backup: copied to %s, but removing %s failed: %w", dst, src, err)
	}
	return nil
}

// rename is os.Rename; tests replace it to take the copying path, as a
// move to another filesystem does (EXDEV).
var rename = os.Rename

// copyTree copies the directory src to the new directory dst: every
// directory and regular file, files synced, then each directory synced.
func copyTree(src, dst string) error {
	var dirs []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			dirs = append(dirs, target)
			return os.Mkdir(target, 0o700)
		case d.Type().IsRegular():
			return copyFile(path, target)
		default:
			return fmt.Errorf("%s is neither a file nor a directory", path)
		}
	})
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}
