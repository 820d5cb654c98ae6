package hd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/address/v2/bech32"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/segwit"
)

// BIP84 test vectors (mnemonic abandonMnemonic), account m/84'/0'/0'.
const (
	bip84Zpub     = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	bip84Receive0 = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu" // m/84'/0'/0'/0/0
	bip84Receive1 = "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g" // m/84'/0'/0'/0/1
	bip84Change0  = "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el" // m/84'/0'/0'/1/0
)

func TestBIP84_SpecVectors(t *testing.T) {
	seed := bip39Seed(t, abandonMnemonic)
	account := publicAt(t, seed, 84+hardened, 0+hardened, 0+hardened)
	if got := withVersion(t, account, versionOf(t, "zpub")); got != bip84Zpub {
		t.Fatalf("account key from the mnemonic = %s, want the published %s", got, bip84Zpub)
	}

	for _, key := range []struct{ name, key string }{
		{"zpub", bip84Zpub},
		{"same key as xpub", account},
	} {
		t.Run(key.name, func(t *testing.T) {
			d, err := NewBIP84("BTC", key.key, Mainnet)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []string{bip84Receive0, bip84Receive1} {
				got, err := d.Derive("BTC", uint64(i))
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("index %d = %s, want %s", i, got, want)
				}
			}
		})
	}

	// The change chain is not a deposit chain, but it checks the encoding on
	// a third published key.
	pk, err := parsePublicKey(bip84Zpub)
	if err != nil {
		t.Fatal(err)
	}
	change, err := pk.key.Derive(1)
	if err != nil {
		t.Fatal(err)
	}
	child, err := change.Derive(0)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := child.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := segwit.EncodeV0("bc", [20]byte(address.Hash160(pub.SerializeCompressed()))); got != bip84Change0 {
		t.Errorf("first change address = %s, want %s", got, bip84Change0)
	}
}

func TestBIP84_HRPPerCurrencyAndNetwork(t *testing.T) {
	// The published key in each accepted version: every address must carry the
	// published witness program under the network's HRP.
	wantProgram := witnessProgram(t, bip84Receive0)
	cases := []struct {
		currency string
		net      Net
		prefix   string
		hrp      string
	}{
		{"BTC", Mainnet, "zpub", "bc"},
		{"BTC", Mainnet, "xpub", "bc"},
		{"BTC", Testnet, "vpub", "tb"},
		{"BTC", Testnet, "tpub", "tb"},
		{"BTC", Regtest, "vpub", "bcrt"},
		{"BTC", Regtest, "tpub", "bcrt"},
		{"LTC", Mainnet, "zpub", "ltc"},
		{"LTC", Mainnet, "xpub", "ltc"},
		{"LTC", Mainnet, "Ltub", "ltc"},
		{"LTC", Testnet, "vpub", "tltc"},
		{"LTC", Testnet, "ttub", "tltc"},
		{"LTC", Regtest, "vpub", "rltc"},
		{"LTC", Regtest, "tpub", "rltc"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s", tc.currency, tc.net, tc.prefix), func(t *testing.T) {
			d, err := NewBIP84(tc.currency, withVersion(t, bip84Zpub, versionOf(t, tc.prefix)), tc.net)
			if err != nil {
				t.Fatal(err)
			}
			addr, err := d.Derive(tc.currency, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(addr, tc.hrp+"1q") {
				t.Errorf("address %s, want HRP %s and witness version 0", addr, tc.hrp)
			}
			if got := witnessProgram(t, addr); !bytes.Equal(got, wantProgram) {
				t.Errorf("witness program %x, want the published %x", got, wantProgram)
			}
		})
	}
}

func TestBIP84_LitecoinMatchesPrivateDerivation(t *testing.T) {
	// Litecoin's BIP84 account m/84'/2'/0': public derivation from the account
	// key must give the keys the wallet derives privately.
	seed := bip39Seed(t, abandonMnemonic)
	account := publicAt(t, seed, 84+hardened, 2+hardened, 0+hardened)
	d, err := NewBIP84("LTC", withVersion(t, account, versionOf(t, "zpub")), Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint32(0); i < 3; i++ {
		priv, err := privateAt(t, seed, 84+hardened, 2+hardened, 0+hardened, 0, i).ECPrivKey()
		if err != nil {
			t.Fatal(err)
		}
		want, err := segwit.EncodeV0("ltc", [20]byte(address.Hash160(priv.PubKey().SerializeCompressed())))
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Derive("LTC", uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("index %d = %s, want %s", i, got, want)
		}
	}
}

func TestNewBIP84_Refusals(t *testing.T) {
	seed := bip39Seed(t, abandonMnemonic)
	zprv := withVersion(t, privateAt(t, seed, 84+hardened, 0+hardened, 0+hardened).String(), versionOf(t, "zprv"))
	as := func(prefix string) string { return withVersion(t, bip84Zpub, versionOf(t, prefix)) }

	cases := []struct {
		name     string
		currency string
		key      string
		net      Net
		wantErr  error
		wantMsg  string
	}{
		{"vpub on mainnet", "BTC", as("vpub"), Mainnet, ErrInvalidKey, "vpub is a testnet/regtest key but the network is mainnet"},
		{"tpub on mainnet", "LTC", as("tpub"), Mainnet, ErrInvalidKey, "tpub is a testnet/regtest key but the network is mainnet"},
		{"zpub on regtest", "BTC", bip84Zpub, Regtest, ErrInvalidKey, "zpub is a mainnet key but the network is regtest"},
		{"xpub on testnet", "BTC", as("xpub"), Testnet, ErrInvalidKey, "xpub is a mainnet key but the network is testnet"},
		{"Ltub for BTC", "BTC", as("Ltub"), Mainnet, ErrInvalidKey, "Ltub is a Litecoin key but the currency is BTC"},
		{"ypub", "BTC", as("ypub"), Mainnet, ErrInvalidKey, "ypub is a BIP49 nested segwit"},
		{"Mtub", "LTC", as("Mtub"), Mainnet, ErrInvalidKey, "Mtub is a BIP49 nested segwit"},
		{"Zpub", "BTC", as("Zpub"), Mainnet, ErrInvalidKey, "Zpub is a multisig key"},
		{"zprv", "BTC", zprv, Mainnet, ErrPrivateKey, "zprv is a private key"},
		{"garbage", "BTC", "zpub-from-my-wallet", Mainnet, ErrInvalidKey, "outside the base58 alphabet"},
		{"bad checksum", "BTC", bip84Zpub[:30] + flip(bip84Zpub[30]) + bip84Zpub[31:], Mainnet, ErrInvalidKey, "bad checksum"},
		{"ETH", "ETH", bip84Zpub, Mainnet, chain.ErrUnsupportedCurrency, "want BTC or LTC"},
		{"lower-case currency", "btc", bip84Zpub, Mainnet, chain.ErrUnsupportedCurrency, "want BTC or LTC"},
		{"unknown network", "BTC", bip84Zpub, Net("signet"), nil, "unknown network"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewBIP84(tc.currency, tc.key, tc.net)
			if err == nil {
				t.Fatalf("NewBIP84 accepted it: %v", d)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not say %q", err, tc.wantMsg)
			}
			assertNoLeak(t, err, tc.key)
		})
	}
}

func TestBIP84_Derive_RefusesOtherCurrencyAndHardenedIndex(t *testing.T) {
	d, err := NewBIP84("BTC", bip84Zpub, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Derive("LTC", 0); !errors.Is(err, chain.ErrUnsupportedCurrency) {
		t.Errorf("Derive(LTC) err = %v, want ErrUnsupportedCurrency", err)
	}
	if _, err := d.Derive("BTC", MaxIndex); err != nil {
		t.Errorf("Derive(MaxIndex): %v", err)
	}
	for _, i := range []uint64{MaxIndex + 1, 1<<32 + 5, 1<<64 - 1} {
		if _, err := d.Derive("BTC", i); !errors.Is(err, ErrIndexOutOfRange) {
			t.Errorf("Derive(%d) err = %v, want ErrIndexOutOfRange", i, err)
		}
	}
}

// Distinctness over 1,000 indexes is TestSet_DistinctAcrossCurrenciesOver1000Indexes.
func TestBIP84_Deterministic(t *testing.T) {
	for _, currency := range []string{"BTC", "LTC"} {
		t.Run(currency, func(t *testing.T) {
			a, err := NewBIP84(currency, bip84Zpub, Mainnet)
			if err != nil {
				t.Fatal(err)
			}
			b, err := NewBIP84(currency, bip84Zpub, Mainnet)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(0); i < 100; i++ {
				addr := mustDerive(t, a, currency, i)
				if again := mustDerive(t, a, currency, i); again != addr {
					t.Fatalf("index %d: %s, then %s", i, addr, again)
				}
				if other := mustDerive(t, b, currency, i); other != addr {
					t.Fatalf("index %d: %s, but %s from a second deriver", i, addr, other)
				}
			}
		})
	}
}

// witnessProgram decodes a segwit v0 address and returns its program.
func witnessProgram(t testing.TB, addr string) []byte {
	t.Helper()
	_, data, err := bech32.Decode(addr)
	if err != nil {
		t.Fatalf("bech32 decode %s: %v", addr, err)
	}
	if len(data) == 0 || data[0] != 0 {
		t.Fatalf("%s: not witness version 0", addr)
	}
	program, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(program) != 20 {
		t.Fatalf("%s: program of %d bytes, want 20 (P2WPKH)", addr, len(program))
	}
	return program
}

func mustDerive(t testing.TB, d chain.Deriver, currency string, i uint64) string {
	t.Helper()
	addr, err := d.Derive(currency, i)
	if err != nil {
		t.Fatalf("Derive(%s, %d): %v", currency, i, err)
	}
	return addr
}
