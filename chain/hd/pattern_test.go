package hd

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/devchain"
)

// pattern compiles AddressPattern(currency, net), failing the test on error.
func pattern(t *testing.T, currency string, net Net) *regexp.Regexp {
	t.Helper()
	p, err := AddressPattern(currency, net)
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(p)
}

// TestAddressPattern_MatchesDerivedAddresses derives deposit addresses the
// way the server does on each network (BIP84, the Ethereum branches, and
// the dev chain, which uses the regtest formats) and checks each matches
// its published pattern and no pattern of another network.
func TestAddressPattern_MatchesDerivedAddresses(t *testing.T) {
	eth, err := NewEthereum(ethAccountXpub(t), BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	usdt, err := NewEthereum(ethAccountXpub(t), BranchUSDT)
	if err != nil {
		t.Fatal(err)
	}
	type source struct {
		currency string
		net      Net
		deriver  chain.Deriver
	}
	var sources []source
	for _, c := range []struct {
		currency string
		net      Net
		prefix   string
	}{
		{"BTC", Mainnet, "zpub"}, {"BTC", Testnet, "vpub"}, {"BTC", Regtest, "vpub"},
		{"LTC", Mainnet, "zpub"}, {"LTC", Testnet, "vpub"}, {"LTC", Regtest, "vpub"},
	} {
		d, err := NewBIP84(c.currency, withVersion(t, bip84Zpub, versionOf(t, c.prefix)), c.net)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, source{c.currency, c.net, d})
	}
	dev := devchain.NewDeriver(devchain.DevSeed())
	sources = append(sources,
		source{"ETH", Mainnet, eth}, source{"USDT", Mainnet, usdt},
		source{"BTC", Regtest, dev}, source{"LTC", Regtest, dev}, source{"ETH", Regtest, dev}, source{"USDT", Regtest, dev})
	for _, s := range sources {
		t.Run(fmt.Sprintf("%s/%s/%T", s.currency, s.net, s.deriver), func(t *testing.T) {
			re := pattern(t, s.currency, s.net)
			for i := uint64(0); i < 50; i++ {
				addr := mustDerive(t, s.deriver, s.currency, i)
				if !re.MatchString(addr) {
					t.Fatalf("address %d %s does not match %s", i, addr, re)
				}
				if s.currency == "ETH" || s.currency == "USDT" {
					continue // one form on every network
				}
				for _, other := range []Net{Mainnet, Testnet, Regtest} {
					if other != s.net && pattern(t, s.currency, other).MatchString(addr) {
						t.Fatalf("%s address %s matches the %s pattern too", s.net, addr, other)
					}
				}
			}
		})
	}
}

func TestAddressPattern_KnownAddresses(t *testing.T) {
	cases := []struct {
		currency string
		net      Net
		addr     string
		match    bool
	}{
		{"BTC", Mainnet, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", true},                     // BIP173 P2WPKH
		{"BTC", Mainnet, "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", true}, // BIP173 P2WSH
		{"BTC", Mainnet, "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", true}, // BIP350 taproot
		{"BTC", Mainnet, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", true},                             // genesis P2PKH
		{"BTC", Mainnet, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", true},                             // P2SH
		{"BTC", Testnet, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", true},                     // BIP173 testnet
		{"BTC", Mainnet, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", false},                    // other network
		{"BTC", Mainnet, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t", false},                     // truncated
		{"BTC", Mainnet, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3tb", false},                    // b is not bech32
		{"BTC", Mainnet, " bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", false},                   // anchored
		{"BTC", Mainnet, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", false},                    // an Ethereum account
		{"LTC", Mainnet, "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", true},                    // ltc P2WPKH form
		{"LTC", Mainnet, "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz", true},                             // legacy L
		{"LTC", Mainnet, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", false},                            // a bitcoin address
		{"ETH", Mainnet, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", true},                     // EIP-55
		{"USDT", Testnet, "0x9858effd232b4033e47d90003d41ec34ecaeda94", true},                    // lowercase
		{"ETH", Mainnet, "0x9858EfFD232B4033E47d90003D41EC34EcaEda9", false},                     // 39 digits
		{"ETH", Mainnet, "9858EfFD232B4033E47d90003D41EC34EcaEda94", false},                      // no 0x
		{"ETH", Mainnet, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94\n", false},                  // trailing newline
		{"BTC", Regtest, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", true},                   // regtest
		{"BTC", Testnet, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", false},                  // regtest is not testnet
	}
	for _, c := range cases {
		if got := pattern(t, c.currency, c.net).MatchString(c.addr); got != c.match {
			t.Errorf("%s %s %q: match %v, want %v", c.currency, c.net, c.addr, got, c.match)
		}
	}
}

func TestAddressPattern_UnknownCurrencyOrNetwork(t *testing.T) {
	for _, c := range []struct {
		currency string
		net      Net
	}{{"DOGE", Mainnet}, {"BTC", "signet"}, {"", Mainnet}} {
		if p, err := AddressPattern(c.currency, c.net); err == nil {
			t.Errorf("AddressPattern(%q, %q) = %q, want an error", c.currency, c.net, p)
		}
	}
}
