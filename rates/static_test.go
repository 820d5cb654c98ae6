package rates

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var at = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestNewStatic_Validation(t *testing.T) {
	tests := []struct {
		name    string
		rates   map[string]string
		wantErr []string // substrings the error must contain; nil means success
	}{
		{"defaults", DefaultStaticRates(), nil},
		{"empty table", map[string]string{}, nil},
		{"nil table", nil, nil},
		{"zero", map[string]string{"BTC": "60000", "ETH": "0"}, []string{"ETH", `"0"`}},
		{"empty rate", map[string]string{"LTC": ""}, []string{"LTC", "empty"}},
		{"letters", map[string]string{"USDT": "abc"}, []string{"USDT", `"abc"`}},
		{"exponent", map[string]string{"BTC": "1e5"}, []string{"BTC", `"1e5"`}},
		{"negative", map[string]string{"BTC": "-1"}, []string{"BTC", `"-1"`}},
		{"too precise", map[string]string{"ETH": "1.0000000000000000001"}, []string{"ETH", "19 fractional digits"}},
		{"lower-case code", map[string]string{"btc": "1"}, []string{`"btc"`}},
		{"empty code", map[string]string{"": "1"}, []string{"empty currency code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewStatic(tt.rates, at)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("NewStatic: %v", err)
				}
				if s == nil {
					t.Fatal("NewStatic returned nil table without error")
				}
				return
			}
			if err == nil {
				t.Fatalf("NewStatic(%v) succeeded, want error", tt.rates)
			}
			for _, sub := range tt.wantErr {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not mention %s", err, sub)
				}
			}
		})
	}
}

func TestStatic_Quote(t *testing.T) {
	s, err := NewStatic(DefaultStaticRates(), at)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		currency, fiat string
		wantRate       string // "" means ErrNoRate
	}{
		{"BTC", "EUR", "60000.00"},
		{"LTC", "EUR", "80.00"},
		{"ETH", "EUR", "3000.00"},
		{"USDT", "EUR", "0.92"},
		{"XMR", "EUR", ""},
		{"BTC", "USD", ""},
		{"btc", "EUR", ""},
		{"BTC", "eur", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		q, err := s.Quote(tt.currency, tt.fiat)
		if tt.wantRate == "" {
			if !errors.Is(err, ErrNoRate) {
				t.Errorf("Quote(%q, %q) error = %v, want ErrNoRate", tt.currency, tt.fiat, err)
			} else if pair := tt.currency + "/" + tt.fiat; !strings.Contains(err.Error(), pair) {
				t.Errorf("Quote(%q, %q) error %q does not name the pair %s", tt.currency, tt.fiat, err, pair)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Quote(%s, %s): %v", tt.currency, tt.fiat, err)
		}
		want := Quote{Currency: tt.currency, Fiat: "EUR", Rate: tt.wantRate, Source: "static", At: at}
		if q != want {
			t.Errorf("Quote(%s, %s) = %+v, want %+v", tt.currency, tt.fiat, q, want)
		}
	}
}

func TestNewStatic_CopiesMap(t *testing.T) {
	in := map[string]string{"BTC": "60000"}
	s, err := NewStatic(in, at)
	if err != nil {
		t.Fatal(err)
	}
	in["BTC"] = "1"
	in["ETH"] = "2"
	if q, _ := s.Quote("BTC", "EUR"); q.Rate != "60000" {
		t.Errorf("BTC rate = %q after caller changed its map, want 60000", q.Rate)
	}
	if _, err := s.Quote("ETH", "EUR"); !errors.Is(err, ErrNoRate) {
		t.Errorf("ETH added to caller's map is visible: err = %v", err)
	}
}

func TestStatic_AllSortedByCurrency(t *testing.T) {
	tests := []struct {
		name  string
		rates map[string]string
		fiat  string
		want  []string // currency codes in order
	}{
		{"defaults", DefaultStaticRates(), "EUR", []string{"BTC", "ETH", "LTC", "USDT"}},
		{"with extra", map[string]string{"ZEC": "30", "ADA": "0.4", "BTC": "1"}, "EUR", []string{"ADA", "BTC", "ZEC"}},
		{"empty table", nil, "EUR", []string{}},
		{"other fiat", DefaultStaticRates(), "USD", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewStatic(tt.rates, at)
			if err != nil {
				t.Fatal(err)
			}
			all := s.All(tt.fiat)
			if all == nil {
				t.Fatal("All returned nil, want an empty slice")
			}
			got := make([]string, len(all))
			for i, q := range all {
				got[i] = q.Currency
				if want, _ := s.Quote(q.Currency, tt.fiat); q != want {
					t.Errorf("All()[%d] = %+v, Quote gives %+v", i, q, want)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("All(%s) currencies = %v, want %v", tt.fiat, got, tt.want)
			}
		})
	}
}

func TestStatic_AllReturnsCopy(t *testing.T) {
	s, err := NewStatic(DefaultStaticRates(), at)
	if err != nil {
		t.Fatal(err)
	}
	s.All("EUR")[0].Rate = "1"
	if q := s.All("EUR")[0]; q.Rate != "60000.00" {
		t.Errorf("modifying All's result changed the table: %+v", q)
	}
}

// TestStatic_ConcurrentUse is meant for -race: readers share one table.
func TestStatic_ConcurrentUse(t *testing.T) {
	s, err := NewStatic(DefaultStaticRates(), at)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if _, err := s.Quote("BTC", "EUR"); err != nil {
					t.Error(err)
					return
				}
				_ = s.All("EUR")
			}
		})
	}
	wg.Wait()
}

func TestDefaultStaticRates_FreshMap(t *testing.T) {
	m := DefaultStaticRates()
	m["BTC"] = "1"
	if got := DefaultStaticRates()["BTC"]; got != "60000.00" {
		t.Errorf("DefaultStaticRates shares its map: BTC = %q", got)
	}
}
