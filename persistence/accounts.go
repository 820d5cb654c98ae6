package persistence

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Account owns projects. Its API key is kept only as a SHA-256 hash.
type Account struct {
	ID        uuid.UUID
	KeyHash   [32]byte
	CreatedAt time.Time
}

type accountRecord struct {
	ID        uuid.UUID `json:"id"`
	KeyHash   string    `json:"key_hash"`
	CreatedAt time.Time `json:"created_at"`
}

// PutAccount stores the account and its key-hash index in one synced batch.
// It returns ErrClaimTaken (wrapped) if the key hash is already used by
// another account, or the account id exists with another key; it is
// idempotent if the same account already exists (so a bootstrap can run on
// every start).
func (s *Store) PutAccount(a Account) error {
	rec, err := encodeRecord(accountRecord{ID: a.ID, KeyHash: hex.EncodeToString(a.KeyHash[:]), CreatedAt: a.CreatedAt.UTC()})
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	idKey, hashKey := accountKey(a.ID), accountHashKey(a.KeyHash)
	held := s.stripes.lock([][]byte{idKey, hashKey})
	defer s.stripes.unlock(held)

	owner, err := s.get(hashKey)
	switch {
	case err == nil && bytes.Equal(owner, a.ID[:]):
		return nil
	case err == nil:
		return fmt.Errorf("put account %s: key hash used by account %x: %w", a.ID, owner, ErrClaimTaken)
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	if ok, err := s.exists(idKey); err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	} else if ok {
		return fmt.Errorf("put account %s: exists with another key: %w", a.ID, ErrClaimTaken)
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := errors.Join(b.Set(idKey, rec, nil), b.Set(hashKey, a.ID[:], nil)); err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	if err := b.Commit(syncWrite); err != nil {
		return fmt.Errorf("put account %s: write: %w", a.ID, err)
	}
	return nil
}

// AccountByKeyHash returns the account whose key hashes to h (ErrNotFound).
func (s *Store) AccountByKeyHash(h [32]byte) (Account, error) {
	a, err := s.accountByHash(h)
	if err != nil {
		return Account{}, fmt.Errorf("account by key hash: %w", err)
	}
	return a, nil
}

func (s *Store) accountByHash(h [32]byte) (Account, error) {
	id, err := s.get(accountHashKey(h))
	if err != nil {
		return Account{}, err
	}
	uid, err := uuid.FromBytes(id)
	if err != nil {
		return Account{}, fmt.Errorf("corrupt key hash index: %w", err)
	}
	return s.account(uid)
}

func (s *Store) account(id uuid.UUID) (Account, error) {
	v, err := s.get(accountKey(id))
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", id, err)
	}
	var rec accountRecord
	if err := decodeRecord(v, &rec); err != nil {
		return Account{}, fmt.Errorf("account %s: %w", id, err)
	}
	a := Account{ID: rec.ID, CreatedAt: rec.CreatedAt}
	if err := decodeHash(rec.KeyHash, &a.KeyHash); err != nil {
		return Account{}, fmt.Errorf("account %s: %w", id, err)
	}
	return a, nil
}

func decodeHash(s string, h *[32]byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return fmt.Errorf("bad key hash %q", s)
	}
	copy(h[:], b)
	return nil
}
