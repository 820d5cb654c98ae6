package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/invoiced/invoiced/backup"
	"github.com/invoiced/invoiced/integrity"
	"github.com/invoiced/invoiced/persistence"
)

// backupCommand is `invoiced backup -to DIR [flags]`: it writes a checked
// copy of a stopped server's data dir into DIR, which must not exist (see
// package backup).
//
// It opens the store itself, so the server must be stopped. A running
// server holds the store; it takes the backup itself on POST
// /api/v1/admin/backup (account key), into <data dir>/backups, and this
// command says so when it finds the store held.
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
	dir := filepath.Join(cfg.DataDir, "store")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("backup: no store in the data dir: %w", err)
	}
	store, err := persistence.Open(dir, persistence.Options{})
	if err != nil {
		return fmt.Errorf("backup: %w\n"+
			"If a server is running on this data dir, it holds the store: ask it for the backup instead\n"+
			"  curl -X POST http://%s/api/v1/admin/backup -H \"Api-key: $ACCOUNT_KEY\"\n"+
			"(it writes %s/<time>; copy that directory elsewhere)",
			err, cfg.Listen, filepath.Join(cfg.DataDir, backup.DirName))
	}
	res, err := backup.Write(store, cfg.DataDir, to, integrity.Config{WatchGrace: cfg.WatchGrace})
	if cerr := store.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("backup: close the store: %w", cerr)
	}
	if err != nil {
		return err
	}
	printReport(stdout, res.Report)
	if !res.Report.OK() {
		return fmt.Errorf("backup: the copy has %d problems (so has the data dir: run invoiced check)", len(res.Report.Problems))
	}
	fmt.Fprintf(stdout, "backup of %s written to %s: %d files, %d bytes, checked in %s\n",
		cfg.DataDir, res.Path, res.Files, res.Bytes, res.Duration.Round(time.Millisecond))
	return nil
}
