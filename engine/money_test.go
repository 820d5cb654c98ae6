package engine

import (
	"errors"
	"math/big"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in       string
		decimals int
		want     string
		err      error
	}{
		{"0.1", 8, "10000000", nil},
		{"0.00000001", 8, "1", nil},
		{"1", 8, "100000000", nil},
		{"21000000", 8, "2100000000000000", nil},
		{"1.50000000000", 8, "150000000", nil}, // trailing zeros beyond decimals are harmless
		{"1.5e-3", 8, "150000", nil},
		{"15E-4", 8, "150000", nil},
		{"2e2", 2, "20000", nil},
		{"1.000000000000000001", 18, "1000000000000000001", nil},
		{"123456789.123456789012345678", 18, "123456789123456789012345678", nil}, // beyond 2^64
		{"0", 8, "0", nil},
		{"-0", 8, "0", nil},
		{"0.000000001", 8, "", ErrTooPrecise},
		{"1e-9", 8, "", ErrTooPrecise},
		{"10.005", 2, "", ErrTooPrecise},
		{"-1", 8, "", ErrNegative},
		{"", 8, "", ErrBadDecimal},
		{".5", 8, "", ErrBadDecimal},
		{"5.", 8, "", ErrBadDecimal},
		{"1e", 8, "", ErrBadDecimal},
		{"1e1000", 8, "", ErrBadDecimal},
		{"1e99", 8, "", ErrAmountTooLarge},
		{"NaN", 8, "", ErrBadDecimal},
		{"Infinity", 8, "", ErrBadDecimal},
		{"0x10", 8, "", ErrBadDecimal},
		{"1 ", 8, "", ErrBadDecimal},
		{"1,5", 8, "", ErrBadDecimal},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDecimal(tt.in, tt.decimals)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseDecimal(%q) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseDecimal(%q, %d) = %s, %v; want %s", tt.in, tt.decimals, got, err, tt.want)
			}
		})
	}
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		units    int64
		decimals int
		want     string
	}{
		{10000000, 8, "0.1"},
		{1, 8, "0.00000001"},
		{100000000, 8, "1"},
		{123456789, 8, "1.23456789"},
		{0, 8, "0"},
		{1250, 2, "12.5"},
		{7, 0, "7"},
		{-5, 2, "-0.05"},
		{-1250, 2, "-12.5"},
		{1000, 2, "10"},
		{10, 0, "10"},
		{1000000000000000001, 18, "1.000000000000000001"},
	}
	for _, tt := range tests {
		if got := FormatDecimal(NewUnits(tt.units), tt.decimals); got != tt.want {
			t.Errorf("FormatDecimal(%d, %d) = %q, want %q", tt.units, tt.decimals, got, tt.want)
		}
	}
}

func TestFiatToUnits_RoundsUp(t *testing.T) {
	tests := []struct {
		cents    int64
		rate     string
		decimals int
		want     string
	}{
		{10000, "60000", 8, "166667"},            // 100 EUR / 60000 = 0.001666666.. BTC -> up
		{6000000, "60000", 8, "100000000"},       // exact: 60000 EUR = 1 BTC
		{1, "60000.00", 8, "17"},                 // 0.01 EUR = 16.67 sat -> 17
		{10000, "3000", 18, "33333333333333334"}, // wei, rounded up
		{100, "0.92", 6, "1086957"},              // 1 EUR at 0.92 EUR/USDT = 1.0869565.. -> up
		{12345, "1e3", 8, "12345000"},            // exponent in rate
	}
	for _, tt := range tests {
		got, err := FiatToUnits(NewUnits(tt.cents), tt.rate, tt.decimals)
		if err != nil || got.String() != tt.want {
			t.Errorf("FiatToUnits(%d, %s, %d) = %s, %v; want %s", tt.cents, tt.rate, tt.decimals, got, err, tt.want)
		}
	}
	for _, bad := range []string{"0", "0.00", "-1", "abc", ""} {
		if _, err := FiatToUnits(NewUnits(100), bad, 8); err == nil {
			t.Errorf("FiatToUnits with rate %q: want error", bad)
		}
	}
}

func TestThreshold(t *testing.T) {
	tests := []struct {
		amount  int64
		percent int
		want    int64
	}{
		{100000, 0, 100000},
		{100000, 1, 99000},
		{100001, 1, 99001}, // 99000.99 rounds up
		{3, 50, 2},         // 1.5 rounds up
		{100, 100, 0},
		{1, 99, 1},
	}
	for _, tt := range tests {
		if got := Threshold(NewUnits(tt.amount), tt.percent); got.Cmp(NewUnits(tt.want)) != 0 {
			t.Errorf("Threshold(%d, %d) = %s, want %d", tt.amount, tt.percent, got, tt.want)
		}
	}
}

func TestScale18(t *testing.T) {
	btc := Scale18(NewUnits(1), 8) // 1 satoshi
	wei := Scale18(NewUnits(10_000_000_000), 18)
	if btc.Cmp(wei) != 0 || btc.Cmp(big.NewInt(10_000_000_000)) != 0 {
		t.Fatalf("1 sat scaled = %s, 1e10 wei scaled = %s; both want 1e10", btc, wei)
	}
}

func TestUnitsJSONRoundTrip(t *testing.T) {
	u, _ := ParseUnits("123456789012345678901234567890")
	b, _ := u.MarshalJSON()
	var back Units
	if err := back.UnmarshalJSON(b); err != nil || back.Cmp(u) != 0 {
		t.Fatalf("round trip %s -> %s -> %s, %v", u, b, back, err)
	}
}

// FuzzParseDecimal checks that whatever ParseDecimal accepts formats back to
// the same value, never negative, and that it never panics.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0.1", "1e-8", "-1", "123.456", "1E+3", "00012.3400", "9999999999999999999.99999999"} {
		f.Add(s, uint8(8))
	}
	f.Fuzz(func(t *testing.T, s string, d uint8) {
		decimals := int(d % 19)
		u, err := ParseDecimal(s, decimals)
		if err != nil {
			return
		}
		if u.Sign() < 0 {
			t.Fatalf("ParseDecimal(%q) = %s, negative", s, u)
		}
		back, err := ParseDecimal(FormatDecimal(u, decimals), decimals)
		if err != nil || back.Cmp(u) != 0 {
			t.Fatalf("round trip of %q: %s -> %q -> %s, %v", s, u, FormatDecimal(u, decimals), back, err)
		}
	})
}

// TestNewRegistry_AmountBounds: every currency has a largest amount, at
// least its smallest; the built-in bounds are the documented ones.
func TestNewRegistry_AmountBounds(t *testing.T) {
	want := map[string]string{"BTC": "21000000", "LTC": "84000000", "ETH": "1000000000", "USDT": "1000000000000"}
	for _, c := range DefaultCurrencies() {
		if got := FormatDecimal(c.MaxAmount, c.Decimals); got != want[c.Code] {
			t.Errorf("%s maximum %s, want %s", c.Code, got, want[c.Code])
		}
		for _, max := range []Units{{}, c.MinAmount.Sub(NewUnits(1))} {
			bad := c
			bad.MaxAmount = max
			if _, err := NewRegistry([]Currency{bad}); err == nil {
				t.Errorf("%s with maximum %s (minimum %s) accepted", c.Code, max, c.MinAmount)
			}
		}
	}
}

func TestPow10(t *testing.T) {
	for n := -2; n <= 100; n++ {
		want := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
		if got := pow10(n); got.Cmp(want) != 0 {
			t.Fatalf("pow10(%d) = %s, want %s", n, got, want)
		}
	}
}
