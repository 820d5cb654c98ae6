package rates

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/invoiced/invoiced/internal/clock"
)

// Config is the rates part of invoiced's configuration, built once in cmd.
type Config struct {
	// Providers names the rate providers: any of "kraken", "coingecko" and
	// "bitstamp"; or none, or "static" alone, for offline mode, where every
	// rate comes from the static table.
	Providers []string
	// Interval is the refresh interval (default 1 min), Staleness how old a
	// provider's value may be and still count (default 5 min).
	Interval, Staleness time.Duration
	// Overrides are EUR rates by currency code (see ParseOverrides). In
	// offline mode they are overlaid on DefaultStaticRates; with providers
	// they pin their pairs, which are then never fetched.
	Overrides map[string]string
	// Currencies are the crypto codes quoted in EUR (default: those of
	// DefaultStaticRates). Every one needs a rate: an override, or with
	// providers at least one provider that lists it.
	Currencies []string
	// BaseURLs replaces providers' public endpoints, keyed by provider name
	// (a proxy, or an httptest server in tests).
	BaseURLs map[string]string
	// RequestTimeout bounds each HTTP request to a provider (default 10 s).
	RequestTimeout time.Duration
	Clock          clock.Clock  // nil: the real clock
	Logger         *slog.Logger // nil discards
}

// quoteFiat is the fiat currency Config's currencies are quoted in.
const quoteFiat = staticFiat

// httpProvider is a built-in provider: it can say what it is asked for.
type httpProvider interface {
	Provider
	Supports(Pair) bool
}

// providerConstructors are the built-in HTTP providers by name.
var providerConstructors = map[string]func(ProviderConfig) httpProvider{
	"kraken":    func(c ProviderConfig) httpProvider { return NewKraken(c) },
	"coingecko": func(c ProviderConfig) httpProvider { return NewCoinGecko(c) },
	"bitstamp":  func(c ProviderConfig) httpProvider { return NewBitstamp(c) },
}

// ProviderNames returns the valid entries of Config.Providers, sorted.
func ProviderNames() []string {
	names := []string{"static"}
	for name := range providerConstructors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// FromConfig builds the Aggregator cmd serves rates from; client sends the
// providers' requests (nil: a default client). Start it with go agg.Run(ctx)
// and register it on the server's Prometheus registry.
//
// Every mistake in cfg is an error here rather than a missing rate later:
// an unknown or repeated provider name, "static" next to HTTP providers (pin
// single rates with Overrides instead), a bad currency code or rate, an
// override or base URL for something not enabled, and a currency nothing
// would quote.
func FromConfig(cfg Config, client *http.Client) (*Aggregator, error) {
	clk := clock.OrReal(cfg.Clock)
	currencies := cfg.Currencies
	if len(currencies) == 0 {
		currencies = sortedKeysOf(DefaultStaticRates())
	}
	enabled := make(map[string]bool, len(currencies))
	for _, c := range currencies {
		if err := validateCode(c); err != nil {
			return nil, fmt.Errorf("rates config: currencies: %w", err)
		}
		if enabled[c] {
			return nil, fmt.Errorf("rates config: currency %s enabled twice", c)
		}
		enabled[c] = true
	}
	for code := range cfg.Overrides {
		if !enabled[code] {
			return nil, fmt.Errorf("rates config: override for %s, which is not an enabled currency (enabled: %s)", code, strings.Join(currencies, ", "))
		}
	}

	var providers []httpProvider
	seen := make(map[string]bool)
	for _, name := range cfg.Providers {
		if seen[name] {
			return nil, fmt.Errorf("rates config: provider %q given twice", name)
		}
		seen[name] = true
		if name == "static" {
			continue
		}
		newProvider, ok := providerConstructors[name]
		if !ok {
			return nil, fmt.Errorf("rates config: unknown provider %q; valid: %s", name, strings.Join(ProviderNames(), ", "))
		}
		providers = append(providers, newProvider(ProviderConfig{Client: client, BaseURL: cfg.BaseURLs[name], Timeout: cfg.RequestTimeout}))
	}
	if seen["static"] && len(providers) > 0 {
		return nil, errors.New(`rates config: provider "static" cannot be combined with HTTP providers; pin single rates with overrides instead`)
	}
	for name := range cfg.BaseURLs {
		if !seen[name] || name == "static" {
			return nil, fmt.Errorf("rates config: base URL for %q, which is not a configured HTTP provider", name)
		}
	}

	// The static table: everything in offline mode, only the overrides with
	// providers. Falling back to built-in defaults while providers are
	// down would quote made-up prices as if they were current.
	table := make(map[string]string)
	if len(providers) == 0 {
		for code, rate := range DefaultStaticRates() {
			if enabled[code] {
				table[code] = rate
			}
		}
	}
	for code, rate := range cfg.Overrides {
		table[code] = rate
	}
	pinned, err := NewStatic(table, clk.Now())
	if err != nil {
		return nil, fmt.Errorf("rates config: %w", err)
	}

	var pairs []Pair
	for _, c := range currencies {
		if _, ok := table[c]; ok {
			continue
		}
		p := Pair{c, quoteFiat}
		if len(providers) == 0 {
			return nil, fmt.Errorf("rates config: %s is enabled but has no static rate; add an override (%s=RATE) or configure providers", c, c)
		}
		listed := false
		for _, pr := range providers {
			listed = listed || pr.Supports(p)
		}
		if !listed {
			return nil, fmt.Errorf("rates config: no configured provider quotes %s; add an override or a provider that does", p)
		}
		pairs = append(pairs, p)
	}

	agg := AggregatorConfig{
		Overrides: pinned, Pairs: pairs, Interval: cfg.Interval, Staleness: cfg.Staleness,
		Clock: clk, Logger: cfg.Logger,
	}
	for _, pr := range providers {
		agg.Providers = append(agg.Providers, pr)
	}
	return NewAggregator(agg)
}

func sortedKeysOf(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
