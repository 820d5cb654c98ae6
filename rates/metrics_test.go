package rates

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAggregator_Metrics(t *testing.T) {
	clock := newFakeClock(t0)
	pinned, _ := NewStatic(map[string]string{"USDT": "0.92"}, t0)
	n := 0
	kraken := &fakeProvider{name: "kraken", fn: func(_ context.Context, _ int, _ []Pair) (map[Pair]string, error) {
		n++
		if n == 2 {
			return nil, context.DeadlineExceeded
		}
		return map[Pair]string{btcEUR: "60000", ethEUR: "3000"}, nil
	}}
	coingecko := &fakeProvider{name: "coingecko", fn: func(_ context.Context, _ int, _ []Pair) (map[Pair]string, error) {
		return map[Pair]string{btcEUR: "60100"}, nil
	}}
	a, err := NewAggregator(AggregatorConfig{
		Providers: []Provider{kraken, coingecko}, Overrides: pinned, Pairs: defaultPairs, Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.refresh(ctx, 0) // kraken ok at t0
	clock.Advance(30 * time.Second)
	a.refresh(ctx, 1) // coingecko ok at t0+30s
	a.refresh(ctx, 0) // kraken fails
	clock.Advance(90 * time.Second)

	// BTC: newest value 90s old; ETH: 120s; LTC: never; USDT: pinned.
	want := `
# HELP invoiced_rate_age_seconds Seconds since the newest provider value for the pair was fetched; over the staleness limit the pair has no rate. 0 for a pinned (static) rate, +Inf before any provider answered.
# TYPE invoiced_rate_age_seconds gauge
invoiced_rate_age_seconds{currency="BTC",fiat="EUR"} 90
invoiced_rate_age_seconds{currency="ETH",fiat="EUR"} 120
invoiced_rate_age_seconds{currency="LTC",fiat="EUR"} +Inf
invoiced_rate_age_seconds{currency="USDT",fiat="EUR"} 0
# HELP invoiced_rate_fetch_errors_total Failed rate fetches, per provider.
# TYPE invoiced_rate_fetch_errors_total counter
invoiced_rate_fetch_errors_total{provider="coingecko"} 0
invoiced_rate_fetch_errors_total{provider="kraken"} 1
# HELP invoiced_rate_fetches_total Rate fetches, per provider and result (ok or error).
# TYPE invoiced_rate_fetches_total counter
invoiced_rate_fetches_total{provider="coingecko",result="error"} 0
invoiced_rate_fetches_total{provider="coingecko",result="ok"} 1
invoiced_rate_fetches_total{provider="kraken",result="error"} 1
invoiced_rate_fetches_total{provider="kraken",result="ok"} 1
`
	if err := testutil.CollectAndCompare(a, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	// The age is computed at scrape time from the clock.
	clock.Advance(10 * time.Second)
	later := `
# HELP invoiced_rate_age_seconds Seconds since the newest provider value for the pair was fetched; over the staleness limit the pair has no rate. 0 for a pinned (static) rate, +Inf before any provider answered.
# TYPE invoiced_rate_age_seconds gauge
invoiced_rate_age_seconds{currency="BTC",fiat="EUR"} 100
invoiced_rate_age_seconds{currency="ETH",fiat="EUR"} 130
invoiced_rate_age_seconds{currency="LTC",fiat="EUR"} +Inf
invoiced_rate_age_seconds{currency="USDT",fiat="EUR"} 0
`
	if err := testutil.CollectAndCompare(a, strings.NewReader(later), "invoiced_rate_age_seconds"); err != nil {
		t.Error(err)
	}

	// Registers on a private registry and passes the linter.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(a); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(a); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
