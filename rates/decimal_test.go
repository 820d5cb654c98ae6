package rates

import "testing"

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
