package devchain

import (
	"fmt"

	"github.com/btcsuite/btcd/address/v2/bech32"
)

// segwitV0Address encodes a 20-byte witness program as a BIP173 segwit v0
// (P2WPKH-shaped) address. BIP173 puts the witness version in the data part as
// one 5-bit group ahead of the program converted to 5-bit groups; version 0 uses
// the original bech32 checksum, not bech32m. (bech32.EncodeFromBase256 would
// convert the version byte as 8 bits, which is wrong here.)
func segwitV0Address(hrp string, program [20]byte) (string, error) {
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
