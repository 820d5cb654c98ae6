package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Header names of a delivery.
const (
	// HeaderID is stable across retries of one event; receivers deduplicate on it.
	HeaderID = "X-Webhook-Id"
	// HeaderTimestamp is the signed time, decimal unix seconds.
	HeaderTimestamp = "X-Webhook-Timestamp"
	// HeaderSignature holds one or more "v1=<hex>" signatures.
	HeaderSignature = "X-Webhook-Signature"
)

// DefaultTolerance is the replay window the README tells merchants to use,
// and what Verify applies when given a tolerance <= 0.
const DefaultTolerance = 5 * time.Minute

// signatureScheme prefixes each signature in the header. A future scheme gets
// a new prefix, so receivers can accept both during a migration; Verify
// ignores prefixes it does not know.
const signatureScheme = "v1="

// SigningKey derives a project's webhook signing key from its API key: the 32
// bytes of SHA-256(apiKey). The server stores only this hash of the key, and
// the merchant can compute it from the key it holds.
func SigningKey(apiKey string) [32]byte {
	return sha256.Sum256([]byte(apiKey))
}

// Sign returns the X-Webhook-Signature header value:
// "v1=" + lowercase hex(HMAC-SHA256(key, decimal ts + "." + body)).
func Sign(key [32]byte, ts int64, body []byte) string {
	return signatureScheme + hex.EncodeToString(mac(key, strconv.FormatInt(ts, 10), body))
}

// SignAll is the header value signed with each of keys:
// "v1=<hex>,v1=<hex>", in the order of keys.
func SignAll(keys [][32]byte, ts int64, body []byte) string {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		sigs = append(sigs, Sign(k, ts, body))
	}
	return strings.Join(sigs, ",")
}

func mac(key [32]byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify is the check a merchant writes: header is the X-Webhook-Signature
// value, ts the X-Webhook-Timestamp value exactly as received, body the raw
// request body. It accepts the request if any "v1=" entry of the header
// (entries are separated by commas or spaces, so a key rotation can send two)
// matches, and the timestamp is within tolerance of now in either direction.
//
// The MAC is computed over ts as received, not a re-formatted number, which
// is what a receiver in any language does by concatenating header and body.
// It returns an error wrapping ErrBadSignature or ErrStaleTimestamp.
func Verify(key [32]byte, header string, ts string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrBadSignature, ts)
	}
	want := mac(key, ts, body)
	candidates, matched := 0, false
	for _, entry := range strings.FieldsFunc(header, isSeparator) {
		hexSig, ok := strings.CutPrefix(entry, signatureScheme)
		if !ok {
			continue
		}
		sig, err := hex.DecodeString(hexSig)
		if err != nil || len(sig) != sha256.Size {
			continue
		}
		candidates++
		if hmac.Equal(sig, want) {
			matched = true
		}
	}
	switch {
	case candidates == 0:
		return fmt.Errorf("%w: no well-formed %q entry in header", ErrBadSignature, signatureScheme)
	case !matched:
		return fmt.Errorf("%w: none of %d signatures match", ErrBadSignature, candidates)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: signed at %d, %s from now (tolerance %s)", ErrStaleTimestamp, sec, skew, tolerance)
	}
	return nil
}

func isSeparator(r rune) bool { return r == ',' || unicode.IsSpace(r) }
