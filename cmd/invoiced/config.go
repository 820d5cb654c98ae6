package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/invoiced/invoiced/actors/chainwatch"
	"github.com/invoiced/invoiced/actors/expiry"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/http/checkout"
	"github.com/invoiced/invoiced/internal/admission"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/server"
)

// config is every setting of the server, read once from flags and
// INVOICED_* environment variables (a flag wins over its variable). The
// server's own settings are its Config, embedded, so they are parsed into
// place rather than copied; the fields here are what the command line
// spells differently (rates, nodes) or uses itself (logging, shutdown).
type config struct {
	server.Config
	LogFormat       string // text or json
	LogLevel        string
	Rates           string // static rate overrides, "BTC=61000,ETH=3100"
	BTC             *btcConfig
	LTC             *btcConfig
	ETH             *ethConfig
	ShutdownTimeout time.Duration
}

// btcConfig is a Bitcoin-family node (BTC or LTC) and the merchant's
// extended public key.
type btcConfig struct {
	URL, User, Password, Cookie, Net, XPub string
}

// ethConfig is the Ethereum node, the merchant's extended public key and
// the USDT contract.
type ethConfig struct {
	URL, Net, XPub, USDTContract string
}

// setting is one flag with its environment variable and help text, listed
// once so the README's table and -help cannot drift apart.
type setting struct {
	flag, env, def, help string
}

var settings = []setting{
	{"listen", "INVOICED_LISTEN", "127.0.0.1:8080", "address to serve the API on"},
	{"data-dir", "INVOICED_DATA_DIR", "./data", "directory of the Pebble store and the dev account key"},
	{"mode", "INVOICED_MODE", "dev", "dev (built-in dev chain, generated account key) or prod"},
	{"bootstrap-account-key", "INVOICED_BOOTSTRAP_ACCOUNT_KEY", "", "64-hex account key that must exist (dev: generated and saved if empty)"},
	{"log-format", "INVOICED_LOG_FORMAT", "", "text or json (default: text in dev, json in prod)"},
	{"log-level", "INVOICED_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"default-expire-min", "INVOICED_DEFAULT_EXPIRE_MIN", "30", "expire_min of invoices that give none"},
	{"max-expire-min", "INVOICED_MAX_EXPIRE_MIN", "43200", "largest expire_min accepted (30 days)"},
	{"default-allowed-error-percent", "INVOICED_DEFAULT_ALLOWED_ERROR_PERCENT", "0", "allowed_error_percent of invoices that give none"},
	{"rates", "INVOICED_RATES", "", "static EUR rates: over the defaults offline, pinned pairs with providers, e.g. BTC=61000.50,ETH=3100"},
	{"rate-providers", "INVOICED_RATE_PROVIDERS", "", "exchange-rate providers: kraken,coingecko,bitstamp (empty = offline static table)"},
	{"rate-interval", "INVOICED_RATE_INTERVAL", "1m", "how often providers are polled"},
	{"rate-staleness", "INVOICED_RATE_STALENESS", "5m", "how old a rate may be; fiat invoices get 503 beyond it"},
	{"currencies", "INVOICED_CURRENCIES", "BTC,ETH,LTC,USDT", "enabled currencies"},
	{"confirmations", "INVOICED_CONFIRMATIONS", "", "required confirmations per currency, e.g. BTC=2,LTC=6 (defaults BTC 2, LTC 6, ETH 12, USDT 12; 1 on the dev chain)"},
	{"max-amounts", "INVOICED_MAX_AMOUNTS", "", "largest invoice amount per currency in whole coins, below the built-in bounds (BTC 21000000, LTC 84000000, ETH 1000000000, USDT 1000000000000), e.g. BTC=10,ETH=300"},
	{"watch-grace", "INVOICED_WATCH_GRACE", "24h", "how long a final invoice's address stays watched for late payments and reorgs"},
	{"auto-mine", "INVOICED_AUTO_MINE", "", "dev mode: mine a dev chain block every interval, e.g. 10s (empty = only on POST /dev/mine)"},
	{"btc-rpc-url", "INVOICED_BTC_RPC_URL", "", "bitcoind/btcd JSON-RPC URL to follow for BTC"},
	{"btc-rpc-user", "INVOICED_BTC_RPC_USER", "", "BTC node RPC user"},
	{"btc-rpc-password", "INVOICED_BTC_RPC_PASSWORD", "", "BTC node RPC password (prefer the environment variable)"},
	{"btc-rpc-cookie", "INVOICED_BTC_RPC_COOKIE", "", "path of the BTC node's RPC cookie file (<datadir>/.cookie), instead of user and password; re-read when the node restarts"},
	{"btc-net", "INVOICED_BTC_NET", "mainnet", "BTC network: mainnet, testnet or regtest"},
	{"btc-xpub", "INVOICED_BTC_XPUB", "", "account-level extended public key for BTC deposit addresses (BIP84 zpub/xpub, vpub/tpub)"},
	{"ltc-rpc-url", "INVOICED_LTC_RPC_URL", "", "litecoind JSON-RPC URL to follow for LTC"},
	{"ltc-rpc-user", "INVOICED_LTC_RPC_USER", "", "LTC node RPC user"},
	{"ltc-rpc-password", "INVOICED_LTC_RPC_PASSWORD", "", "LTC node RPC password (prefer the environment variable)"},
	{"ltc-rpc-cookie", "INVOICED_LTC_RPC_COOKIE", "", "path of litecoind's RPC cookie file (<datadir>/.cookie), instead of user and password; re-read when the node restarts"},
	{"ltc-net", "INVOICED_LTC_NET", "mainnet", "LTC network: mainnet, testnet or regtest"},
	{"ltc-xpub", "INVOICED_LTC_XPUB", "", "account-level extended public key of m/84'/2'/0' for LTC deposit addresses (zpub/xpub/Ltub, vpub/tpub/ttub)"},
	{"eth-rpc-url", "INVOICED_ETH_RPC_URL", "", "Ethereum JSON-RPC URL to follow for ETH (and USDT)"},
	{"eth-net", "INVOICED_ETH_NET", "mainnet", "Ethereum network name for logs and metrics"},
	{"eth-xpub", "INVOICED_ETH_XPUB", "", "account-level extended public key of m/44'/60'/0' for ETH and USDT deposit addresses"},
	{"usdt-contract", "INVOICED_USDT_CONTRACT", "", "USDT ERC-20 contract address to follow (mainnet: 0xdAC17F958D2ee523a2206206994597C13D831ec7)"},
	{"actor-idle", "INVOICED_ACTOR_IDLE", "2m", "idle time after which an invoice actor leaves memory"},
	{"state-cache-mb", "INVOICED_STATE_CACHE_MB", strconv.Itoa(invoice.DefaultStateCacheBytes >> 20), "MiB of heap for the latest committed states of invoices recently written or read, kept for reads (about 700 bytes per invoice, twice that in RSS with GC headroom; 0 = none)"},
	{"render-cache-mb", "INVOICED_RENDER_CACHE_MB", strconv.Itoa(invoice.DefaultRenderCacheBytes >> 20), "MiB of heap for the API JSON of recently read invoices, which GETs and list pages copy instead of rendering again (about 1.3 KB per invoice; 0 = none)"},
	{"block-cache-mb", "INVOICED_BLOCK_CACHE_MB", strconv.Itoa(persistence.DefaultCacheBytes >> 20), "MiB of the store's block cache (off the Go heap): the store's blocks as read, so a GET or list page whose invoice is in neither cache above reads memory rather than the filesystem"},
	{"trusted-proxies", "INVOICED_TRUSTED_PROXIES", "", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is believed"},
	{"shutdown-timeout", "INVOICED_SHUTDOWN_TIMEOUT", "30s", "how long shutdown waits for in-flight requests"},
	{"rate-limit", "INVOICED_RATE_LIMIT", "50", "requests per second per API key, sustained (429 with Retry-After beyond; 0 = no limit)"},
	{"rate-burst", "INVOICED_RATE_BURST", "100", "requests per API key allowed at once above the rate"},
	{"max-concurrent", "INVOICED_MAX_CONCURRENT", "1024", "API requests in flight across all clients (503 beyond; 0 = no cap)"},
	{"allow-private-callbacks", "INVOICED_ALLOW_PRIVATE_CALLBACKS", "", "let callback URLs name and webhooks reach loopback/private addresses (empty = true in dev mode, where the receiver is on the developer's machine, false in prod)"},
	{"enable-simulate", "INVOICED_ENABLE_SIMULATE", "false", "serve POST /api/v1/webhooks/simulate in prod mode"},
	{"public-url", "INVOICED_PUBLIC_URL", "", "base URL customers reach this server at, for checkout_url and qrcode, e.g. https://pay.example.com (default: http:// and the listen address)"},
	{"checkout-frame-ancestors", "INVOICED_CHECKOUT_FRAME_ANCESTORS", "*", "who may frame the checkout page: * or space-separated origins such as https://shop.example ('none' = nobody)"},
	{"checkout-max-streams", "INVOICED_CHECKOUT_MAX_STREAMS", strconv.Itoa(checkout.DefaultMaxStreams), "live status streams of open checkout pages at most, in total (503 beyond: the page polls instead)"},
	{"checkout-max-streams-per-ip", "INVOICED_CHECKOUT_MAX_STREAMS_PER_IP", strconv.Itoa(checkout.DefaultMaxStreamsPerIP), "live status streams of one client IP at most (429 beyond); raise it when many customers share an IP (a shop's NAT, a proxy not in -trusted-proxies)"},
	{"explorers", "INVOICED_EXPLORERS", "", "block explorer transaction links on the checkout page, e.g. BTC=https://mempool.space/tx/{txid},ETH=https://etherscan.io/tx/{txid}"},
	{"chain-catchup-rate", "INVOICED_CHAIN_CATCHUP_RATE", strconv.Itoa(chainwatch.DefaultCatchUpRate), "blocks a chain monitor reads and matches per second beyond a burst of as many, while it catches up after downtime"},
	{"expiry-rate", "INVOICED_EXPIRY_RATE", strconv.Itoa(expiry.DefaultRate), "invoices expired per second at most: a mass expiry is spread out instead of taking the API's share"},
	{"expiry-workers", "INVOICED_EXPIRY_WORKERS", strconv.Itoa(expiry.DefaultWorkers), "expiries in flight at most, committed together as one group"},
	{"background-floor", "INVOICED_BACKGROUND_FLOOR", strconv.FormatFloat(admission.DefaultFloor, 'g', -1, 64), "least factor background rates (expiries) are multiplied by while the API needs the CPU or the store's compactions are behind, from 0.01 to 1 (1 = fixed rates)"},
	{"webhook-workers", "INVOICED_WEBHOOK_WORKERS", "32", "webhook attempts in flight at most (8 per destination host)"},
	{"pprof-listen", "INVOICED_PPROF_LISTEN", "", "serve net/http/pprof on this separate address, e.g. 127.0.0.1:6060 (empty = off; never expose it publicly)"},
}

// parseConfig reads args (without the program name) and the environment.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	fs := flag.NewFlagSet("invoiced", flag.ContinueOnError)
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		vals[s.flag] = fs.String(s.flag, def, s.help+" ("+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(name string) string { return strings.TrimSpace(*vals[name]) }
	c := config{LogFormat: get("log-format"), LogLevel: get("log-level"), Rates: get("rates")}
	c.Listen, c.DataDir, c.Mode = get("listen"), get("data-dir"), get("mode")
	c.BootstrapAccountKey, c.PprofListen = get("bootstrap-account-key"), get("pprof-listen")
	var err error
	if c.PublicURL, err = publicURL(get("public-url")); err != nil {
		return config{}, err
	}
	if c.CheckoutFrameAncestors, err = frameAncestors(get("checkout-frame-ancestors")); err != nil {
		return config{}, err
	}
	if c.Explorers, err = explorers(get("explorers")); err != nil {
		return config{}, err
	}
	intVal := func(name string, dst *int, lo, hi int) {
		if err != nil {
			return
		}
		n, e := strconv.Atoi(get(name))
		if e != nil || n < lo || n > hi {
			err = fmt.Errorf("-%s: want an integer from %d to %d, got %q", name, lo, hi, get(name))
		}
		*dst = n
	}
	durVal := func(name string, dst *time.Duration) {
		if err != nil {
			return
		}
		d, e := time.ParseDuration(get(name))
		if e != nil || d <= 0 {
			err = fmt.Errorf("-%s: want a positive duration such as 2m, got %q", name, get(name))
		}
		*dst = d
	}
	boolVal := func(name string, dst *bool) {
		if err != nil {
			return
		}
		b, e := strconv.ParseBool(get(name))
		if e != nil {
			err = fmt.Errorf("-%s: want true or false, got %q", name, get(name))
		}
		*dst = b
	}
	if get("allow-private-callbacks") == "" {
		c.AllowPrivateCallbacks = c.Mode == "dev"
	} else {
		boolVal("allow-private-callbacks", &c.AllowPrivateCallbacks)
	}
	boolVal("enable-simulate", &c.EnableSimulate)
	intVal("default-expire-min", &c.DefaultExpireMin, 1, 1<<20)
	intVal("rate-burst", &c.RateBurst, 1, 1<<20)
	intVal("max-concurrent", &c.MaxConcurrent, 0, 1<<20)
	var cacheMB int
	intVal("state-cache-mb", &cacheMB, 0, 1<<20)
	c.StateCacheBytes = int64(cacheMB) << 20
	intVal("render-cache-mb", &cacheMB, 0, 1<<20)
	c.RenderCacheBytes = int64(cacheMB) << 20
	intVal("block-cache-mb", &cacheMB, 1, 1<<20)
	c.BlockCacheBytes = int64(cacheMB) << 20
	if err == nil && getenv("INVOICED_STATE_CACHE") != "" {
		// It counted entries; a count read as MiB would be far off.
		err = errors.New("INVOICED_STATE_CACHE is replaced by INVOICED_STATE_CACHE_MB (a size in MiB, default " + strconv.Itoa(invoice.DefaultStateCacheBytes>>20) + ")")
	}
	intVal("expiry-rate", &c.ExpiryRate, 1, 1<<20)
	intVal("chain-catchup-rate", &c.ChainCatchUpRate, 1, 1<<20)
	intVal("expiry-workers", &c.ExpiryWorkers, 1, 1024)
	intVal("webhook-workers", &c.WebhookWorkers, 1, 4096)
	intVal("checkout-max-streams", &c.CheckoutMaxStreams, 1, 1<<20)
	intVal("checkout-max-streams-per-ip", &c.CheckoutMaxStreamsPerIP, 1, 1<<20)
	if err == nil {
		f, e := strconv.ParseFloat(get("background-floor"), 64)
		if e != nil || !(f >= 0.01 && f <= 1) {
			err = fmt.Errorf("-background-floor: want a factor from 0.01 to 1, got %q", get("background-floor"))
		}
		c.BackgroundFloor = f
	}
	if err == nil {
		r, e := strconv.ParseFloat(get("rate-limit"), 64)
		if e != nil || r < 0 || r > 1e6 {
			err = fmt.Errorf("-rate-limit: want requests per second from 0 to 1e6, got %q", get("rate-limit"))
		}
		c.RateLimit = r
	}
	intVal("max-expire-min", &c.MaxExpireMin, 1, 1<<20)
	intVal("default-allowed-error-percent", &c.DefaultErrorPercent, 0, 100)
	durVal("actor-idle", &c.ActorIdle)
	durVal("rate-interval", &c.RateInterval)
	durVal("rate-staleness", &c.RateStaleness)
	durVal("watch-grace", &c.WatchGrace)
	if v := get("auto-mine"); v != "" {
		durVal("auto-mine", &c.AutoMine)
	}
	durVal("shutdown-timeout", &c.ShutdownTimeout)
	if err != nil {
		return config{}, err
	}
	c.RateProviders = splitList(get("rate-providers"))
	c.Currencies = splitList(strings.ToUpper(get("currencies")))
	if v := get("confirmations"); v != "" {
		c.Confirmations = map[string]int{}
		for _, item := range splitList(v) {
			code, n, ok := strings.Cut(item, "=")
			conf, e := strconv.Atoi(strings.TrimSpace(n))
			if !ok || e != nil || conf < 0 {
				return config{}, fmt.Errorf("-confirmations: want CODE=N items, got %q", item)
			}
			c.Confirmations[strings.ToUpper(strings.TrimSpace(code))] = conf
		}
	}
	if v := get("max-amounts"); v != "" {
		c.MaxAmounts = map[string]string{}
		for _, item := range splitList(v) {
			code, amount, ok := strings.Cut(item, "=")
			if !ok || strings.TrimSpace(amount) == "" {
				return config{}, fmt.Errorf("-max-amounts: want CODE=AMOUNT items, got %q", item)
			}
			c.MaxAmounts[strings.ToUpper(strings.TrimSpace(code))] = strings.TrimSpace(amount)
		}
	}
	for _, u := range []struct {
		prefix string
		dst    **btcConfig
	}{{"btc", &c.BTC}, {"ltc", &c.LTC}} {
		url, xpub := get(u.prefix+"-rpc-url"), get(u.prefix+"-xpub")
		if url == "" && xpub == "" {
			continue
		}
		if url == "" || xpub == "" {
			return config{}, fmt.Errorf("-%s-rpc-url and -%s-xpub go together", u.prefix, u.prefix)
		}
		b := &btcConfig{URL: url, User: get(u.prefix + "-rpc-user"), Password: get(u.prefix + "-rpc-password"),
			Cookie: get(u.prefix + "-rpc-cookie"), Net: get(u.prefix + "-net"), XPub: xpub}
		if b.Cookie != "" && (b.User != "" || b.Password != "") {
			return config{}, fmt.Errorf("-%s-rpc-cookie and -%s-rpc-user/-password: configure one of them", u.prefix, u.prefix)
		}
		*u.dst = b
	}
	if url := get("eth-rpc-url"); url != "" || get("eth-xpub") != "" {
		if url == "" || get("eth-xpub") == "" {
			return config{}, fmt.Errorf("-eth-rpc-url and -eth-xpub go together")
		}
		c.ETH = &ethConfig{URL: url, Net: get("eth-net"), XPub: get("eth-xpub"), USDTContract: get("usdt-contract")}
	}
	if c.DefaultExpireMin > c.MaxExpireMin {
		return config{}, fmt.Errorf("-default-expire-min %d exceeds -max-expire-min %d", c.DefaultExpireMin, c.MaxExpireMin)
	}
	switch c.Mode {
	case "dev", "prod":
	default:
		return config{}, fmt.Errorf("-mode: want dev or prod, got %q", c.Mode)
	}
	if c.LogFormat == "" {
		c.LogFormat = map[string]string{"dev": "text", "prod": "json"}[c.Mode]
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return config{}, fmt.Errorf("-log-format: want text or json, got %q", c.LogFormat)
	}
	if tp := get("trusted-proxies"); tp != "" {
		for _, item := range strings.Split(tp, ",") {
			item = strings.TrimSpace(item)
			p, e := netip.ParsePrefix(item)
			if e != nil {
				a, e2 := netip.ParseAddr(item)
				if e2 != nil {
					return config{}, fmt.Errorf("-trusted-proxies: %q is not an IP or CIDR", item)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
		}
	}
	return c, nil
}

func defaultGetenv(k string) string { return os.Getenv(k) }

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
