package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/invoiced/invoiced/chain/hd"
	"github.com/invoiced/invoiced/rates"
	"github.com/invoiced/invoiced/server"
)

func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
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

// serverConfig turns the command line into the server's configuration.
func serverConfig(cfg config, log *slog.Logger, stdout io.Writer) (server.Config, error) {
	overrides, err := rates.ParseOverrides(cfg.Rates)
	if err != nil {
		return server.Config{}, fmt.Errorf("-rates: %w", err)
	}
	btc, err := bitcoinNode("btc", cfg.BTC)
	if err != nil {
		return server.Config{}, err
	}
	ltc, err := bitcoinNode("ltc", cfg.LTC)
	if err != nil {
		return server.Config{}, err
	}
	var eth *server.EthereumNode
	if e := cfg.ETH; e != nil {
		eth = &server.EthereumNode{URL: e.URL, Net: e.Net, XPub: e.XPub, USDTContract: e.USDTContract}
	}
	sc := cfg.Config
	sc.RateOverrides, sc.Bitcoin, sc.Litecoin, sc.Ethereum = overrides, btc, ltc, eth
	sc.Logger, sc.Stdout = log, stdout
	return sc, nil
}

// bitcoinNode is the server's view of a BTC or LTC node setting (nil when
// not configured); prefix names the flags in errors.
func bitcoinNode(prefix string, b *btcConfig) (*server.BitcoinNode, error) {
	if b == nil {
		return nil, nil
	}
	net, err := hd.ParseNet(b.Net)
	if err != nil {
		return nil, fmt.Errorf("-%s-net: %w", prefix, err)
	}
	return &server.BitcoinNode{URL: b.URL, User: b.User, Password: b.Password, Cookie: b.Cookie, Net: net, XPub: b.XPub}, nil
}

// serve runs the server until ctx ends, then drains and shuts down. ready,
// if not nil, receives the bound address once the listener is up (tests).
func serve(ctx context.Context, cfg config, stderr, stdout io.Writer, ready chan<- string) error {
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	scfg, err := serverConfig(cfg, log, stdout)
	if err != nil {
		return err
	}
	srv, err := server.Start(scfg)
	if err != nil {
		return err
	}
	if ready != nil {
		ready <- srv.Addr
	}
	select {
	case err := <-srv.Served():
		srv.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}

// createAccount is `invoiced account create`.
func createAccount(cfg config, stdout io.Writer) error {
	key, id, err := server.CreateAccount(cfg.DataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "account %s created; its key (shown once, stored only hashed):\n%s\n", id, key)
	return nil
}
