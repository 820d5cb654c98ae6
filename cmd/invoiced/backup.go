package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/invoiced/invoiced/integrity"
	"github.com/invoiced/invoiced/persistence"
)

// backupCommand is `invoiced backup -to DIR [flags]`: it writes a copy of
// the data dir into DIR (which must not exist): the store as a Pebble
// checkpoint in DIR/store, and the data dir's other files (the dev
// account.key, the dev chains' devchain-*.json) beside it. It then opens the
// copy and runs the integrity check on it, so a backup that reports success
// is known to open and to be consistent.
//
// It opens the store itself, so the server must be stopped; a running
// server takes consistent backups through persistence.Store.Checkpoint.
//
// Restore: stop the server, move the data dir away, and put the backup in
// its place (or point INVOICED_DATA_DIR at it), then start the server. The
// copy is a complete data dir; `invoiced check` verifies it first if in
// doubt.
func backupCommand(args []string, getenv func(string) string, stdout io.Writer) error {
	extra, rest, err := takeFlags(args, map[string]bool{"to": false})
	if err != nil {
		return err
	}
	to := extra["to"]
	if to == "" {
		return errors.New("backup: -to DIR is required (a directory that does not exist yet)")
	}
	cfg, err := parseConfig(rest, getenv)
	if err != nil {
		return err
	}
	if _, err := os.Stat(to); err == nil {
		return fmt.Errorf("backup: %s already exists", to)
	}
	store, err := openStopped(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		store.Close()
		return fmt.Errorf("backup: %w", err)
	}
	err = store.Checkpoint(filepath.Join(to, "store"))
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	copied, err := copyDataFiles(cfg.DataDir, to)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	verify, err := persistence.Open(filepath.Join(to, "store"), persistence.Options{})
	if err != nil {
		return fmt.Errorf("backup: the copy does not open: %w", err)
	}
	defer verify.Close()
	rep, err := integrity.Check(verify, integrity.Config{WatchGrace: cfg.WatchGrace})
	if err != nil {
		return fmt.Errorf("backup: check the copy: %w", err)
	}
	printReport(stdout, rep)
	if !rep.OK() {
		return fmt.Errorf("backup: the copy has %d problems (so has the data dir: run invoiced check)", len(rep.Problems))
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (store checkpoint and %d other files)\n", cfg.DataDir, to, copied)
	return nil
}

// copyDataFiles copies the regular files at the top of the data dir (not
// the store, which the checkpoint copies) into dst, synced.
func copyDataFiles(src, dst string) (int, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return n, err
		}
		n++
	}
	d, err := os.Open(dst)
	if err != nil {
		return n, err
	}
	defer d.Close()
	return n, d.Sync()
}

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
