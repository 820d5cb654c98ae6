package rates

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOverrides(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string // substring naming the bad item; "" means success
	}{
		{"", map[string]string{}, ""},
		{"   ", map[string]string{}, ""},
		{"BTC=61000.5,ETH=3100", map[string]string{"BTC": "61000.5", "ETH": "3100"}, ""},
		{" BTC = 61000.5 , USDT=0.93 ", map[string]string{"BTC": "61000.5", "USDT": "0.93"}, ""},
		{"LTC=80", map[string]string{"LTC": "80"}, ""},

		{"BTC", nil, `"BTC"`},
		{"BTC=61000,ETH", nil, `2 "ETH"`},
		{"BTC=61000,", nil, `2 ""`},
		{",BTC=1", nil, `1 ""`},
		{"BTC=", nil, `"BTC="`},
		{"=5", nil, `"=5"`},
		{"BTC=abc", nil, `"BTC=abc"`},
		{"BTC=1e5", nil, `"BTC=1e5"`},
		{"BTC=-1", nil, `"BTC=-1"`},
		{"BTC=0", nil, `"BTC=0"`},
		{"BTC=1=2", nil, `"BTC=1=2"`},
		{"btc=1", nil, `"btc=1"`},
		{"BTC=1;ETH=2", nil, `"BTC=1;ETH=2"`},
		{"BTC=1,BTC=2", nil, "BTC given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOverrides(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseOverrides(%q) = %v, want error", tt.in, got)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseOverrides(%q) error %q does not contain %s", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOverrides(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseOverrides(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestParseOverrides_OverlayOnDefaults is the way cmd combines config with the
// defaults before NewStatic.
func TestParseOverrides_OverlayOnDefaults(t *testing.T) {
	over, err := ParseOverrides("BTC=61000.5,ETH=3100")
	if err != nil {
		t.Fatal(err)
	}
	table := DefaultStaticRates()
	for k, v := range over {
		table[k] = v
	}
	s, err := NewStatic(table, at)
	if err != nil {
		t.Fatal(err)
	}
	for pair, want := range map[string]string{"BTC": "61000.5", "ETH": "3100", "LTC": "80.00"} {
		q, err := s.Quote(pair, "EUR")
		if err != nil || q.Rate != want {
			t.Errorf("Quote(%s) = %+v, %v; want rate %s", pair, q, err, want)
		}
	}
}
