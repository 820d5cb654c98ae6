package hd

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/sha3"

	"github.com/invoiced/invoiced/chain/evm"
)

// ethAccount0 is m/44'/60'/0'/0/0 of abandonMnemonic, as every Ethereum
// wallet library's tests publish it.
const ethAccount0 = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"

// ethAccountXpub is the account key m/44'/60'/0' of abandonMnemonic.
func ethAccountXpub(t testing.TB) string {
	t.Helper()
	return publicAt(t, bip39Seed(t, abandonMnemonic), 44+hardened, 60+hardened, 0+hardened)
}

func TestEthereum_MnemonicVector(t *testing.T) {
	d, err := NewEthereum(ethAccountXpub(t), BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustDerive(t, d, "ETH", 0); got != ethAccount0 {
		t.Errorf("m/44'/60'/0'/0/0 = %s, want %s", got, ethAccount0)
	}
}

func TestEthereum_BranchesMatchPrivateDerivation(t *testing.T) {
	seed := bip39Seed(t, abandonMnemonic)
	xpub := ethAccountXpub(t)
	for _, branch := range []uint32{BranchETH, BranchUSDT, 7} {
		d, err := NewEthereum(xpub, branch)
		if err != nil {
			t.Fatal(err)
		}
		for i := uint32(0); i < 3; i++ {
			priv, err := privateAt(t, seed, 44+hardened, 60+hardened, 0+hardened, branch, i).ECPrivKey()
			if err != nil {
				t.Fatal(err)
			}
			h := sha3.NewLegacyKeccak256()
			h.Write(priv.PubKey().SerializeUncompressed()[1:])
			var addr [20]byte
			copy(addr[:], h.Sum(nil)[12:])
			want := evm.ChecksumAddress(addr)
			if got := mustDerive(t, d, "ETH", uint64(i)); got != want {
				t.Errorf("branch %d index %d = %s, want %s", branch, i, got, want)
			}
		}
	}
}

func TestNewEthereum_Refusals(t *testing.T) {
	seed := bip39Seed(t, abandonMnemonic)
	xpub := ethAccountXpub(t)
	xprv := privateAt(t, seed, 44+hardened, 60+hardened, 0+hardened).String()
	cases := []struct {
		name    string
		key     string
		branch  uint32
		wantErr error
		wantMsg string
	}{
		{"xprv", xprv, BranchETH, ErrPrivateKey, "xprv is a private key"},
		{"zpub", bip84Zpub, BranchETH, ErrInvalidKey, "zpub is a Bitcoin/Litecoin key"},
		{"Ltub", withVersion(t, xpub, versionOf(t, "Ltub")), BranchETH, ErrInvalidKey, "Ltub is a Bitcoin/Litecoin key"},
		{"hardened branch", xpub, hardened, ErrInvalidKey, "non-hardened"},
		{"garbage", "0x9858EfFD232B4033E47d90003D41EC34EcaEda94", BranchETH, ErrInvalidKey, "outside the base58 alphabet"},
		{"bad checksum", xpub[:70] + flip(xpub[70]) + xpub[71:], BranchETH, ErrInvalidKey, "bad checksum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewEthereum(tc.key, tc.branch)
			if err == nil {
				t.Fatalf("NewEthereum accepted it: %v", d)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want it to wrap %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not say %q", err, tc.wantMsg)
			}
			assertNoLeak(t, err, tc.key)
		})
	}
}

func TestEthereum_TokenBranchNeverCollidesWithETH(t *testing.T) {
	xpub := ethAccountXpub(t)
	eth, err := NewEthereum(xpub, BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	usdt, err := NewEthereum(xpub, BranchUSDT)
	if err != nil {
		t.Fatal(err)
	}
	// Distinct within each stream, and across them at any pair of indexes.
	seen := make(map[string]string, 2000)
	for i := uint64(0); i < 1000; i++ {
		for _, d := range []struct {
			name string
			addr string
		}{
			{"ETH", mustDerive(t, eth, "ETH", i)},
			{"USDT", mustDerive(t, usdt, "USDT", i)},
		} {
			if prev, dup := seen[d.addr]; dup {
				t.Fatalf("%s index %d gives %s, already given to %s", d.name, i, d.addr, prev)
			}
			seen[d.addr] = d.name
		}
	}
}

func TestEthereum_Derive_RefusesHardenedIndex(t *testing.T) {
	d, err := NewEthereum(ethAccountXpub(t), BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Derive("ETH", MaxIndex+1); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("err = %v, want ErrIndexOutOfRange", err)
	}
}
