// Package segwit encodes native segwit addresses (BIP173) for the packages
// that hand them out: chain/hd from a merchant's key, chain/devchain from a
// development seed. btcd's address package takes a *chaincfg.Params, and
// chaincfg has no Litecoin networks; this takes only the human-readable
// part.
package segwit

import (
	"fmt"

	"github.com/btcsuite/btcd/address/v2/bech32"
)

// EncodeV0 encodes a 20-byte witness program (a P2WPKH public key hash) as
// a segwit version 0 address with the human-readable part hrp ("bc",
// "tb", "bcrt", "ltc", ...). BIP173 puts the witness version in the data
// part as one 5-bit group ahead of the program in 5-bit groups; version 0
// uses the original bech32 checksum, not bech32m. (bech32.EncodeFromBase256
// would convert the version byte as 8 bits, which is wrong here.)
func EncodeV0(hrp string, program [20]byte) (string, error) {
	groups, err := bech32.ConvertBits(program[:], 8, 5, true)
	if err != nil {
		return "", fmt.Errorf("convert witness program to 5-bit groups: %w", err)
	}
	data := make([]byte, 0, 1+len(groups))
	data = append(data, 0) // witness version 0
	data = append(data, groups...)
	addr, err := bech32.Encode(hrp, data)
	if err != nil {
		return "", fmt.Errorf("bech32 encode with hrp %q: %w", hrp, err)
	}
	return addr, nil
}
