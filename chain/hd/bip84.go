package hd

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/segwit"
)

// MaxIndex is the largest derivation index: indexes are non-hardened BIP32
// child numbers, because hardened children cannot be derived from a public key.
const MaxIndex = hdkeychain.HardenedKeyStart - 1

// ErrIndexOutOfRange is returned (wrapped) for an index above MaxIndex.
var ErrIndexOutOfRange = errors.New("derivation index out of range")

// bip84HRP is the bech32 human-readable part of segwit addresses per currency
// and network.
var bip84HRP = map[string]map[Net]string{
	"BTC": {Mainnet: "bc", Testnet: "tb", Regtest: "bcrt"},
	"LTC": {Mainnet: "ltc", Testnet: "tltc", Regtest: "rltc"},
}

// BIP84 derives native segwit (P2WPKH) deposit addresses for one currency,
// BTC or LTC: address i is the receive address m/84'/coin'/0'/0/i of the
// merchant's wallet. It is immutable and safe for concurrent use.
type BIP84 struct {
	currency string
	hrp      string
	receive  *hdkeychain.ExtendedKey // account key's child 0, derived once
}

var _ chain.Deriver = (*BIP84)(nil)

// NewBIP84 returns the deriver for currency ("BTC" or "LTC") from the account
// extended public key of m/84'/coin'/0': a zpub or xpub (Litecoin: also Ltub)
// for Mainnet, a vpub or tpub (Litecoin: also ttub) for Testnet and Regtest.
// Another currency gives an error wrapping chain.ErrUnsupportedCurrency; a
// private key one wrapping ErrPrivateKey; any other unusable key (unparsable,
// for another network, or a BIP49/multisig key) one wrapping ErrInvalidKey.
func NewBIP84(currency, key string, net Net) (*BIP84, error) {
	hrps, ok := bip84HRP[currency]
	if !ok {
		return nil, fmt.Errorf("bip84 deriver for %q: %w (want BTC or LTC)", currency, chain.ErrUnsupportedCurrency)
	}
	if !net.valid() {
		return nil, fmt.Errorf("bip84 deriver for %s: unknown network %q", currency, net)
	}
	pk, err := parsePublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("bip84 deriver for %s: %w", currency, err)
	}
	if err := checkBIP84Key(pk.version, currency, net); err != nil {
		return nil, fmt.Errorf("bip84 deriver for %s: %w", currency, err)
	}
	receive, err := pk.key.Derive(0)
	if err != nil {
		// Only ErrInvalidChild (probability below 2^-127) or a key at depth 255.
		return nil, fmt.Errorf("bip84 deriver for %s: derive receive branch 0: %w", currency, err)
	}
	return &BIP84{currency: currency, hrp: hrps[net], receive: receive}, nil
}

// checkBIP84Key refuses keys whose version bytes say they belong to another
// network, coin or script: deriving from them would give addresses the
// merchant's wallet never scans.
func checkBIP84Key(v keyVersion, currency string, net Net) error {
	switch {
	case v.testnet && !net.testnet():
		return fmt.Errorf("%w: %s is a testnet/regtest key but the network is %s"+
			" (on mainnet configure the zpub or xpub)", ErrInvalidKey, v.prefix, net)
	case !v.testnet && net.testnet():
		return fmt.Errorf("%w: %s is a mainnet key but the network is %s"+
			" (on testnet, signet and regtest configure the vpub or tpub)", ErrInvalidKey, v.prefix, net)
	case v.litecoin && currency != "LTC":
		return fmt.Errorf("%w: %s is a Litecoin key but the currency is %s", ErrInvalidKey, v.prefix, currency)
	case v.script == scriptP2SHP2WPKH:
		return fmt.Errorf("%w: %s is a BIP49 nested segwit (P2SH-P2WPKH) key; invoiced derives BIP84 native"+
			" segwit addresses: configure the zpub/vpub of m/84'/coin'/0'", ErrInvalidKey, v.prefix)
	case v.script == scriptMultisig:
		return fmt.Errorf("%w: %s is a multisig key; invoiced derives single-key BIP84 addresses:"+
			" configure the zpub/vpub of m/84'/coin'/0'", ErrInvalidKey, v.prefix)
	}
	return nil
}

// Derive returns the P2WPKH address at index for the deriver's currency. Any
// other currency gives an error wrapping chain.ErrUnsupportedCurrency, an
// index above MaxIndex one wrapping ErrIndexOutOfRange.
func (b *BIP84) Derive(currency string, index uint64) (string, error) {
	if currency != b.currency {
		return "", fmt.Errorf("bip84 %s derive %q index %d: %w", b.currency, currency, index, chain.ErrUnsupportedCurrency)
	}
	child, err := deriveChild(b.receive, index)
	if err != nil {
		return "", fmt.Errorf("bip84 derive %s: %w", currency, err)
	}
	pub, err := child.ECPubKey()
	if err != nil {
		return "", fmt.Errorf("bip84 derive %s index %d: %w", currency, index, err)
	}
	addr, err := segwit.EncodeV0(b.hrp, [20]byte(address.Hash160(pub.SerializeCompressed())))
	if err != nil {
		return "", fmt.Errorf("bip84 derive %s index %d: %w", currency, index, err)
	}
	return addr, nil
}

// deriveChild derives the non-hardened child index of parent.
func deriveChild(parent *hdkeychain.ExtendedKey, index uint64) (*hdkeychain.ExtendedKey, error) {
	if index > MaxIndex {
		return nil, fmt.Errorf("index %d: %w (max %d)", index, ErrIndexOutOfRange, MaxIndex)
	}
	child, err := parent.Derive(uint32(index))
	if err != nil {
		// ErrInvalidChild has probability below 2^-127 per index; BIP32 says
		// to skip such an index, which only the index allocator could do.
		return nil, fmt.Errorf("index %d: %w", index, err)
	}
	return child, nil
}
