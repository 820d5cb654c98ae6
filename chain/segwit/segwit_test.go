package segwit

import (
	"encoding/hex"
	"testing"
)

// TestEncodeV0_BIP173Vectors checks the encoder against the P2WPKH vectors
// published in BIP173.
func TestEncodeV0_BIP173Vectors(t *testing.T) {
	var program [20]byte
	if _, err := hex.Decode(program[:], []byte("751e76e8199196d454941c45d1b3a323f1433bd6")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hrp  string
		want string
	}{
		{"bc", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
		{"tb", "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"},
	}
	for _, tt := range tests {
		got, err := EncodeV0(tt.hrp, program)
		if err != nil {
			t.Fatalf("EncodeV0(%s): %v", tt.hrp, err)
		}
		if got != tt.want {
			t.Errorf("EncodeV0(%s) = %s, want %s", tt.hrp, got, tt.want)
		}
	}
}
