package devchain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/evm"
	"github.com/invoiced/invoiced/chain/segwit"
)

// Human-readable parts of the regtest networks. Regtest prefixes make a
// development address fail to parse in any mainnet wallet.
const (
	hrpBitcoinRegtest  = "bcrt"
	hrpLitecoinRegtest = "rltc"
)

// devSeed is the fixed seed behind DevSeed. Changing it changes every
// development address, so existing development databases would point at
// addresses the deriver no longer produces.
const devSeed = "invoiced development seed v1: addresses derived from this seed are not spendable"

// DevSeed returns the fixed development seed:
// the ASCII bytes of "invoiced development seed v1: addresses derived from this seed are not spendable".
//
// It is public on purpose. The addresses derived from it (or from any seed, with
// this package) are not spendable by anyone, because they are keyed hashes, not
// hashes of public keys; they are for development only. Coins sent to them on a
// real network are lost.
func DevSeed() []byte {
	return []byte(devSeed)
}

// Deriver is the development chain.Deriver. It is immutable and safe for
// concurrent use.
//
// The 20 address bytes for (currency, index) are the first 20 bytes of
// HMAC-SHA256(seed, currency || 0x00 || big-endian uint64 index). The currency
// code is part of the message so that ETH and USDT, which share an address
// format, never get the same address for the same index. The 0x00 separator
// keeps codes that are prefixes of each other apart.
type Deriver struct {
	seed []byte
}

var _ chain.Deriver = (*Deriver)(nil)

// NewDeriver returns a Deriver keyed by seed. The seed is copied, so the caller
// may reuse its slice.
func NewDeriver(seed []byte) *Deriver {
	return &Deriver{seed: append([]byte(nil), seed...)}
}

// Derive returns the development address for currency ("BTC", "LTC", "ETH" or
// "USDT", upper case) at index. Any other currency gives an error wrapping
// chain.ErrUnsupportedCurrency.
func (d *Deriver) Derive(currency string, index uint64) (string, error) {
	var encode func([20]byte) (string, error)
	switch currency {
	case "BTC":
		encode = func(p [20]byte) (string, error) { return segwit.EncodeV0(hrpBitcoinRegtest, p) }
	case "LTC":
		encode = func(p [20]byte) (string, error) { return segwit.EncodeV0(hrpLitecoinRegtest, p) }
	case "ETH", "USDT":
		// USDT is an ERC-20 token: its deposit address is an Ethereum account.
		encode = func(p [20]byte) (string, error) { return evm.ChecksumAddress(p), nil }
	default:
		return "", fmt.Errorf("devchain derive %q index %d: %w", currency, index, chain.ErrUnsupportedCurrency)
	}
	addr, err := encode(d.addressBytes(currency, index))
	if err != nil {
		return "", fmt.Errorf("devchain derive %s index %d: %w", currency, index, err)
	}
	return addr, nil
}

// addressBytes is the keyed derivation described on Deriver.
func (d *Deriver) addressBytes(currency string, index uint64) [20]byte {
	mac := hmac.New(sha256.New, d.seed)
	msg := make([]byte, 0, len(currency)+1+8)
	msg = append(msg, currency...)
	msg = append(msg, 0x00)
	msg = binary.BigEndian.AppendUint64(msg, index)
	mac.Write(msg)
	var out [20]byte
	copy(out[:], mac.Sum(nil))
	return out
}
