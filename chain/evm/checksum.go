// Package evm holds what every EVM chain's account addresses share, for
// the packages that derive them (chain/hd, chain/devchain), watch them
// (chain/ethereum) and pay them in tests: the EIP-55 checksummed form, the
// one form they all hand out, so addresses compare equal as strings.
package evm

import (
	"encoding/hex"

	"golang.org/x/crypto/sha3"
)

// ChecksumAddress formats a 20-byte account as "0x" and 40 hex digits with
// the EIP-55 mixed-case checksum: a letter is upper case when the matching
// nibble of the Keccak-256 (the pre-standard variant Ethereum uses, not
// SHA3-256) of the lower-case hex is 8 or more. Wallets reject a mistyped
// checksummed address.
func ChecksumAddress(addr [20]byte) string {
	var buf [42]byte
	buf[0], buf[1] = '0', 'x'
	hex.Encode(buf[2:], addr[:])
	h := sha3.NewLegacyKeccak256()
	h.Write(buf[2:])
	var sum [32]byte
	h.Sum(sum[:0])
	for i := 2; i < len(buf); i++ {
		nibble := sum[(i-2)/2]
		if i%2 == 0 {
			nibble >>= 4
		}
		if buf[i] >= 'a' && nibble&0xf >= 8 {
			buf[i] -= 'a' - 'A'
		}
	}
	return string(buf[:])
}
