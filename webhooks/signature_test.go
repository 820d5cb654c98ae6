package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The vector was also computed outside Go, for merchants checking their own
// implementation:
//
//	K=$(printf k | sha256sum | cut -c1-64)
//	printf '1700000000.{"a":1}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K
const (
	vectorKeyHex = "8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a"
	vectorSig    = "v1=4f74e8f494f96a8053041050cc1e5c6f23fd8e1b143214b500f75f830f77b9ad"
	vectorTS     = 1700000000
	vectorBody   = `{"a":1}`
)

func TestSign_FixedVector(t *testing.T) {
	key := SigningKey("k")
	if got := hex.EncodeToString(key[:]); got != vectorKeyHex {
		t.Fatalf("SigningKey(k) = %s, want %s", got, vectorKeyHex)
	}
	raw := sha256.Sum256([]byte("k"))
	m := hmac.New(sha256.New, raw[:])
	m.Write([]byte(`1700000000.{"a":1}`))
	independent := "v1=" + hex.EncodeToString(m.Sum(nil))
	if independent != vectorSig {
		t.Fatalf("crypto/hmac gives %s, openssl gave %s", independent, vectorSig)
	}
	if got := Sign(key, vectorTS, []byte(vectorBody)); got != vectorSig {
		t.Fatalf("Sign = %s, want %s", got, vectorSig)
	}
}

func TestVerify(t *testing.T) {
	key := SigningKey("k")
	now := time.Unix(vectorTS, 0).Add(30 * time.Second)
	ts := strconv.Itoa(vectorTS)
	signedAt := func(at time.Time) (string, string) {
		return Sign(key, at.Unix(), []byte(vectorBody)), strconv.FormatInt(at.Unix(), 10)
	}
	otherKey := Sign(SigningKey("other"), vectorTS, []byte(vectorBody))
	oldSig, oldTS := signedAt(now.Add(-5*time.Minute - time.Second))
	edgeSig, edgeTS := signedAt(now.Add(-5 * time.Minute))
	futureSig, futureTS := signedAt(now.Add(5*time.Minute + time.Second))

	tests := []struct {
		name   string
		header string
		ts     string
		body   string
		want   error
	}{
		{"valid", vectorSig, ts, vectorBody, nil},
		{"upper-case hex", "v1=" + strings.ToUpper(vectorSig[3:]), ts, vectorBody, nil},
		{"rotation: second of two, comma", otherKey + "," + vectorSig, ts, vectorBody, nil},
		{"rotation: first of two, space", vectorSig + " " + otherKey, ts, vectorBody, nil},
		{"rotation: comma and space", otherKey + ", " + vectorSig, ts, vectorBody, nil},
		{"unknown scheme ignored", "v2=abcd " + vectorSig, ts, vectorBody, nil},
		{"exactly at tolerance", edgeSig, edgeTS, vectorBody, nil},
		{"changed body", vectorSig, ts, `{"a":2}`, ErrBadSignature},
		{"changed ts", vectorSig, strconv.Itoa(vectorTS + 1), vectorBody, ErrBadSignature},
		{"non-canonical ts", vectorSig, "0" + ts, vectorBody, ErrBadSignature},
		{"wrong key", otherKey, ts, vectorBody, ErrBadSignature},
		{"stale", oldSig, oldTS, vectorBody, ErrStaleTimestamp},
		{"future", futureSig, futureTS, vectorBody, ErrStaleTimestamp},
		{"empty header", "", ts, vectorBody, ErrBadSignature},
		{"no value", "v1=", ts, vectorBody, ErrBadSignature},
		{"no scheme", vectorSig[3:], ts, vectorBody, ErrBadSignature},
		{"other scheme only", "sha256=" + vectorSig[3:], ts, vectorBody, ErrBadSignature},
		{"not hex", "v1=" + strings.Repeat("z", 64), ts, vectorBody, ErrBadSignature},
		{"truncated", vectorSig[:len(vectorSig)-2], ts, vectorBody, ErrBadSignature},
		{"ts not a number", vectorSig, "yesterday", vectorBody, ErrBadSignature},
		{"ts empty", vectorSig, "", vectorBody, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(key, tt.header, tt.ts, []byte(tt.body), now, 5*time.Minute)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerify_NonPositiveToleranceMeansDefault(t *testing.T) {
	key := SigningKey("k")
	at := time.Unix(vectorTS, 0)
	sig := Sign(key, vectorTS, []byte(vectorBody))
	ts := strconv.Itoa(vectorTS)
	if err := Verify(key, sig, ts, []byte(vectorBody), at.Add(DefaultTolerance), 0); err != nil {
		t.Fatalf("inside default window: %v", err)
	}
	if err := Verify(key, sig, ts, []byte(vectorBody), at.Add(DefaultTolerance+time.Second), 0); !errors.Is(err, ErrStaleTimestamp) {
		t.Fatalf("outside default window: %v, want ErrStaleTimestamp", err)
	}
}

// TestSignAll_ReceiverHoldingEitherKey: during a key roll's overlap a
// webhook carries one signature per live key, and a receiver that holds
// only the old key, or only the new one, accepts it; one holding neither
// does not.
func TestSignAll_ReceiverHoldingEitherKey(t *testing.T) {
	oldKey, newKey := SigningKey("old project key"), SigningKey("new project key")
	body := []byte(vectorBody)
	header := SignAll([][32]byte{newKey, oldKey}, vectorTS, body)
	// Computed with openssl as the single-key vector above; docs/keys.md
	// gives it to merchants.
	const want = "v1=e9368c6835afab8c38ff9885fe5c6bcfe1f56c1f818d83f70e93442dcff94e83," +
		"v1=f80a20955cba4c1635ec18be6c052ad46fa99b4132683612d8dc8c3412f1b19c"
	if header != want {
		t.Fatalf("header %q, want %q", header, want)
	}
	now := time.Unix(vectorTS, 0)
	for _, tc := range []struct {
		name string
		key  [32]byte
		want error
	}{
		{"receiver with the old key", oldKey, nil},
		{"receiver with the new key", newKey, nil},
		{"receiver with another key", SigningKey("leaked and replaced long ago"), ErrBadSignature},
	} {
		err := Verify(tc.key, header, strconv.Itoa(vectorTS), body, now, DefaultTolerance)
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := SignAll([][32]byte{SigningKey("k")}, vectorTS, body); got != vectorSig {
		t.Fatalf("one key: %q, want the single signature %q", got, vectorSig)
	}
}
