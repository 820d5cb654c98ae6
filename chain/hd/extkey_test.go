package hd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2/base58"
)

// BIP32 test vector 1 (seed 000102030405060708090a0b0c0d0e0f).
const (
	vector1Seed    = "000102030405060708090a0b0c0d0e0f"
	vector1M0H     = "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw"
	vector1M0H1    = "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ"
	vector1Master  = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"
	vector1MasterX = "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8"
)

func TestKeyVersions_Prefixes(t *testing.T) {
	// SLIP-132 chose the version bytes so that every key with them starts with
	// the same 4 characters, whatever the rest of the payload is.
	for id, v := range keyVersions {
		for _, fill := range []byte{0x00, 0xff} {
			payload := append(id[:], bytes.Repeat([]byte{fill}, serializedKeyLen-8)...)
			s := base58.Encode(append(payload, doubleSHA256(payload)[:4]...))
			if !strings.HasPrefix(s, v.prefix) {
				t.Errorf("version %x filled with %#x encodes as %s..., registered as %s", id, fill, s[:6], v.prefix)
			}
		}
	}
}

func TestParsePublicKey_BIP32Vector1PublicDerivation(t *testing.T) {
	seed, _ := hex.DecodeString(vector1Seed)
	if got := publicAt(t, seed); got != vector1MasterX {
		t.Fatalf("m from the seed = %s, want the published %s", got, vector1MasterX)
	}
	if got := publicAt(t, seed, 0+hardened); got != vector1M0H {
		t.Fatalf("m/0H from the seed = %s, want the published %s", got, vector1M0H)
	}
	pk, err := parsePublicKey(vector1M0H)
	if err != nil {
		t.Fatal(err)
	}
	child, err := pk.key.Derive(1)
	if err != nil {
		t.Fatal(err)
	}
	if got := child.String(); got != vector1M0H1 {
		t.Errorf("public derivation m/0H -> m/0H/1 = %s, want %s", got, vector1M0H1)
	}
}

func TestParsePublicKey_SLIP132VersionsAreTheSameKey(t *testing.T) {
	want, err := parsePublicKey(vector1M0H)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"zpub", "ypub", "Ltub", "tpub", "vpub", "ttub"} {
		t.Run(prefix, func(t *testing.T) {
			s := withVersion(t, vector1M0H, versionOf(t, prefix))
			if !strings.HasPrefix(s, prefix) {
				t.Fatalf("re-encoded key starts %s", s[:4])
			}
			got, err := parsePublicKey(s)
			if err != nil {
				t.Fatal(err)
			}
			if got.version.prefix != prefix {
				t.Errorf("version parsed as %s", got.version.prefix)
			}
			// Normalized to xpub or tpub; the key material is unchanged.
			wantStr := want.key.String()
			if got.version.testnet {
				wantStr = withVersion(t, wantStr, versionOf(t, "tpub"))
			}
			if got.key.String() != wantStr {
				t.Errorf("normalized key = %s, want %s", got.key.String(), wantStr)
			}
		})
	}
}

func TestParsePublicKey_TrimsSurroundingSpace(t *testing.T) {
	if _, err := parsePublicKey(" \t" + vector1M0H + "\n"); err != nil {
		t.Fatal(err)
	}
}

func TestParsePublicKey_RefusesPrivateKeys(t *testing.T) {
	seed, _ := hex.DecodeString(vector1Seed)
	xprv := privateAt(t, seed).String()
	if xprv != vector1Master {
		t.Fatalf("master key = %s, want the published %s", xprv, vector1Master)
	}
	// Public version bytes around private key data (0x00 || k).
	xpubVersionPrivateData := withVersion(t, xprv, versionOf(t, "xpub"))

	cases := []struct {
		name, key, kind string
	}{
		{"xprv", xprv, "xprv"},
		{"tprv", withVersion(t, xprv, versionOf(t, "tprv")), "tprv"},
		{"zprv", withVersion(t, xprv, versionOf(t, "zprv")), "zprv"},
		{"vprv", withVersion(t, xprv, versionOf(t, "vprv")), "vprv"},
		{"yprv", withVersion(t, xprv, versionOf(t, "yprv")), "yprv"},
		{"Zprv", withVersion(t, xprv, versionOf(t, "Zprv")), "Zprv"},
		{"Ltpv", withVersion(t, xprv, versionOf(t, "Ltpv")), "Ltpv"},
		{"ttpv", withVersion(t, xprv, versionOf(t, "ttpv")), "ttpv"},
		{"xprv with a typo", xprv[:50] + flip(xprv[50]) + xprv[51:], "xprv"},
		{"truncated xprv", xprv[:60], "xprv"},
		{"xpub version with private key data", xpubVersionPrivateData, "xpub with private key data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.HasPrefix(tc.key, tc.kind[:4]) {
				t.Fatalf("test key starts %s, want %s", tc.key[:4], tc.kind[:4])
			}
			_, err := parsePublicKey(tc.key)
			if !errors.Is(err, ErrPrivateKey) {
				t.Fatalf("err = %v, want ErrPrivateKey", err)
			}
			want := tc.kind + " is a private key: configure the account-level extended PUBLIC key" +
				" (xpub/zpub/vpub); invoiced never holds private keys"
			if err.Error() != want {
				t.Errorf("message = %q, want %q", err, want)
			}
			assertNoLeak(t, err, tc.key)
		})
	}
}

func TestParsePublicKey_RefusesUnusableInput(t *testing.T) {
	good := vector1M0H
	raw := base58.Decode(good)
	offCurve := append([]byte(nil), raw[:45]...) // version .. chain code
	offCurve = append(offCurve, 0x02)
	offCurve = append(offCurve, bytes.Repeat([]byte{0xff}, 32)...) // x >= field prime
	offCurve = append(offCurve, doubleSHA256(offCurve)[:4]...)

	cases := []struct {
		name, key, wantMsg string
	}{
		{"empty", "", "empty"},
		{"blank", " \n", "empty"},
		{"not base58", good[:20] + "0" + good[21:], "outside the base58 alphabet at position 21"},
		{"words", "my xpub goes here", "outside the base58 alphabet"},
		{"truncated", good[:len(good)-1], "want 82"},
		{"extra characters", good + "abc", "want 82"},
		{"bad checksum", good[:40] + flip(good[40]) + good[41:], "bad checksum"},
		{"unknown version", withVersion(t, good, [4]byte{0xde, 0xad, 0xbe, 0xef}), "unknown version bytes deadbeef"},
		{"key data not on the curve", base58.Encode(offCurve), "xpub key starting \"xpub\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePublicKey(tc.key)
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("err = %v, want ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not say %q", err, tc.wantMsg)
			}
			assertNoLeak(t, err, tc.key)
		})
	}
}

// flip returns a base58 character other than c.
func flip(c byte) string {
	if c == 'z' {
		return "y"
	}
	return "z"
}

// assertNoLeak fails if err's message repeats any 6 consecutive characters of
// key: only the 4-character prefix may be shown.
func assertNoLeak(t *testing.T, err error, key string) {
	t.Helper()
	key = strings.TrimSpace(key)
	msg := err.Error()
	for i := 0; i+6 <= len(key); i++ {
		if w := key[i : i+6]; strings.Contains(msg, w) {
			t.Errorf("message %q repeats %q from the configured key", msg, w)
			return
		}
	}
}
