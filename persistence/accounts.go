package persistence

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// Account owns projects. Its API keys are kept only as SHA-256 hashes.
type Account struct {
	ID        uuid.UUID
	Keys      []Key
	CreatedAt time.Time
}

type accountRecord struct {
	ID   uuid.UUID   `json:"id"`
	Keys []keyRecord `json:"keys,omitempty"`
	// KeyHash is the single key of a record written before keys had ids;
	// read (see decodeKeys), never written.
	KeyHash   string    `json:"key_hash,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func encodeAccount(a Account) ([]byte, error) {
	return encodeRecord(accountRecord{ID: a.ID, Keys: encodeKeys(a.Keys), CreatedAt: a.CreatedAt.UTC()})
}

// PutAccount stores a new account, the hash index of each of its keys and
// the audit events in one synced batch. It returns ErrClaimTaken (wrapped)
// if a key hash is already used by another account, or the account id
// exists with other keys; it is idempotent if the same account already
// exists (its first key indexed to it), so a bootstrap can run on every
// start.
func (s *Store) PutAccount(a Account, events []AuditEvent) error {
	if len(a.Keys) == 0 {
		return fmt.Errorf("put account %s: no key: %w", a.ID, ErrInvalidArgument)
	}
	rec, err := encodeAccount(a)
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	idKey := accountKey(a.ID)
	hashKeys := make([][]byte, 0, len(a.Keys))
	for _, h := range newHashes(nil, a.Keys) {
		hashKeys = append(hashKeys, accountHashKey(h))
	}
	held := s.stripes.lock(append([][]byte{idKey}, hashKeys...))
	defer s.stripes.unlock(held)

	owner, err := s.get(hashKeys[0])
	switch {
	case err == nil && bytes.Equal(owner, a.ID[:]):
		return nil
	case err == nil:
		return fmt.Errorf("put account %s: key hash used by account %x: %w", a.ID, owner, ErrClaimTaken)
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	if err := s.checkUnused(append([][]byte{idKey}, hashKeys[1:]...)); err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	errs := []error{b.Set(idKey, rec, nil), setAuditEvents(b, events)}
	for _, k := range hashKeys {
		errs = append(errs, b.Set(k, a.ID[:], nil))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	if err := b.Commit(syncWrite); err != nil {
		return fmt.Errorf("put account %s: write: %w", a.ID, err)
	}
	return nil
}

// UpdateAccount replaces account prev with next and writes the audit
// events in one synced batch; keys new in next get their hash index
// entries (those of dropped keys stay). Callers serialize the updates of
// one account.
func (s *Store) UpdateAccount(prev, next Account, events []AuditEvent) error {
	if prev.ID != next.ID {
		return fmt.Errorf("update account %s: id changed: %w", prev.ID, ErrInvalidArgument)
	}
	rec, err := encodeAccount(next)
	if err != nil {
		return fmt.Errorf("update account %s: %w", next.ID, err)
	}
	idKey := accountKey(next.ID)
	var hashKeys [][]byte
	for _, h := range newHashes(prev.Keys, next.Keys) {
		hashKeys = append(hashKeys, accountHashKey(h))
	}
	held := s.stripes.lock(append([][]byte{idKey}, hashKeys...))
	defer s.stripes.unlock(held)
	if ok, err := s.exists(idKey); err != nil {
		return fmt.Errorf("update account %s: %w", next.ID, err)
	} else if !ok {
		return fmt.Errorf("update account %s: %w", next.ID, ErrNotFound)
	}
	if err := s.checkUnused(hashKeys); err != nil {
		return fmt.Errorf("update account %s: %w", next.ID, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	errs := []error{b.Set(idKey, rec, nil), setAuditEvents(b, events)}
	for _, k := range hashKeys {
		errs = append(errs, b.Set(k, next.ID[:], nil))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("update account %s: %w", next.ID, err)
	}
	if err := b.Commit(syncWrite); err != nil {
		return fmt.Errorf("update account %s: write: %w", next.ID, err)
	}
	return nil
}

// AccountByKeyHash returns the account whose key hashed to h, also when
// that key has since been dropped (ErrNotFound if none ever did).
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
	v, err := s.get(accountKey(uid))
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", uid, err)
	}
	a, err := decodeAccount(v)
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", uid, err)
	}
	return a, nil
}

// Accounts returns all accounts, for warming a cache at start.
func (s *Store) Accounts() ([]Account, error) {
	p := []byte{prefixAccount}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	var out []Account
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("accounts: %x: %w", it.Key(), errors.Join(err, it.Close()))
		}
		a, err := decodeAccount(v)
		if err != nil {
			return nil, fmt.Errorf("accounts: %x: %w", it.Key(), errors.Join(err, it.Close()))
		}
		out = append(out, a)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return out, nil
}

func decodeAccount(v []byte) (Account, error) {
	var rec accountRecord
	if err := decodeRecord(v, &rec); err != nil {
		return Account{}, err
	}
	keys, err := decodeKeys(rec.Keys, rec.KeyHash, rec.CreatedAt)
	if err != nil {
		return Account{}, err
	}
	return Account{ID: rec.ID, Keys: keys, CreatedAt: rec.CreatedAt}, nil
}

func decodeHash(s string, h *[32]byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return fmt.Errorf("bad key hash %q", s)
	}
	copy(h[:], b)
	return nil
}
