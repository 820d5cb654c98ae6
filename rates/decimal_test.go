package rates

import (
	"math/big"
	"testing"
)

func TestValidateRate(t *testing.T) {
	tests := []struct {
		in     string
		wantOK bool
	}{
		{"60000.00", true},
		{"0.92", true},
		{"1", true},
		{"007.5", true},
		{"0.000000000000000001", true}, // 18 fractional digits
		{"58213.47", true},

		{"", false},
		{"0", false},
		{"0.0", false},
		{"000.000", false},
		{"abc", false},
		{"1e5", false},
		{"1E5", false},
		{"-1", false},
		{"+1", false},
		{".5", false},
		{"5.", false},
		{".", false},
		{"1.2.3", false},
		{"1,5", false},
		{" 1", false},
		{"1 ", false},
		{"NaN", false},
		{"Inf", false},
		{"0x10", false},
		{"1_000", false},
		{"0.0000000000000000001", false}, // 19 fractional digits
		{"١", false},                     // Arabic-Indic digit one
	}
	for _, tt := range tests {
		err := validateRate(tt.in)
		if (err == nil) != tt.wantOK {
			t.Errorf("validateRate(%q) = %v, want ok=%v", tt.in, err, tt.wantOK)
		}
	}
}

func TestProviderDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means error
	}{
		{"58213.4712345678", "58213.4712345678"},
		{"58213.40000", "58213.40000"}, // plain text kept as written
		{"0.92", "0.92"},
		{"6.1e4", "61000"},
		{"6.1E+4", "61000"},
		{"5.82134712e4", "58213.4712"},
		{"9.214302811E-1", "0.9214302811"},
		{"1e-18", "0.000000000000000001"},
		{"1.50e2", "150"},
		{"1.0e-05", "0.00001"},
		{"0012.5e1", "125"},
		{"123e-2", "1.23"},
		{"1e0", "1"},
		{"0.5e1", "5"},

		{"1e-19", ""},  // 19 fractional digits
		{"0e5", ""},    // zero
		{"0.0e-3", ""}, // zero
		{"-1e2", ""},   // negative
		{"1e", ""},     // no exponent digits
		{"1e+", ""},    // no exponent digits
		{"1e2.5", ""},  // fractional exponent
		{"e5", ""},     // no mantissa
		{".5e1", ""},   // bare '.'
		{"5.e1", ""},   // bare '.'
		{"1e41", ""},   // beyond maxExponent
		{"1e-41", ""},  // beyond maxExponent
		{"1e99999999999999999999", ""},
		{"1e0x10", ""},
		{"1e_1", ""},
		{"1e 1", ""},
		{"NaN", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := providerDecimal(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("providerDecimal(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("providerDecimal(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestRateText(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" means error
	}{
		{`58213.47`, "58213.47"},
		{`"58213.47"`, "58213.47"},
		{` 1e3 `, "1000"},
		{`"1e3"`, "1000"},

		{``, ""},
		{`null`, ""},
		{`true`, ""},
		{`{}`, ""},
		{`["1"]`, ""},
		{`""`, ""},
		{`"abc"`, ""},
		{`-5`, ""},
		{`"58213.47`, ""},
	}
	for _, tt := range tests {
		got, err := rateText([]byte(tt.raw))
		if tt.want == "" {
			if err == nil {
				t.Errorf("rateText(%s) = %q, want error", tt.raw, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("rateText(%s) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
}

// FuzzProviderDecimal: whatever providerDecimal accepts is a valid rate whose
// value equals the input's exactly.
func FuzzProviderDecimal(f *testing.F) {
	for _, s := range []string{"58213.47", "6.1e4", "9.2E-1", "1e-18", "0012.5e1", "1e41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := providerDecimal(s)
		if err != nil {
			return
		}
		if err := validateRate(got); err != nil {
			t.Fatalf("providerDecimal(%q) = %q, which validateRate refuses: %v", s, got, err)
		}
		in, ok := new(big.Rat).SetString(s)
		out, _ := new(big.Rat).SetString(got)
		if !ok || in.Cmp(out) != 0 {
			t.Fatalf("providerDecimal(%q) = %q, a different value", s, got)
		}
	})
}

func TestCompareRates(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1", 0},
		{"1", "1.000", 0},
		{"001.50", "1.5", 0},
		{"9000", "10000", -1},
		{"0.5", "0.45", 1},
		{"0.4", "0.45", -1},
		{"60000.1", "60000.09", 1},
		{"0.000000000000000001", "0.00000000000000001", -1},
		{"2", "1.999999999999999999", 1},
	}
	for _, tt := range tests {
		if got := compareRates(tt.a, tt.b); got != tt.want {
			t.Errorf("compareRates(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareRates(tt.b, tt.a); got != -tt.want {
			t.Errorf("compareRates(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

// FuzzCompareRates checks compareRates against exact big.Rat comparison.
func FuzzCompareRates(f *testing.F) {
	f.Add("9000", "10000")
	f.Add("0.5", "0.45")
	f.Add("001.50", "1.5")
	f.Fuzz(func(t *testing.T, a, b string) {
		if validateRate(a) != nil || validateRate(b) != nil {
			return
		}
		x, _ := new(big.Rat).SetString(a)
		y, _ := new(big.Rat).SetString(b)
		if got, want := compareRates(a, b), x.Cmp(y); got != want {
			t.Fatalf("compareRates(%q, %q) = %d, big.Rat says %d", a, b, got, want)
		}
	})
}
