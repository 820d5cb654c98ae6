package devchain

import (
	"encoding/hex"

	"golang.org/x/crypto/sha3"
)

// eip55Address formats a 20-byte Ethereum account as "0x" plus 40 hex digits
// with the EIP-55 mixed-case checksum: a letter digit is upper case when the
// matching nibble of Keccak-256 (the pre-standard variant Ethereum uses, not
// SHA3-256) of the lower-case hex is 8 or more. Wallets reject a mistyped
// checksummed address, so developers see the same format as on a real chain.
func eip55Address(addr [20]byte) string {
	lower := make([]byte, 40)
	hex.Encode(lower, addr[:])

	h := sha3.NewLegacyKeccak256()
	h.Write(lower)
	digest := h.Sum(nil)

	out := make([]byte, 2, 42)
	out[0], out[1] = '0', 'x'
	for i, c := range lower {
		nibble := digest[i/2]
		if i%2 == 0 {
			nibble >>= 4
		} else {
			nibble &= 0x0f
		}
		if c >= 'a' && nibble >= 8 {
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}
