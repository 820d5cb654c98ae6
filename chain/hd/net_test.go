package hd

import "testing"

func TestParseNet(t *testing.T) {
	for in, want := range map[string]Net{
		"mainnet": Mainnet, "main": Mainnet,
		"testnet": Testnet, "test": Testnet, "testnet3": Testnet, "testnet4": Testnet, "signet": Testnet,
		"regtest": Regtest,
	} {
		if got, err := ParseNet(in); err != nil || got != want {
			t.Errorf("ParseNet(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Mainnet", "simnet", "bitcoin"} {
		if got, err := ParseNet(in); err == nil {
			t.Errorf("ParseNet(%q) = %q, want an error", in, got)
		}
	}
}
