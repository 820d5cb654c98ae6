package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
	"github.com/invoiced/invoiced/webhooks"
)

// accountKeyFile is where dev mode keeps the generated account key.
const accountKeyFile = "account.key"

func newLogger(cfg config, w *os.File) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// serve runs the server until ctx ends, then drains and shuts down. ready,
// if not nil, receives the bound address once the listener is up (tests).
func serve(ctx context.Context, cfg config, stdout *os.File, ready chan<- string) error {
	log, err := newLogger(cfg, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.Mode == "prod" {
		// Deposit addresses in production come from the operator's extended
		// public keys, which the chain adapters will derive from; until they
		// are configured the only deriver is the dev one, whose addresses
		// nobody can spend. Refuse rather than hand those to customers.
		return errors.New("prod mode needs chain adapters with the operator's extended public keys, which this build does not have yet; run with INVOICED_MODE=dev")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	store, err := persistence.Open(filepath.Join(cfg.DataDir, "store"), persistence.Options{Logger: log.With("component", "pebble")})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer store.Close()

	accts, err := accounts.New(store, time.Now)
	if err != nil {
		return err
	}
	if err := bootstrapAccount(cfg, accts, stdout, log); err != nil {
		return err
	}

	overrides, err := rates.ParseOverrides(cfg.Rates)
	if err != nil {
		return fmt.Errorf("-rates: %w", err)
	}
	table := rates.DefaultStaticRates()
	for k, v := range overrides {
		table[k] = v
	}
	rateSource, err := rates.NewStatic(table, time.Now())
	if err != nil {
		return fmt.Errorf("-rates: %w", err)
	}

	rules := engine.DefaultRules()
	rules.DefaultExpireMin, rules.MaxExpireMin, rules.DefaultAllowedErrorPercent = cfg.DefaultExpireMin, cfg.MaxExpireMin, cfg.DefaultErrorPercent

	registry, err := actors.New(actors.Config{
		Store: store, Rules: rules, Deriver: devchain.NewDeriver(devchain.DevSeed()), Rates: rateSource,
		Now: time.Now, IdleTimeout: cfg.ActorIdle, Logger: log,
	})
	if err != nil {
		return err
	}
	defer registry.Shutdown()

	api := httpapi.New(httpapi.Config{
		Invoices: registry, Accounts: accts, Rules: rules, Rates: rateSource, Logger: log,
		TrustedProxies:  cfg.TrustedProxies,
		Webhooks:        webhooks.NewSender(webhooks.SenderOptions{AllowPrivate: cfg.AllowPrivateCallbacks}),
		SimulateEnabled: cfg.Mode == "dev" || cfg.EnableSimulate,
		Ready: func() error {
			if _, _, err := store.Snapshot(uuid.Nil); err != nil && !errors.Is(err, persistence.ErrNotFound) {
				return fmt.Errorf("store: %w", err)
			}
			return nil
		},
	})
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "invoiced (%s mode) listening on http://%s  (data in %s)\n", cfg.Mode, addr, cfg.DataDir)
	log.Info("listening", slog.String("addr", addr), slog.String("mode", cfg.Mode))
	if ready != nil {
		ready <- addr
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	api.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish in time", slog.Any("err", err))
	}
	log.Info("stopped")
	return nil
}

// bootstrapAccount makes sure an account exists to create projects with:
// the configured key's, or in dev mode one generated on first start, saved
// (0600) in the data dir and printed once.
func bootstrapAccount(cfg config, accts *accounts.Service, stdout *os.File, log *slog.Logger) error {
	if cfg.BootstrapAccountKey != "" {
		if _, err := accts.EnsureAccount(cfg.BootstrapAccountKey); err != nil {
			return fmt.Errorf("-bootstrap-account-key: %w", err)
		}
		log.Info("bootstrap account ready")
		return nil
	}
	if cfg.Mode != "dev" {
		return nil
	}
	path := filepath.Join(cfg.DataDir, accountKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if _, err := accts.EnsureAccount(strings.TrimSpace(string(b))); err != nil {
			return fmt.Errorf("account key in %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "dev account key: in %s\n", path)
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	key, _, err := accts.CreateAccount()
	if err != nil {
		return err
	}
	if err := writeFileSync(path, []byte(key+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dev account key (shown once, saved in %s): %s\n", path, key)
	return nil
}

// writeFileSync writes a new file durably.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// createAccount is `invoiced account create`: a new account whose key is
// printed once and stored only hashed.
func createAccount(cfg config, stdout *os.File) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	store, err := persistence.Open(filepath.Join(cfg.DataDir, "store"), persistence.Options{})
	if err != nil {
		return fmt.Errorf("open store (is a server running on this data dir?): %w", err)
	}
	defer store.Close()
	accts, err := accounts.New(store, time.Now)
	if err != nil {
		return err
	}
	key, a, err := accts.CreateAccount()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "account %s created; its key (shown once, stored only hashed):\n%s\n", a.ID, key)
	return nil
}
