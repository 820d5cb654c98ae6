package evm

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestChecksumAddress_EIP55Vectors uses the test vectors of EIP-55 (all
// caps, all lower, and mixed case) and two addresses geth logged while the
// chain/ethereum fixtures were recorded.
func TestChecksumAddress_EIP55Vectors(t *testing.T) {
	for _, want := range []string{
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
		"0x71562b71999873DB5b286dF957af199Ec94617F7",
		"0x3A220f351252089D385b29beca14e27F204c296A",
	} {
		var addr [20]byte
		if _, err := hex.Decode(addr[:], []byte(strings.ToLower(want[2:]))); err != nil {
			t.Fatalf("decode vector %s: %v", want, err)
		}
		if got := ChecksumAddress(addr); got != want {
			t.Errorf("ChecksumAddress(%x) = %s, want %s", addr, got, want)
		}
	}
}

func BenchmarkChecksumAddress(b *testing.B) {
	addr := [20]byte{0x5a, 0xae, 0xb6, 0x05, 0x3f, 0x3e, 0x94, 0xc9, 0xb9, 0xa0, 0x9f, 0x33, 0x66, 0x94, 0x35, 0xe7, 0xef, 0x1b, 0xea, 0xed}
	b.ReportAllocs()
	for b.Loop() {
		_ = ChecksumAddress(addr)
	}
}
