// Command invoiced is the invoice engine's server.
//
//	invoiced [flags]                 serve the API (the default)
//	invoiced account create [flags]  create an account and print its key once
//	invoiced check [-repair] [flags] verify (and rebuild) indexes and counters from the event log
//	invoiced backup -to DIR [-account-key KEY] [flags]
//	                                 copy the data dir (a store checkpoint), checked; of a
//	                                 running server, through its backup route
//
// Every flag also reads an INVOICED_* environment variable; see -help.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/invoiced/invoiced/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	server.TuneProcs(os.Getenv)
	if err := run(ctx, os.Args[1:], defaultGetenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "invoiced:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand; it returns when the server has shut down.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) >= 2 && args[0] == "account" && args[1] == "create" {
		cfg, err := parseConfig(args[2:], getenv)
		if err != nil {
			return err
		}
		return createAccount(cfg, stdout)
	}
	if len(args) >= 1 && args[0] == "check" {
		return checkCommand(args[1:], getenv, stdout)
	}
	if len(args) >= 1 && args[0] == "backup" {
		return backupCommand(args[1:], getenv, stdout)
	}
	if len(args) >= 1 && args[0] == "serve" {
		args = args[1:]
	}
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stderr, stdout, nil)
}
