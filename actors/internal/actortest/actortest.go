// Package actortest builds what the actor packages' tests share: a real
// store in a temp dir and the parts an invoice Service needs over it (the
// dev chain's deriver, static rates, one-confirmation currencies). Only
// _test files import it.
package actortest

import (
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
)

// Parts are the required parts of an invoice.Config.
type Parts struct {
	Store   *persistence.Store
	Rules   *engine.Rules
	Deriver chain.Deriver
	Rates   rates.Source
}

// New opens a real store in a temp dir, closed when the test ends (after
// the cleanups registered later, such as a Service's Shutdown).
func New(tb testing.TB) Parts {
	tb.Helper()
	store, err := persistence.Open(tb.TempDir(), persistence.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	cs := engine.DefaultCurrencies()
	for i := range cs {
		cs[i].Confirmations = 1
	}
	reg, _ := engine.NewRegistry(cs)
	rules := engine.DefaultRules()
	rules.Currencies = reg
	src, _ := rates.NewStatic(rates.DefaultStaticRates(), time.Now())
	return Parts{Store: store, Rules: rules, Deriver: devchain.NewDeriver(devchain.DevSeed()), Rates: src}
}
