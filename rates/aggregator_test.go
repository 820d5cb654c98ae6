package rates

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/backoff"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeProvider answers from fn; calls counts its fetches. It stands for the
// outside world in aggregator tests; the real providers are tested against
// recorded responses.
type fakeProvider struct {
	name  string
	fn    func(ctx context.Context, n int, pairs []Pair) (map[Pair]string, error) // n counts from 1
	calls atomic.Int64
}

func (p *fakeProvider) Name() string { return p.name }
func (p *fakeProvider) Fetch(ctx context.Context, pairs []Pair) (map[Pair]string, error) {
	return p.fn(ctx, int(p.calls.Add(1)), pairs)
}

// fixed answers rates every time.
func fixed(name string, rates map[Pair]string) *fakeProvider {
	return &fakeProvider{name: name, fn: func(context.Context, int, []Pair) (map[Pair]string, error) { return rates, nil }}
}

// failing always fails.
func failing(name string) *fakeProvider {
	return &fakeProvider{name: name, fn: func(context.Context, int, []Pair) (map[Pair]string, error) {
		return nil, fmt.Errorf("%s: status 502 Bad Gateway", name)
	}}
}

func newTestAggregator(t testing.TB, clock *fakeClock, providers ...Provider) *Aggregator {
	t.Helper()
	a, err := NewAggregator(AggregatorConfig{Providers: providers, Pairs: defaultPairs, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	a.backoff.Jitter = nil // the nominal schedule
	return a
}

// refreshAll fetches once from every provider without Run.
func refreshAll(a *Aggregator) {
	for i := range a.providers {
		a.refresh(context.Background(), i)
	}
}

func TestAggregator_Median(t *testing.T) {
	tests := []struct {
		name       string
		rates      []string // per provider kraken, coingecko, bitstamp; "" gives no BTC value
		wantRate   string
		wantSource string
	}{
		{"one source", []string{"60000.1"}, "60000.1", "kraken"},
		{"one of three answers", []string{"", "60010", ""}, "60010", "coingecko"},
		{"two sources: lower middle", []string{"60010", "60000.1"}, "60000.1", "median(kraken,coingecko)"},
		{"two sources compared as numbers, not text", []string{"9000", "10000"}, "9000", "median(kraken,coingecko)"},
		{"three sources", []string{"60010", "59990.5", "60000"}, "60000", "median(kraken,coingecko,bitstamp)"},
		{"three sources, outlier ignored", []string{"1", "60000", "60001"}, "60000", "median(kraken,coingecko,bitstamp)"},
		{"two of three answer", []string{"60010", "", "59990.5"}, "59990.5", "median(kraken,bitstamp)"},
		{"equal values keep provider order", []string{"60000.00", "60000"}, "60000.00", "median(kraken,coingecko)"},
		{"four sources: lower middle", []string{"4", "1", "3", "2"}, "2", "median(kraken,coingecko,bitstamp,p4)"},
	}
	names := []string{"kraken", "coingecko", "bitstamp", "p4"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			var providers []Provider
			for i, r := range tt.rates {
				m := map[Pair]string{}
				if r != "" {
					m[btcEUR] = r
				}
				providers = append(providers, fixed(names[i], m))
			}
			a := newTestAggregator(t, clock, providers...)
			refreshAll(a)
			q, err := a.Quote("BTC", "EUR")
			if err != nil {
				t.Fatal(err)
			}
			want := Quote{Currency: "BTC", Fiat: "EUR", Rate: tt.wantRate, Source: tt.wantSource, At: t0}
			if q != want {
				t.Errorf("Quote = %+v, want %+v", q, want)
			}
		})
	}
}

// TestAggregator_AtIsOldestUsedValue: a quote is as old as its oldest input.
func TestAggregator_AtIsOldestUsedValue(t *testing.T) {
	clock := newFakeClock(t0)
	a := newTestAggregator(t, clock, fixed("kraken", map[Pair]string{btcEUR: "60000"}), fixed("coingecko", map[Pair]string{btcEUR: "60100"}))
	a.refresh(context.Background(), 0)
	clock.Advance(time.Minute)
	a.refresh(context.Background(), 1)
	clock.Advance(time.Minute)
	q, err := a.Quote("BTC", "EUR")
	if err != nil {
		t.Fatal(err)
	}
	if q.Rate != "60000" || !q.At.Equal(t0) {
		t.Errorf("Quote = %+v, want rate 60000 at %s", q, t0)
	}
}

func TestAggregator_StalenessExpiry(t *testing.T) {
	clock := newFakeClock(t0)
	a := newTestAggregator(t, clock, fixed("kraken", map[Pair]string{btcEUR: "60000"}), fixed("coingecko", map[Pair]string{btcEUR: "60100"}))
	a.refresh(context.Background(), 0) // kraken at t0
	clock.Advance(2 * time.Minute)
	a.refresh(context.Background(), 1) // coingecko at t0+2m

	steps := []struct {
		advance    time.Duration
		wantRate   string // "" means ErrNoRate
		wantSource string
		wantErr    string
	}{
		{3 * time.Minute, "60000", "median(kraken,coingecko)", ""},                                         // kraken exactly 5m old: still fresh
		{time.Second, "60100", "coingecko", ""},                                                            // kraken over the limit
		{2 * time.Minute, "", "", "rate BTC/EUR: newest value is 5m1s old, over the staleness limit 5m0s"}, // both stale
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		q, err := a.Quote("BTC", "EUR")
		if s.wantRate == "" {
			if !errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), s.wantErr) {
				t.Errorf("step %d: Quote = %+v, %v; want ErrNoRate with %q", i, q, err, s.wantErr)
			}
			continue
		}
		if err != nil || q.Rate != s.wantRate || q.Source != s.wantSource {
			t.Errorf("step %d: Quote = %+v, %v; want %s from %s", i, q, err, s.wantRate, s.wantSource)
		}
	}
	if got := a.All("EUR"); len(got) != 0 {
		t.Errorf("All with only stale values = %+v, want none", got)
	}

	// A fresh value brings the pair back.
	a.refresh(context.Background(), 0)
	if q, err := a.Quote("BTC", "EUR"); err != nil || q.Source != "kraken" {
		t.Errorf("after a new fetch: Quote = %+v, %v", q, err)
	}
}

func TestAggregator_NoRateErrors(t *testing.T) {
	clock := newFakeClock(t0)
	a := newTestAggregator(t, clock, fixed("kraken", map[Pair]string{btcEUR: "60000"}))
	tests := []struct {
		currency, fiat, want string
	}{
		{"BTC", "EUR", "rate BTC/EUR: no provider has answered yet"},
		{"XMR", "EUR", "rate XMR/EUR: not an enabled pair"},
		{"BTC", "USD", "rate BTC/USD: not an enabled pair"},
	}
	for _, tt := range tests {
		_, err := a.Quote(tt.currency, tt.fiat)
		if !errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Quote(%s, %s) error = %v, want ErrNoRate with %q", tt.currency, tt.fiat, err, tt.want)
		}
	}
	refreshAll(a)
	if _, err := a.Quote("ETH", "EUR"); !errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), "no provider has answered yet") {
		t.Errorf("pair the provider does not list: %v", err)
	}
}

// TestAggregator_PinnedOverridesWin: an operator's static rate beats the
// providers, and the providers are not asked for it.
func TestAggregator_PinnedOverridesWin(t *testing.T) {
	clock := newFakeClock(t0)
	pinned, err := NewStatic(map[string]string{"BTC": "61000"}, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var asked []Pair
	kraken := &fakeProvider{name: "kraken", fn: func(_ context.Context, _ int, pairs []Pair) (map[Pair]string, error) {
		asked = pairs
		return map[Pair]string{btcEUR: "60000", ethEUR: "3000"}, nil
	}}
	a, err := NewAggregator(AggregatorConfig{Providers: []Provider{kraken}, Overrides: pinned, Pairs: defaultPairs, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	refreshAll(a)
	if want := []Pair{ethEUR, ltcEUR, usdtEUR}; fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("provider asked for %v, want %v", asked, want)
	}
	clock.Advance(24 * time.Hour) // pinned rates do not go stale
	q, err := a.Quote("BTC", "EUR")
	if want := (Quote{"BTC", "EUR", "61000", "static", t0.Add(-time.Hour)}); err != nil || q != want {
		t.Errorf("Quote(BTC) = %+v, %v; want %+v", q, err, want)
	}
	if _, err := a.Quote("ETH", "EUR"); !errors.Is(err, ErrNoRate) {
		t.Errorf("Quote(ETH) a day later: %v, want ErrNoRate", err)
	}
}

// TestAggregator_FetchResults: what a fetch stores, keeps and ignores.
func TestAggregator_FetchResults(t *testing.T) {
	clock := newFakeClock(t0)
	answers := []struct {
		rates map[Pair]string
		err   error
	}{
		{map[Pair]string{btcEUR: "60000", ethEUR: "3000"}, nil},
		{map[Pair]string{btcEUR: "60500", xmrEUR: "150"}, nil},   // ETH missing: kept; XMR not asked: ignored
		{nil, errors.New("kraken: status 500")},                  // nothing changes
		{map[Pair]string{btcEUR: "61000", ethEUR: "1e3"}, nil},   // one invalid value: whole fetch refused
		{map[Pair]string{btcEUR: "61000", ethEUR: "-3000"}, nil}, // likewise
	}
	kraken := &fakeProvider{name: "kraken", fn: func(_ context.Context, n int, _ []Pair) (map[Pair]string, error) {
		return answers[n-1].rates, answers[n-1].err
	}}
	a := newTestAggregator(t, clock, kraken)
	ctx := context.Background()

	a.refresh(ctx, 0)
	clock.Advance(time.Minute)
	if err := a.refresh(ctx, 0); err != nil {
		t.Fatal(err)
	}
	want := []Quote{
		{"BTC", "EUR", "60500", "kraken", t0.Add(time.Minute)},
		{"ETH", "EUR", "3000", "kraken", t0},
	}
	for i := 2; i < len(answers); i++ {
		if err := a.refresh(ctx, 0); err == nil {
			t.Errorf("fetch %d: no error", i+1)
		}
		if got := a.All("EUR"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("after fetch %d: All = %+v, want %+v", i+1, got, want)
		}
	}
	if a.fetchOK[0] != 2 || a.fetchErr[0] != 3 {
		t.Errorf("counters ok=%d err=%d, want 2 and 3", a.fetchOK[0], a.fetchErr[0])
	}
}

func TestAggregator_AllSortedAndNonNil(t *testing.T) {
	clock := newFakeClock(t0)
	pinned, _ := NewStatic(map[string]string{"LTC": "80"}, t0)
	kraken := fixed("kraken", map[Pair]string{usdtEUR: "0.92", btcEUR: "60000", ethEUR: "3000"})
	a, err := NewAggregator(AggregatorConfig{Providers: []Provider{kraken}, Overrides: pinned, Pairs: defaultPairs, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.All("EUR"); fmt.Sprint(got) != fmt.Sprint([]Quote{{"LTC", "EUR", "80", "static", t0}}) {
		t.Errorf("All before any fetch = %+v", got)
	}
	refreshAll(a)
	var codes []string
	for _, q := range a.All("EUR") {
		codes = append(codes, q.Currency+"="+q.Rate)
	}
	if got := strings.Join(codes, ","); got != "BTC=60000,ETH=3000,LTC=80,USDT=0.92" {
		t.Errorf("All = %s", got)
	}
	if got := a.All("USD"); got == nil || len(got) != 0 {
		t.Errorf("All(USD) = %#v, want an empty non-nil slice", got)
	}
}

func TestNewAggregator_Validation(t *testing.T) {
	k := fixed("kraken", nil)
	tests := []struct {
		name    string
		cfg     AggregatorConfig
		wantErr string
	}{
		{"staleness under interval", AggregatorConfig{Providers: []Provider{k}, Interval: 10 * time.Minute}, "shorter than the refresh interval"},
		{"negative", AggregatorConfig{Interval: -time.Second}, "negative"},
		{"retry bounds", AggregatorConfig{RetryMin: time.Hour}, "retry minimum"},
		{"duplicate provider", AggregatorConfig{Providers: []Provider{k, fixed("kraken", nil)}}, `"kraken" given twice`},
		{"nil provider", AggregatorConfig{Providers: []Provider{nil}}, "nil provider"},
		{"bad pair", AggregatorConfig{Pairs: []Pair{{"btc", "EUR"}}}, "pair btc/EUR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAggregator(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewAggregator error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	// Offline: no providers, staleness irrelevant.
	if _, err := NewAggregator(AggregatorConfig{Interval: time.Hour}); err != nil {
		t.Errorf("no providers: %v", err)
	}
}

// TestAggregator_BackoffSchedule reads the delays Run schedules on the fake
// clock: the normal interval after a success, the backoff doubling from
// RetryMin to the RetryMax cap on repeated failures, and back to the interval
// (and later to RetryMin) after a success.
func TestAggregator_BackoffSchedule(t *testing.T) {
	clock := newFakeClock(t0)
	// Fetch 1 succeeds, 2..10 fail, 11 succeeds, 12 fails.
	kraken := &fakeProvider{name: "kraken", fn: func(_ context.Context, n int, _ []Pair) (map[Pair]string, error) {
		if n == 1 || n == 11 {
			return map[Pair]string{btcEUR: "60000"}, nil
		}
		return nil, errors.New("kraken: status 502 Bad Gateway")
	}}
	a := newTestAggregator(t, clock, kraken)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	s := time.Second
	want := []time.Duration{
		60 * s,                                                                    // after 1: interval
		5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s, 300 * s, // after 2..10
		60 * s, // after 11: interval again
		5 * s,  // after 12: the backoff starts over
	}
	for i, w := range want {
		d := clock.nextWait(t)
		if d != w {
			t.Errorf("wait after fetch %d = %s, want %s", i+1, d, w)
		}
		clock.Advance(d)
	}
	if d := clock.nextWait(t); d != 10*s { // after 13: the backoff grows again
		t.Errorf("wait after fetch %d = %s, want 10s", len(want)+1, d)
	}
	if n := kraken.calls.Load(); n != int64(len(want)+1) {
		t.Errorf("fetches = %d, want %d", n, len(want)+1)
	}
}

func TestBackoff_JitterBounds(t *testing.T) {
	b := backoff.Backoff{Min: 5 * time.Second, Max: 5 * time.Minute, Jitter: backoff.Equal}
	for failures := 1; failures <= 12; failures++ {
		nominal := min(5*time.Second<<(failures-1), 5*time.Minute)
		for range 200 {
			d, _ := b.Wait(failures)
			if d < nominal/2 || d > nominal {
				t.Fatalf("delay(%d) = %s, want within [%s, %s]", failures, d, nominal/2, nominal)
			}
		}
	}
}

// TestAggregator_ProvidersIndependent: a provider stuck in a fetch holds up
// neither the others nor their schedule.
func TestAggregator_ProvidersIndependent(t *testing.T) {
	clock := newFakeClock(t0)
	stuck := &fakeProvider{name: "stuck", fn: func(ctx context.Context, _ int, _ []Pair) (map[Pair]string, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	a := newTestAggregator(t, clock, stuck, fixed("kraken", map[Pair]string{btcEUR: "60000"}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for range 3 {
		if d := clock.nextWait(t); d != time.Minute {
			t.Fatalf("wait = %s, want the 1m interval", d)
		}
		if q, err := a.Quote("BTC", "EUR"); err != nil || q.Source != "kraken" {
			t.Fatalf("Quote = %+v, %v", q, err)
		}
		clock.Advance(time.Minute)
	}
}

// TestAggregator_RunStopsOnCancel: Run returns after cancel with every fetch
// goroutine gone, whether they were fetching or waiting.
func TestAggregator_RunStopsOnCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	clock := newFakeClock(t0)
	fetching := make(chan struct{})
	stuck := &fakeProvider{name: "stuck", fn: func(ctx context.Context, _ int, _ []Pair) (map[Pair]string, error) {
		close(fetching)
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	a := newTestAggregator(t, clock, stuck, fixed("kraken", nil), failing("coingecko"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	<-fetching
	clock.nextWait(t) // kraken waiting on the interval
	clock.nextWait(t) // coingecko waiting on its backoff
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if a.fetchErr[0] != 0 {
		t.Errorf("a fetch cut short by shutdown counted as an error")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before Run, %d after it returned:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAggregator_RunTwicePanics(t *testing.T) {
	a := newTestAggregator(t, newFakeClock(t0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.Run(ctx)
	defer func() {
		if recover() == nil {
			t.Error("second Run did not panic")
		}
	}()
	a.Run(ctx)
}

// TestAggregator_ConcurrentUse is for -race: quotes, lists and scrapes while
// providers refresh.
func TestAggregator_ConcurrentUse(t *testing.T) {
	clock := newFakeClock(t0)
	a := newTestAggregator(t, clock,
		fixed("kraken", map[Pair]string{btcEUR: "60000", ethEUR: "3000"}),
		fixed("coingecko", map[Pair]string{btcEUR: "60100"}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				a.Quote("BTC", "EUR")
				a.All("EUR")
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			select {
			case <-clock.Waits():
			case <-time.After(5 * time.Second):
				t.Error("no wait was scheduled")
				return
			}
			clock.Advance(time.Minute)
		}
	})
	wg.Wait()
	cancel()
	<-done
}

func BenchmarkAggregator_Quote(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("%d providers", n), func(b *testing.B) {
			clock := newFakeClock(t0)
			var providers []Provider
			for i := range n {
				providers = append(providers, fixed(fmt.Sprint("p", i), map[Pair]string{btcEUR: fmt.Sprint(60000+i*7, ".12")}))
			}
			a := newTestAggregator(b, clock, providers...)
			refreshAll(a)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Quote("BTC", "EUR"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("pinned", func(b *testing.B) {
		pinned, _ := NewStatic(DefaultStaticRates(), t0)
		a, _ := NewAggregator(AggregatorConfig{Overrides: pinned})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Quote("BTC", "EUR"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
