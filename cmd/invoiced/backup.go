package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/server"
)

// backupCommand is `invoiced backup -to DIR [flags]`: it writes a checked
// copy of the data dir into DIR, which must not exist (see package backup).
//
// On a stopped server it opens the store itself. A running server holds the
// store; then the command asks the server for the backup (POST
// /api/v1/admin/backup on the -listen address, with the account key from
// -account-key, INVOICED_ACCOUNT_KEY, the bootstrap key or the dev data
// dir's account.key), which writes it into <data dir>/backups while it
// keeps serving, and moves it to DIR.
//
// Restore: stop the server, move the data dir away, and put the backup in
// its place (or point INVOICED_DATA_DIR at it), then start the server. The
// copy is a complete data dir; `invoiced check` verifies it first if in
// doubt.
func backupCommand(args []string, getenv func(string) string, stdout io.Writer) error {
	extra, rest, err := takeFlags(args, map[string]bool{"to": false, "account-key": false})
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
	if err != nil && !errors.Is(err, persistence.ErrLocked) {
		return fmt.Errorf("backup: %w", err)
	}
	if err != nil {
		key := accountKeyFor(extra["account-key"], getenv, cfg)
		if key == "" {
			return fmt.Errorf("backup: %w\n"+
				"If a server is running on this data dir, it holds the store: give this command the account key\n"+
				"(-account-key or INVOICED_ACCOUNT_KEY) to have the server write the backup, or ask it directly:\n"+
				"  curl -X POST http://%s/api/v1/admin/backup -H \"Api-key: $ACCOUNT_KEY\"\n"+
				"(it writes %s/<time>; copy that directory elsewhere)",
				err, localAddr(cfg.Listen), filepath.Join(cfg.DataDir, maintenance.BackupDirName))
		}
		if oerr := onlineBackup(localAddr(cfg.Listen), key, cfg.DataDir, to, stdout); oerr != nil {
			return fmt.Errorf("backup: the store is held (%v), and the running server's backup failed: %w", err, oerr)
		}
		return nil
	}
	res, err := maintenance.WriteBackup(store, cfg.DataDir, to, maintenance.CheckConfig{WatchGrace: cfg.WatchGrace})
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

// accountKeyFor is the account key the online backup authenticates with:
// the flag, INVOICED_ACCOUNT_KEY, the configured bootstrap key, or the key
// a dev server saved in its data dir; "" if none.
func accountKeyFor(flag string, getenv func(string) string, cfg config) string {
	for _, k := range []string{flag, getenv("INVOICED_ACCOUNT_KEY"), cfg.BootstrapAccountKey} {
		if k != "" {
			return k
		}
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, server.AccountKeyFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// localAddr turns a listen address into one to dial on this machine
// (":8080" and "0.0.0.0:8080" listen on every interface, loopback included).
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// onlineBackup asks the server at addr for a backup, then moves the
// directory it wrote to to, provided that directory is in dataDir's
// backups folder: the server at addr might not be the one holding dataDir,
// and a path from its answer is not ours to move otherwise.
func onlineBackup(addr, key, dataDir, to string, stdout io.Writer) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/admin/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Api-key", key)
	resp, err := (&http.Client{Timeout: time.Hour}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST http://%s/api/v1/admin/backup: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	var res maintenance.BackupSummary
	if err := json.Unmarshal(body, &res); err != nil {
		return fmt.Errorf("answer %q: %w", body, err)
	}
	if !inDir(res.Path, filepath.Join(dataDir, maintenance.BackupDirName)) {
		return fmt.Errorf("the server at %s wrote its backup to %s, which is not in %s: it serves another data dir (set -listen to the server of this one); its backup is left where it is",
			addr, res.Path, filepath.Join(dataDir, maintenance.BackupDirName))
	}
	if !res.IntegrityOK {
		return fmt.Errorf("the server wrote %s, but its check found %d problems (so has the data dir: run invoiced check on it while stopped)", res.Path, res.Problems)
	}
	if err := maintenance.MoveBackup(res.Path, to); err != nil {
		return fmt.Errorf("the server wrote and checked %s, but moving it failed (copy it yourself): %w", res.Path, err)
	}
	fmt.Fprintf(stdout, "backup written by the running server and moved to %s: %d files, %d bytes, 0 problems, checked in %dms\n",
		to, res.Files, res.Bytes, res.DurationMS)
	return nil
}

// inDir reports whether path is an entry of the directory dir (compared by
// file identity, so relative paths and symlinks agree).
func inDir(path, dir string) bool {
	a, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return false
	}
	b, err := os.Stat(dir)
	return err == nil && os.SameFile(a, b)
}
