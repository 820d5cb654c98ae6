package hd

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"testing"

	"github.com/btcsuite/btcd/address/v2/base58"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// abandonMnemonic is the mnemonic of the BIP84 test vectors, also used by
// every wallet library's Ethereum tests.
const abandonMnemonic = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"

// hardened is the BIP32 offset of hardened child numbers (the ' in paths).
const hardened = hdkeychain.HardenedKeyStart

// bip39Seed is the BIP39 seed of an ASCII mnemonic with an empty passphrase:
// PBKDF2-HMAC-SHA512(mnemonic, "mnemonic", 2048 rounds, 64 bytes).
func bip39Seed(t testing.TB, mnemonic string) []byte {
	t.Helper()
	seed, err := pbkdf2.Key(sha512.New, mnemonic, []byte("mnemonic"), 2048, 64)
	if err != nil {
		t.Fatal(err)
	}
	return seed
}

// privateAt derives the private extended key at path from the master key of
// seed. Tests only: it is the wallet's side, which invoiced never runs.
func privateAt(t testing.TB, seed []byte, path ...uint32) *hdkeychain.ExtendedKey {
	t.Helper()
	k, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range path {
		if k, err = k.Derive(i); err != nil {
			t.Fatalf("derive %d: %v", i, err)
		}
	}
	return k
}

// publicAt is the neutered (xpub) form of privateAt.
func publicAt(t testing.TB, seed []byte, path ...uint32) string {
	t.Helper()
	pub, err := privateAt(t, seed, path...).Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return pub.String()
}

// withVersion re-encodes a base58 extended key with other version bytes and a
// fresh checksum, the way wallets turn an xpub into a zpub (SLIP-132).
func withVersion(t testing.TB, key string, version [4]byte) string {
	t.Helper()
	raw := base58.Decode(key)
	if len(raw) != serializedKeyLen {
		t.Fatalf("withVersion: decoded length %d", len(raw))
	}
	payload := append(version[:], raw[4:len(raw)-4]...)
	return base58.Encode(append(payload, doubleSHA256(payload)[:4]...))
}

// versionOf returns the version bytes registered for prefix.
func versionOf(t testing.TB, prefix string) [4]byte {
	t.Helper()
	for id, v := range keyVersions {
		if v.prefix == prefix {
			return id
		}
	}
	t.Fatalf("no version registered for %q", prefix)
	return [4]byte{}
}
