package devchain

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestEIP55Address_PublishedVectors uses the test vectors from EIP-55
// (all caps, all lower, and mixed case).
func TestEIP55Address_PublishedVectors(t *testing.T) {
	vectors := []string{
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	}
	for _, want := range vectors {
		var addr [20]byte
		if _, err := hex.Decode(addr[:], []byte(strings.ToLower(want[2:]))); err != nil {
			t.Fatalf("decode vector %s: %v", want, err)
		}
		if got := eip55Address(addr); got != want {
			t.Errorf("eip55Address(%x) = %s, want %s", addr, got, want)
		}
	}
}
