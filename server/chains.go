package server

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/bitcoin"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/chain/ethereum"
	"github.com/invoiced/invoiced/chain/hd"
)

// BitcoinNode is a node the server follows for BTC (bitcoind >= 0.21 or
// btcd) or LTC (litecoind), and the merchant's account-level extended
// public key of m/84'/coin'/0' (BIP84: zpub/xpub on mainnet, vpub/tpub on
// testnet and regtest; for LTC also Ltub/ttub) its deposit addresses come
// from. The server never holds a private key.
type BitcoinNode struct {
	URL, User, Password string
	// Cookie is the path of the node's RPC cookie file, instead of User
	// and Password; it is read again whenever the node refuses it.
	Cookie string
	Net    hd.Net
	XPub   string
}

// EthereumNode is an Ethereum JSON-RPC node the server follows for ETH
// and, when USDTContract is set, the USDT ERC-20 token; XPub is the
// account-level extended public key of m/44'/60'/0' (ETH deposit addresses
// are m/44'/60'/0'/0/i, USDT ones m/44'/60'/0'/1/i, so a payment is always
// attributable to one currency).
type EthereumNode struct {
	URL          string
	Net          string // network name for metrics and logs, e.g. "mainnet"
	XPub         string
	USDTContract string
}

// chains is what the server follows and derives addresses from.
type chains struct {
	nodes    []chain.Node
	derivers map[string]chain.Deriver
	// nets is the address format each currency's deriver uses.
	nets map[string]hd.Net
	dev  devNetwork
}

// buildChains connects the configured real nodes and, in dev mode, a dev
// chain for every other enabled currency. In prod mode a currency without a
// real node is disabled; no currency at all is a configuration error.
func buildChains(cfg Config, enabled []string) (chains, error) {
	c := chains{derivers: map[string]chain.Deriver{}, nets: map[string]hd.Net{}, dev: devNetwork{}}
	for _, u := range []struct {
		currency string
		node     *BitcoinNode
	}{{"BTC", cfg.Bitcoin}, {"LTC", cfg.Litecoin}} {
		if u.node == nil {
			continue
		}
		if err := c.addUTXO(u.currency, u.node); err != nil {
			return c, err
		}
	}
	if e := cfg.Ethereum; e != nil {
		eth, err := hd.NewEthereum(e.XPub, hd.BranchETH)
		if err != nil {
			return c, fmt.Errorf("ETH extended public key: %w", err)
		}
		ecfg := ethereum.Config{URL: e.URL, Net: "ethereum-" + e.Net, Native: "ETH"}
		c.derivers["ETH"], c.nets["ETH"] = eth, hd.Mainnet // Ethereum addresses have no network
		if e.USDTContract != "" {
			usdt, err := hd.NewEthereum(e.XPub, hd.BranchUSDT)
			if err != nil {
				return c, fmt.Errorf("USDT extended public key: %w", err)
			}
			ecfg.Tokens = []ethereum.Token{{Currency: "USDT", Contract: e.USDTContract}}
			c.derivers["USDT"], c.nets["USDT"] = usdt, hd.Mainnet
		}
		node, err := ethereum.New(ecfg)
		if err != nil {
			return c, fmt.Errorf("ETH node: %w", err)
		}
		c.nodes = append(c.nodes, node)
	}
	devDeriver := devchain.NewDeriver(devchain.DevSeed())
	for _, code := range enabled {
		if _, real := c.derivers[code]; real || cfg.Mode != "dev" {
			continue
		}
		ch, err := devchain.OpenChain(filepath.Join(cfg.DataDir, "devchain-"+strings.ToLower(code)+".json"), code, cfg.Clock.Now)
		if err != nil {
			return c, err
		}
		c.dev[code] = ch
		c.nodes = append(c.nodes, ch)
		c.derivers[code], c.nets[code] = devDeriver, hd.Regtest // the dev chain's formats
	}
	if len(c.derivers) == 0 {
		return c, fmt.Errorf("%s mode has no chain to watch: configure a node and the merchant's extended public key (e.g. INVOICED_BTC_RPC_URL and INVOICED_BTC_XPUB)", cfg.Mode)
	}
	return c, nil
}

// currencies lists the codes that have a chain, in enabled order.
func (c chains) currencies(enabled []string) []string {
	var out []string
	for _, code := range enabled {
		if _, ok := c.derivers[code]; ok {
			out = append(out, code)
		}
	}
	return out
}

// addressPattern is the wallet_pattern of code's addresses.
func (c chains) addressPattern(code string) (string, error) {
	return hd.AddressPattern(code, c.nets[code])
}

// addUTXO follows a Bitcoin-family node for currency (BTC or LTC): one
// adapter, parameterised by the currency's address encoding.
func (c *chains) addUTXO(currency string, b *BitcoinNode) error {
	d, err := hd.NewBIP84(currency, b.XPub, b.Net)
	if err != nil {
		return fmt.Errorf("%s extended public key: %w", currency, err)
	}
	params, name, err := bitcoin.NetParams(currency, b.Net)
	if err != nil {
		return err
	}
	node, err := bitcoin.New(bitcoin.Config{
		URL: b.URL, User: b.User, Password: b.Password, Cookie: b.Cookie,
		Currency: currency, Net: name, Params: params,
	})
	if err != nil {
		return fmt.Errorf("%s node: %w", currency, err)
	}
	c.derivers[currency], c.nets[currency] = d, b.Net
	c.nodes = append(c.nodes, node)
	return nil
}

// startAutoMine mines a block on every dev chain each interval.
func (c chains) autoMineAll(s *Server, interval time.Duration) {
	for _, ch := range c.dev {
		go ch.AutoMine(s.ctx, interval)
	}
}
