package hd

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/address/v2/base58"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// ErrPrivateKey is returned (wrapped) when the configured key is an extended
// private key. Callers test for it with errors.Is.
var ErrPrivateKey = errors.New("extended private key refused")

// ErrInvalidKey is returned (wrapped) when the configured key cannot be used:
// it does not parse, or it is for another network, script or coin.
var ErrInvalidKey = errors.New("invalid extended public key")

// privateKeyError names the kind of private key the operator configured. Its
// text is the whole advice; Is makes it match ErrPrivateKey.
type privateKeyError struct{ kind string }

func (e privateKeyError) Error() string {
	return e.kind + " is a private key: configure the account-level extended PUBLIC key" +
		" (xpub/zpub/vpub); invoiced never holds private keys"
}

func (e privateKeyError) Is(target error) bool { return target == ErrPrivateKey }

// script is what a key's SLIP-132 version bytes announce about the addresses
// its wallet derives.
type script int

const (
	scriptAny        script = iota // plain BIP32 (xpub, tpub, Ltub, ttub): the version says nothing
	scriptP2WPKH                   // BIP84 native segwit (zpub, vpub)
	scriptP2SHP2WPKH               // BIP49 nested segwit (ypub, upub, Mtub)
	scriptMultisig                 // SLIP-132 multisig (Ypub, Zpub, Upub, Vpub)
)

// keyVersion describes one registered extended key version.
type keyVersion struct {
	prefix   string // what the base58 string starts with: "zpub"
	private  bool
	testnet  bool // testnet, signet and regtest share version bytes
	litecoin bool // Litecoin-only versions (Ltub, ttub, Mtub)
	script   script
}

// keyVersions maps the 4 version bytes of a serialized extended key to what
// they mean: BIP32, SLIP-132 and Litecoin's registered versions. The prefixes
// are checked against the bytes by TestKeyVersions_Prefixes.
var keyVersions = map[[4]byte]keyVersion{
	{0x04, 0x88, 0xb2, 0x1e}: {prefix: "xpub"},
	{0x04, 0x88, 0xad, 0xe4}: {prefix: "xprv", private: true},
	{0x04, 0x35, 0x87, 0xcf}: {prefix: "tpub", testnet: true},
	{0x04, 0x35, 0x83, 0x94}: {prefix: "tprv", testnet: true, private: true},
	{0x04, 0xb2, 0x47, 0x46}: {prefix: "zpub", script: scriptP2WPKH},
	{0x04, 0xb2, 0x43, 0x0c}: {prefix: "zprv", script: scriptP2WPKH, private: true},
	{0x04, 0x5f, 0x1c, 0xf6}: {prefix: "vpub", script: scriptP2WPKH, testnet: true},
	{0x04, 0x5f, 0x18, 0xbc}: {prefix: "vprv", script: scriptP2WPKH, testnet: true, private: true},
	{0x04, 0x9d, 0x7c, 0xb2}: {prefix: "ypub", script: scriptP2SHP2WPKH},
	{0x04, 0x9d, 0x78, 0x78}: {prefix: "yprv", script: scriptP2SHP2WPKH, private: true},
	{0x04, 0x4a, 0x52, 0x62}: {prefix: "upub", script: scriptP2SHP2WPKH, testnet: true},
	{0x04, 0x4a, 0x4e, 0x28}: {prefix: "uprv", script: scriptP2SHP2WPKH, testnet: true, private: true},
	{0x02, 0x95, 0xb4, 0x3f}: {prefix: "Ypub", script: scriptMultisig},
	{0x02, 0x95, 0xb0, 0x05}: {prefix: "Yprv", script: scriptMultisig, private: true},
	{0x02, 0xaa, 0x7e, 0xd3}: {prefix: "Zpub", script: scriptMultisig},
	{0x02, 0xaa, 0x7a, 0x99}: {prefix: "Zprv", script: scriptMultisig, private: true},
	{0x02, 0x42, 0x89, 0xef}: {prefix: "Upub", script: scriptMultisig, testnet: true},
	{0x02, 0x42, 0x85, 0xb5}: {prefix: "Uprv", script: scriptMultisig, testnet: true, private: true},
	{0x02, 0x57, 0x54, 0x83}: {prefix: "Vpub", script: scriptMultisig, testnet: true},
	{0x02, 0x57, 0x50, 0x48}: {prefix: "Vprv", script: scriptMultisig, testnet: true, private: true},
	{0x01, 0x9d, 0xa4, 0x62}: {prefix: "Ltub", litecoin: true},
	{0x01, 0x9d, 0x9c, 0xfe}: {prefix: "Ltpv", litecoin: true, private: true},
	{0x04, 0x36, 0xf6, 0xe1}: {prefix: "ttub", litecoin: true, testnet: true},
	{0x04, 0x36, 0xef, 0x7d}: {prefix: "ttpv", litecoin: true, testnet: true, private: true},
	{0x01, 0xb2, 0x6e, 0xf6}: {prefix: "Mtub", litecoin: true, script: scriptP2SHP2WPKH},
	{0x01, 0xb2, 0x67, 0x92}: {prefix: "Mtpv", litecoin: true, script: scriptP2SHP2WPKH, private: true},
}

// serializedKeyLen is the BIP32 serialization (version, depth, parent
// fingerprint, child number, chain code, key data) plus the 4-byte checksum.
const serializedKeyLen = 4 + 1 + 4 + 4 + 32 + 33 + 4

// publicKey is a parsed extended public key and what its version announced.
type publicKey struct {
	key     *hdkeychain.ExtendedKey // version bytes normalized to xpub or tpub
	version keyVersion
}

// parsePublicKey parses a base58 extended public key and refuses private keys.
// Errors wrap ErrPrivateKey or ErrInvalidKey and quote at most the first 4
// characters of s.
//
// The returned key carries the plain BIP32 version (xpub or tpub) whatever s
// used: hdkeychain's version-aware helpers (String, IsForNet, Neuter) know only
// the versions registered in chaincfg, and the SLIP-132 meaning has been
// taken into keyVersion already.
func parsePublicKey(s string) (publicKey, error) {
	s = strings.TrimSpace(s)
	shown := shownPrefix(s)

	// A private key is refused on its prefix alone, before any decoding, so an
	// xprv with a typo is still reported as a private key rather than as a
	// checksum error the operator might "fix".
	for _, v := range keyVersions {
		if v.private && strings.HasPrefix(s, v.prefix) {
			return publicKey{}, privateKeyError{kind: v.prefix}
		}
	}

	if s == "" {
		return publicKey{}, fmt.Errorf("%w: the key is empty", ErrInvalidKey)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return !isBase58(r) }); i >= 0 {
		return publicKey{}, fmt.Errorf("%w: key starting %q has a character outside the base58 alphabet at position %d"+
			" (0, O, I and l are never used)", ErrInvalidKey, shown, i+1)
	}
	raw := base58.Decode(s)
	if len(raw) != serializedKeyLen {
		return publicKey{}, fmt.Errorf("%w: key starting %q decodes to %d bytes, want %d"+
			" (a serialized extended key is 111 characters; is it truncated?)",
			ErrInvalidKey, shown, len(raw), serializedKeyLen)
	}
	payload, sum := raw[:len(raw)-4], raw[len(raw)-4:]
	if !bytes.Equal(sum, doubleSHA256(payload)[:4]) {
		return publicKey{}, fmt.Errorf("%w: key starting %q has a bad checksum (a character is mistyped)",
			ErrInvalidKey, shown)
	}

	var id [4]byte
	copy(id[:], payload[:4])
	v, ok := keyVersions[id]
	if !ok {
		return publicKey{}, fmt.Errorf("%w: key starting %q has unknown version bytes %x"+
			" (want an extended public key such as xpub, zpub, tpub or vpub)", ErrInvalidKey, shown, id)
	}
	if v.private {
		return publicKey{}, privateKeyError{kind: v.prefix}
	}

	key, err := hdkeychain.NewKeyFromString(s)
	if err != nil {
		// The checks above leave hdkeychain only the key data to reject: a
		// point not on the curve. Its message does not quote the input.
		return publicKey{}, fmt.Errorf("%w: %s key starting %q: %v", ErrInvalidKey, v.prefix, shown, err)
	}
	if key.IsPrivate() {
		// Public version bytes around private key data (0x00 || k).
		return publicKey{}, privateKeyError{kind: v.prefix + " with private key data"}
	}

	plain := chaincfg.MainNetParams.HDPublicKeyID
	if v.testnet {
		plain = chaincfg.TestNet3Params.HDPublicKeyID
	}
	key, err = key.CloneWithVersion(plain[:])
	if err != nil {
		return publicKey{}, fmt.Errorf("%w: %s key starting %q: %v", ErrInvalidKey, v.prefix, shown, err)
	}
	return publicKey{key: key, version: v}, nil
}

// shownPrefix is the most of a configured key an error message may quote.
func shownPrefix(s string) string {
	if len(s) > 4 {
		return s[:4]
	}
	return s
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func isBase58(r rune) bool { return strings.ContainsRune(base58Alphabet, r) }

func doubleSHA256(b []byte) []byte {
	first := sha256.Sum256(b)
	second := sha256.Sum256(first[:])
	return second[:]
}
