package rates

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFromConfig_Errors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"unknown provider", Config{Providers: []string{"krakn"}}, `unknown provider "krakn"; valid: bitstamp, coingecko, kraken, static`},
		{"provider twice", Config{Providers: []string{"kraken", "kraken"}}, `provider "kraken" given twice`},
		{"static with http", Config{Providers: []string{"static", "kraken"}}, `"static" cannot be combined`},
		{"override for disabled currency", Config{Currencies: []string{"BTC"}, Overrides: map[string]string{"ETH": "3000"}}, "override for ETH, which is not an enabled currency (enabled: BTC)"},
		{"bad override", Config{Overrides: map[string]string{"BTC": "1e5"}}, `"1e5"`},
		{"bad currency code", Config{Currencies: []string{"btc"}}, `"btc"`},
		{"currency twice", Config{Currencies: []string{"BTC", "BTC"}}, "BTC enabled twice"},
		{"offline currency without rate", Config{Currencies: []string{"BTC", "XMR"}}, "XMR is enabled but has no static rate"},
		{"no provider quotes it", Config{Providers: []string{"kraken"}, Currencies: []string{"BTC", "XMR"}}, "no configured provider quotes XMR/EUR"},
		{"base URL for unconfigured provider", Config{Providers: []string{"kraken"}, BaseURLs: map[string]string{"coingecko": "http://x"}}, `base URL for "coingecko"`},
		{"staleness under interval", Config{Providers: []string{"kraken"}, Interval: 10 * time.Minute}, "shorter than the refresh interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := FromConfig(tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FromConfig = %v, %v; want error containing %q", a, err, tt.wantErr)
			}
		})
	}
}

func TestFromConfig_Offline(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // All("EUR") as CODE=RATE,...
	}{
		{"defaults", Config{}, "BTC=60000.00,ETH=3000.00,LTC=80.00,USDT=0.92"},
		{"static named", Config{Providers: []string{"static"}}, "BTC=60000.00,ETH=3000.00,LTC=80.00,USDT=0.92"},
		{"overrides overlay defaults", Config{Overrides: map[string]string{"BTC": "61000.5"}}, "BTC=61000.5,ETH=3000.00,LTC=80.00,USDT=0.92"},
		{"enabled subset", Config{Currencies: []string{"LTC", "BTC"}}, "BTC=60000.00,LTC=80.00"},
		{"new currency with override", Config{Currencies: []string{"BTC", "XMR"}, Overrides: map[string]string{"XMR": "150"}}, "BTC=60000.00,XMR=150"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock(t0)
			tt.cfg.Clock = clock
			a, err := FromConfig(tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, q := range a.All("EUR") {
				if q.Source != "static" || !q.At.Equal(t0) {
					t.Errorf("quote %+v: want source static at %s", q, t0)
				}
				got = append(got, q.Currency+"="+q.Rate)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("All = %s, want %s", strings.Join(got, ","), tt.want)
			}
			clock.Advance(24 * time.Hour) // static rates never go stale
			if _, err := a.Quote("BTC", "EUR"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestFromConfig_Providers runs the real HTTP providers against recorded
// responses: the median of three, an operator's pinned rate, staleness when
// all providers go down, and metrics.
func TestFromConfig_Providers(t *testing.T) {
	var krakenLog, geckoLog, stampLog requestLog
	kraken := httptest.NewServer(krakenLog.wrap(recorded{200, "kraken/ticker.json"}))
	defer kraken.Close()
	gecko := httptest.NewServer(geckoLog.wrap(recorded{200, "coingecko/simple_price.json"}))
	defer gecko.Close()
	stamp := httptest.NewServer(stampLog.wrap(bitstampRecorded(nil)))
	defer stamp.Close()

	clock := newFakeClock(t0)
	a, err := FromConfig(Config{
		Providers: []string{"kraken", "coingecko", "bitstamp"},
		Overrides: map[string]string{"USDT": "0.93"},
		BaseURLs:  map[string]string{"kraken": kraken.URL, "coingecko": gecko.URL, "bitstamp": stamp.URL},
		Clock:     clock,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.backoff.Jitter = nil // the nominal schedule
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for range 3 {
		if d := clock.nextWait(t); d != DefaultInterval {
			t.Fatalf("first wait %s, want the interval", d)
		}
	}

	// kraken 58213.40000, coingecko 58213.4712345678, bitstamp 58213.
	want := []Quote{
		{"BTC", "EUR", "58213.40000", "median(kraken,coingecko,bitstamp)", t0},
		{"ETH", "EUR", "2120.43000", "median(kraken,coingecko,bitstamp)", t0}, // 2120.43, 2120.5012, 2120.4
		{"LTC", "EUR", "71.24", "median(kraken,coingecko,bitstamp)", t0},      // 71.25, 71.24, 71.22
		{"USDT", "EUR", "0.93", "static", t0},                                 // pinned
	}
	got := a.All("EUR")
	if len(got) != len(want) {
		t.Fatalf("All = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("All[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if r := krakenLog.get(); len(r) != 1 || r[0] != "/0/public/Ticker?pair=XBTEUR,ETHEUR,LTCEUR" {
		t.Errorf("kraken requests %q: the pinned USDT must not be asked", r)
	}

	// All providers go down; within the staleness limit the old values still
	// quote, after it the pair is refused and the providers back off.
	kraken.Close()
	gecko.Close()
	stamp.Close()
	clock.Advance(DefaultInterval)
	for range 3 {
		if d := clock.nextWait(t); d != DefaultRetryMin {
			t.Fatalf("wait after a failure %s, want %s", d, DefaultRetryMin)
		}
	}
	if _, err := a.Quote("BTC", "EUR"); err != nil {
		t.Errorf("1 min after the last fetch: %v", err)
	}
	clock.Advance(DefaultStaleness) // the backoff retries (all failing) run meanwhile
	if _, err := a.Quote("BTC", "EUR"); !errors.Is(err, ErrNoRate) || !strings.Contains(err.Error(), "6m0s old") {
		t.Errorf("6 min after the last fetch: %v, want ErrNoRate saying 6m0s old", err)
	}
	if q, err := a.Quote("USDT", "EUR"); err != nil || q.Rate != "0.93" {
		t.Errorf("pinned USDT: %+v, %v", q, err)
	}
}
