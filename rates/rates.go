// Package rates supplies fiat exchange rates for pricing invoices.
//
// An invoice priced in fiat locks one Quote at creation and stores it, so the
// amount due never moves afterwards; this package only answers "what is the
// rate now", or says clearly (ErrNoRate) that it cannot. Rates are exact
// decimal strings, never floats, so the engine can do exact arithmetic on
// them; providers' JSON numbers are read as text.
//
// The pieces, each in its own file: Static (static.go) is a fixed table, the
// offline default and the operator's pinned overrides. Kraken, CoinGecko and
// Bitstamp (kraken.go, coingecko.go, bitstamp.go) are Providers over the
// exchanges' public tickers. The Aggregator (aggregator.go) polls providers
// in the background with backoff, quotes the median of the values fresher
// than a staleness limit, and exports Prometheus metrics (metrics.go).
// FromConfig (config.go) builds it all from the server's configuration.
package rates

import (
	"errors"
	"time"
)

// ErrNoRate is returned (wrapped, naming the pair) when a source has no rate
// for the requested currency pair. Callers test for it with errors.Is.
var ErrNoRate = errors.New("no exchange rate")

// A Quote is the price of one whole coin in a fiat currency, as an exact decimal string.
type Quote struct {
	Currency string    // crypto code, e.g. "BTC"
	Fiat     string    // "EUR"
	Rate     string    // decimal string, e.g. "58213.47"; never a float
	Source   string    // e.g. "static"
	At       time.Time // when the source produced it
}

// Source gives the current quote for a pair.
type Source interface {
	Quote(currency, fiat string) (Quote, error)
}
