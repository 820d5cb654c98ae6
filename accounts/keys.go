package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// KeyLen is the length of an API key in hex characters, and PrefixLen how
// many of them are kept to recognise a key by (32 of its 256 bits: enough
// to tell keys apart in a list, far too few to guess the rest).
const (
	KeyLen    = 64
	PrefixLen = 8
)

// NewKey returns a fresh API key.
func NewKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// HashKey is the stored form of a key.
func HashKey(key string) [32]byte {
	if len(key) == KeyLen {
		// on the stack: converting a string this long to []byte allocates
		var b [KeyLen]byte
		copy(b[:], key)
		return sha256.Sum256(b[:])
	}
	return sha256.Sum256([]byte(key))
}

// WellFormedKey reports whether key has the shape of an API key: exactly 64
// lowercase hex characters. Anything else is refused without a lookup.
func WellFormedKey(key string) bool {
	if len(key) != KeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
