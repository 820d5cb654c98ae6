// Package rates supplies fiat exchange rates for pricing invoices.
//
// An invoice priced in fiat locks one Quote at creation and stores it, so the
// amount due never moves afterwards; this package only answers "what is the
// rate now". Rates are exact decimal strings, never floats, so the engine can
// do exact arithmetic on them. The offline default is a Static table; HTTP
// providers will implement the same Source interface.
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
