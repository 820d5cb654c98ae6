package persistence

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Key is one API key of a project or an account, kept only as the SHA-256
// hash of the key. A project or account has one or more keys: after a roll
// the old key stays live until ExpiresAt, so the caller can switch over.
// Keys past their expiry or revoked are dropped from the record; their hash
// index entries stay (see keys.go), so a retired key can never be reused or
// come back as a new account.
type Key struct {
	ID   uuid.UUID
	Hash [32]byte
	// Prefix is the key's first 8 characters, for a merchant to recognise
	// it; empty for a key made before keys had ids.
	Prefix    string
	CreatedAt time.Time
	// ExpiresAt is when the key stops working; zero while unlimited.
	ExpiresAt time.Time
	// LastUsedAt is when the key last authenticated a request, as last
	// written (the accounts service keeps the live value in memory and
	// writes it at most every minute); zero if never.
	LastUsedAt time.Time
}

// LiveAt reports whether the key authenticates at t.
func (k Key) LiveAt(t time.Time) bool { return k.ExpiresAt.IsZero() || t.Before(k.ExpiresAt) }

type keyRecord struct {
	ID         uuid.UUID  `json:"id"`
	Hash       string     `json:"hash"`
	Prefix     string     `json:"prefix,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// legacyKeyNamespace names the ids of keys stored before keys had ids: a
// record with a bare key_hash reads as one key whose id is derived from
// the hash, so every read of an old store gives the same id without a
// write.
var legacyKeyNamespace = uuid.MustParse("6f1c1f0e-5a43-4f36-9c47-7a1d1b2e4c10")

func encodeKeys(keys []Key) []keyRecord {
	out := make([]keyRecord, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyRecord{
			ID: k.ID, Hash: hex.EncodeToString(k.Hash[:]), Prefix: k.Prefix, CreatedAt: k.CreatedAt.UTC(),
			ExpiresAt: optTime(k.ExpiresAt), LastUsedAt: optTime(k.LastUsedAt),
		})
	}
	return out
}

// decodeKeys reads a record's keys: the keys list, or for a record written
// before it the single legacy key_hash, created with the record.
func decodeKeys(recs []keyRecord, legacyHash string, created time.Time) ([]Key, error) {
	if len(recs) == 0 && legacyHash != "" {
		k := Key{CreatedAt: created}
		if err := decodeHash(legacyHash, &k.Hash); err != nil {
			return nil, err
		}
		k.ID = uuid.NewSHA1(legacyKeyNamespace, k.Hash[:])
		return []Key{k}, nil
	}
	out := make([]Key, 0, len(recs))
	for _, r := range recs {
		k := Key{ID: r.ID, Prefix: r.Prefix, CreatedAt: r.CreatedAt}
		if err := decodeHash(r.Hash, &k.Hash); err != nil {
			return nil, fmt.Errorf("key %s: %w", r.ID, err)
		}
		if r.ExpiresAt != nil {
			k.ExpiresAt = *r.ExpiresAt
		}
		if r.LastUsedAt != nil {
			k.LastUsedAt = *r.LastUsedAt
		}
		out = append(out, k)
	}
	return out, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// newHashes are the key hashes of next that prev does not have: the ones
// an update must index.
func newHashes(prev, next []Key) [][32]byte {
	had := map[[32]byte]bool{}
	for _, k := range prev {
		had[k.Hash] = true
	}
	var out [][32]byte
	for _, k := range next {
		if !had[k.Hash] {
			out = append(out, k.Hash)
		}
	}
	return out
}
