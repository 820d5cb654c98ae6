package hd

import (
	"fmt"

	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"golang.org/x/crypto/sha3"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/evm"
)

// Branches below the Ethereum account key m/44'/60'/0', one per EVM currency
// (see the package doc for why). A new token takes the next unused number;
// a number is never reused or changed.
const (
	BranchETH  uint32 = 0 // the receive chain wallets show
	BranchUSDT uint32 = 1
)

// Ethereum derives Ethereum account addresses: address i is the EIP-55
// checksummed account of m/44'/60'/0'/branch/i. It is immutable and safe for
// concurrent use.
type Ethereum struct {
	branch    uint32
	branchKey *hdkeychain.ExtendedKey // account key's child branch, derived once
}

var _ chain.Deriver = (*Ethereum)(nil)

// NewEthereum returns the deriver for branch of the account extended public
// key of m/44'/60'/0' (an xpub; a tpub is accepted too, Ethereum addresses
// have no network). Give each EVM currency its own branch: BranchETH,
// BranchUSDT. A private key gives an error wrapping ErrPrivateKey; any other
// unusable key, or a hardened branch, one wrapping ErrInvalidKey.
func NewEthereum(key string, branch uint32) (*Ethereum, error) {
	if branch > MaxIndex {
		return nil, fmt.Errorf("ethereum deriver branch %d: %w: the branch must be a non-hardened index (max %d)",
			branch, ErrInvalidKey, MaxIndex)
	}
	pk, err := parsePublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("ethereum deriver branch %d: %w", branch, err)
	}
	if v := pk.version; v.litecoin || v.script != scriptAny {
		return nil, fmt.Errorf("ethereum deriver branch %d: %w: %s is a Bitcoin/Litecoin key;"+
			" configure the xpub of the Ethereum account m/44'/60'/0'", branch, ErrInvalidKey, v.prefix)
	}
	branchKey, err := pk.key.Derive(branch)
	if err != nil {
		// Only ErrInvalidChild (probability below 2^-127) or a key at depth 255.
		return nil, fmt.Errorf("ethereum deriver: derive branch %d: %w", branch, err)
	}
	return &Ethereum{branch: branch, branchKey: branchKey}, nil
}

// Derive returns the EIP-55 address at index. It does not look at currency:
// one Ethereum deriver is one address stream, and Set decides which currency
// uses which stream. An index above MaxIndex gives an error wrapping
// ErrIndexOutOfRange.
func (e *Ethereum) Derive(currency string, index uint64) (string, error) {
	child, err := deriveChild(e.branchKey, index)
	if err != nil {
		return "", fmt.Errorf("ethereum derive %s branch %d: %w", currency, e.branch, err)
	}
	pub, err := child.ECPubKey()
	if err != nil {
		return "", fmt.Errorf("ethereum derive %s branch %d index %d: %w", currency, e.branch, index, err)
	}
	// An Ethereum account is the last 20 bytes of Keccak-256 of the 64-byte
	// uncompressed point X || Y (without the 0x04 prefix byte).
	h := sha3.NewLegacyKeccak256()
	h.Write(pub.SerializeUncompressed()[1:])
	var addr [20]byte
	copy(addr[:], h.Sum(nil)[12:])
	return evm.ChecksumAddress(addr), nil
}
