// Command invoicebench is invoiced's load benchmark: it drives the API of a
// server it starts in-process on a temporary data dir (the default) or of
// a running one (-url, -account-key), with -conns connections for a
// -duration or a number of -requests, closed-loop or at a constant -rate,
// and measures in the same run a trivial httprouter handler and raw synced
// Pebble batches as baselines. The event scenarios (payments, expiry,
// restart, webhooks) each start a server of their own in-process and time
// how long the engine takes to work through a block of payments, a wave of
// expiries, a restart or a burst of webhooks. See -help and package bench.
//
//	go run ./cmd/invoicebench -scenario create,get -conns 64 -duration 10s
//	go run ./cmd/invoicebench -scenario events
//
// Ctrl-C stops the run and still reports what was measured; a second Ctrl-C
// quits at once.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/invoiced/invoiced/bench"
	"github.com/invoiced/invoiced/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The in-process server runs with the Ps invoiced would give itself,
	// so the bench measures the engine as deployed (see server.TuneProcs).
	server.TuneProcs(os.Getenv)
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stop() // a second Ctrl-C kills the process
			fmt.Fprintln(os.Stderr, "invoicebench: interrupted: finishing in-flight requests, then reporting (Ctrl-C again to quit)")
		case <-finished: // the deferred stop must not read as an interrupt
		}
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	close(finished)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "invoicebench:", err)
		os.Exit(1)
	}
}

// options is the command line beyond bench.Config.
type options struct {
	cfg                                    bench.Config
	json                                   bool
	report                                 string
	cpuProfile, blockProfile, mutexProfile string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("invoicebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	scenario := fs.String("scenario", "requests", "comma-separated scenarios and groups: requests (create,get,list,mixed), events (restart,payments,expiry,webhooks), all; storm runs only when named")
	fs.IntVar(&o.cfg.Shape.Conns, "conns", 64, "connections (one worker each)")
	fs.DurationVar(&o.cfg.Shape.Duration, "duration", 10*time.Second, "length of each measured phase (baselines and scenarios)")
	fs.Int64Var(&o.cfg.Shape.Requests, "requests", 0, "requests per measured phase instead of -duration")
	fs.Float64Var(&o.cfg.Shape.Rate, "rate", 0, "open loop: requests per second in all, latency measured from each request's intended send time (0 = closed loop)")
	fs.DurationVar(&o.cfg.Shape.Warmup, "warmup", 2*time.Second, "unmeasured load before each phase")
	fs.IntVar(&o.cfg.Invoices, "invoices", 2000, "invoices created before get, list and mixed")
	fs.StringVar(&o.cfg.URL, "url", "", "drive a running server at this base URL (default: start one in-process)")
	fs.StringVar(&o.cfg.AccountKey, "account-key", "", "account key of the -url server, to create the run's project")
	fs.StringVar(&o.cfg.DataDir, "data-dir", "", "directory for the run's temporary store and the Pebble baseline (default: the system temp dir)")
	fs.BoolVar(&o.cfg.Baseline, "baseline", true, "measure the trivial-handler and raw-Pebble baselines first")
	fs.DurationVar(&o.cfg.Timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.BoolVar(&o.json, "json", false, "write the report as JSON on stdout (the table goes to stderr)")
	fs.StringVar(&o.report, "report", "", "write a report with throughput and latency over time to this .svg or .html file")
	o.cfg.Events = bench.DefaultEventConfig()
	ev := &o.cfg.Events
	fs.IntVar(&ev.BlockOutputs, "block-outputs", ev.BlockOutputs, "payments: invoices each block pays (one output each)")
	fs.IntVar(&ev.Watched, "watched", ev.Watched, "payments: more invoices created unpaid first, so blocks are matched against block-outputs×blocks+watched addresses (see -help)")
	fs.IntVar(&ev.Blocks, "blocks", ev.Blocks, "payments: blocks mined, one at a time")
	fs.BoolVar(&ev.Cold, "cold", ev.Cold, "payments: let every invoice actor passivate before paying (as when a block comes minutes after checkout)")
	fs.IntVar(&ev.ExpiryInvoices, "expiry-invoices", ev.ExpiryInvoices, "expiry: invoices expiring at the same instant")
	fs.IntVar(&ev.StormInvoices, "storm-invoices", ev.StormInvoices, "storm: invoices expiring at the same instant, their webhooks failing")
	fs.StringVar(&ev.StormReceiver, "storm-receiver", ev.StormReceiver, "storm: the failing receiver, dead (connection refused) or slow (answers after 9 s)")
	fs.IntVar(&ev.RestartInvoices, "restart-invoices", ev.RestartInvoices, "restart: invoices on disk when the server restarts")
	fs.IntVar(&ev.WebhookInvoices, "webhook-invoices", ev.WebhookInvoices, "webhooks: invoices cancelled, one webhook each")
	fs.DurationVar(&ev.Settle, "settle", ev.Settle, "event scenarios: how long to wait for payments, expiries, readiness or deliveries before counting the rest as errors")
	ltcURL := fs.String("ltc-rpc-url", "", "payments: pay LTC invoices on this litecoind -regtest (its wallet pays, blocks are mined there) instead of BTC on the dev chain")
	ltcCookie := fs.String("ltc-rpc-cookie", "", "payments: the litecoind's cookie file (<datadir>/regtest/.cookie)")
	ltcWallet := fs.String("ltc-wallet", "", "payments: the litecoind wallet that pays (empty: the default wallet)")
	quiet := fs.Bool("quiet", false, "no per-second progress on stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (client, baselines and in-process server) to this file")
	fs.StringVar(&o.blockProfile, "blockprofile", "", "write a profile of where goroutines waited (channels, locks, I/O) to this file")
	fs.StringVar(&o.mutexProfile, "mutexprofile", "", "write a profile of mutex contention to this file")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *ltcURL != "" || *ltcCookie != "" {
		o.cfg.Litecoin = &bench.LitecoinNode{URL: *ltcURL, Cookie: *ltcCookie, Wallet: *ltcWallet}
	}
	var err error
	if o.cfg.Scenarios, err = bench.LookupScenarios(*scenario); err != nil {
		return options{}, err
	}
	if o.report != "" {
		switch strings.ToLower(filepath.Ext(o.report)) {
		case ".svg", ".html", ".htm":
		default:
			return options{}, fmt.Errorf("-report %q: want a .svg or .html file", o.report)
		}
	}
	if !*quiet {
		o.cfg.Progress = stderr
	}
	return o, nil
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: invoicebench [flags]\n\nflags:\n")
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nrequest scenarios (group \"requests\", the default; -conns, -duration or -requests, -rate, -warmup):\n")
	for _, s := range bench.Scenarios() {
		if !s.Event() {
			fmt.Fprintf(w, "  %-9s %s\n", s.Name, s.Help)
		}
	}
	fmt.Fprintf(w, "\nevent scenarios (group \"events\"; each on a fresh server of its own; -conns bounds their setup requests):\n")
	for _, s := range bench.Scenarios() {
		if s.Event() {
			where := "in-process only"
			if !s.InProcess {
				where = "in-process, or -url"
			}
			fmt.Fprintf(w, "  %-9s (%s) %s\n", s.Name, where, s.Help)
		}
	}
	fmt.Fprintf(w, `
payments and the target's 1,000,000 watched addresses: the server has no way to
watch an address without an invoice, so -watched N creates N more unpaid invoices
through the API (3,000-4,000 creates/s on 2 cores: -watched 990000 is 5 minutes or
more of setup). A create spawns no invoice actor; -cold also waits until any actor
something else woke has passivated. For the block match alone at 1,000,000 addresses
(watch entries added directly, no invoices), see BenchmarkBlockMatch in package
actors:
  go run ./cmd/invoicebench -scenario payments -blocks 1 -watched 990000 -cold
`)
}

// writeProfile writes the named runtime profile to path.
func writeProfile(name, path string, stderr io.Writer) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "invoicebench: %s profile: %v\n", name, err)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.blockProfile != "" {
		runtime.SetBlockProfileRate(1)
		defer writeProfile("block", o.blockProfile, stderr)
	}
	if o.mutexProfile != "" {
		runtime.SetMutexProfileFraction(1)
		defer writeProfile("mutex", o.mutexProfile, stderr)
	}
	rep, err := bench.Run(ctx, o.cfg)
	if err != nil {
		return err
	}
	if o.report != "" {
		if err := bench.WriteReportFile(o.report, rep); err != nil {
			return err
		}
	}
	tableOut := stdout
	if o.json {
		tableOut = stderr
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
	}
	if err := bench.WriteTable(tableOut, rep); err != nil {
		return err
	}
	if o.report != "" {
		fmt.Fprintf(stderr, "report written to %s\n", o.report)
	}
	return nil
}
