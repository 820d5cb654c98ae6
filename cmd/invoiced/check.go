package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
)

// checkCommand is `invoiced check [-repair] [flags]`: it verifies the list
// indexes, counters, expiry schedule and watch list of the store in the
// data dir against the invoices' event logs, and with -repair rebuilds what
// differs. It opens the store itself, so the server must be stopped
// (Pebble allows one process per directory). It fails when problems remain.
func checkCommand(args []string, getenv func(string) string, stdout io.Writer) error {
	extra, rest, err := takeFlags(args, map[string]bool{"repair": true})
	if err != nil {
		return err
	}
	cfg, err := parseConfig(rest, getenv)
	if err != nil {
		return err
	}
	repair := extra["repair"] == "true"
	store, err := openStopped(cfg.DataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, after, err := maintenance.CheckAndRepair(store, maintenance.CheckConfig{WatchGrace: cfg.WatchGrace, Repair: repair})
	if err != nil {
		return err
	}
	printReport(stdout, rep)
	if rep.OK() {
		return nil
	}
	if !repair {
		return fmt.Errorf("check: %d problems; `invoiced check -repair` rebuilds indexes, counters and schedules from the event log", len(rep.Problems))
	}
	fmt.Fprintf(stdout, "repaired %d keys; a second check finds %d problems\n", rep.Repaired, len(after.Problems))
	if !after.OK() {
		printReport(stdout, after)
		return fmt.Errorf("check: %d problems left after repair (streams whose events do not replay need a person)", len(after.Problems))
	}
	return nil
}

func printReport(w io.Writer, rep persistence.CheckReport) {
	fmt.Fprintf(w, "checked %d invoices (%d events), %d index keys, %d counters, %d expiries, %d watches, %d address claims: %d problems\n",
		rep.Streams, rep.Events, rep.IndexKeys, rep.Counters, rep.Expiries, rep.Watches, rep.Claims, len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "  "+p.String())
	}
}

// openStopped opens the store of a data dir that no server is using. A
// data dir without a store is an error (Open would create an empty one,
// and a mistyped -data-dir would then check or back up nothing); a store
// a server holds is persistence.ErrLocked.
func openStopped(dataDir string) (*persistence.Store, error) {
	dir := filepath.Join(dataDir, "store")
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("no store in the data dir %s: %w", dataDir, err)
	}
	store, err := persistence.Open(dir, persistence.Options{})
	if errors.Is(err, persistence.ErrLocked) {
		return nil, fmt.Errorf("open store %s (is a server running on this data dir? stop it first): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	return store, nil
}

// takeFlags removes the named subcommand flags from args (-name, --name,
// -name=value, and -name value for non-boolean ones) and returns their
// values and the remaining args for parseConfig. bools maps each name to
// whether it is boolean.
func takeFlags(args []string, bools map[string]bool) (map[string]string, []string, error) {
	vals := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		isBool, ok := bools[name]
		if !ok || !strings.HasPrefix(args[i], "-") {
			rest = append(rest, args[i])
			continue
		}
		switch {
		case hasValue:
		case isBool:
			value = "true"
		case i+1 < len(args):
			i++
			value = args[i]
		default:
			return nil, nil, fmt.Errorf("flag -%s needs a value", name)
		}
		vals[name] = value
	}
	return vals, rest, nil
}
