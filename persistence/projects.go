package persistence

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// Project is a merchant's API scope: its key sees only its invoices.
type Project struct {
	ID, AccountID uuid.UUID
	Name          string
	Description   string
	AllowedIPs    string
	KeyHash       [32]byte
	CreatedAt     time.Time
}

type projectRecord struct {
	ID          uuid.UUID `json:"id"`
	AccountID   uuid.UUID `json:"account_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	AllowedIPs  string    `json:"allowed_ips"`
	KeyHash     string    `json:"key_hash"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateProject stores the project, its key-hash index and an (account,
// name) uniqueness record in one synced batch. It returns *ClaimTakenError
// with Kind ClaimProjectName (Existing = the other project's id) if the
// name is taken in that account, ErrClaimTaken (wrapped) if the project id
// or key hash is in use, and ErrNotFound (wrapped) if the account does not
// exist.
func (s *Store) CreateProject(p Project) error {
	rec, err := encodeRecord(projectRecord{
		ID: p.ID, AccountID: p.AccountID, Name: p.Name, Description: p.Description,
		AllowedIPs: p.AllowedIPs, KeyHash: hex.EncodeToString(p.KeyHash[:]), CreatedAt: p.CreatedAt.UTC(),
	})
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	idKey, hashKey := projectKey(p.ID), projectHashKey(p.KeyHash)
	nameKey := claimKey(ClaimProjectName, projectNameScope(p.AccountID), p.Name)
	held := s.stripes.lock([][]byte{idKey, hashKey, nameKey})
	defer s.stripes.unlock(held)

	if ok, err := s.exists(accountKey(p.AccountID)); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	} else if !ok {
		return fmt.Errorf("create project %s: account %s: %w", p.ID, p.AccountID, ErrNotFound)
	}
	existing, err := s.get(nameKey)
	if err == nil {
		return fmt.Errorf("create project %s: name %q: %w", p.ID, p.Name, &ClaimTakenError{Kind: ClaimProjectName, Existing: existing})
	}
	if !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	for _, c := range []struct {
		what string
		key  []byte
	}{{"id", idKey}, {"key hash", hashKey}} {
		if ok, err := s.exists(c.key); err != nil {
			return fmt.Errorf("create project %s: %w", p.ID, err)
		} else if ok {
			return fmt.Errorf("create project %s: %s in use: %w", p.ID, c.what, ErrClaimTaken)
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := errors.Join(b.Set(idKey, rec, nil), b.Set(hashKey, p.ID[:], nil), b.Set(nameKey, p.ID[:], nil)); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	if err := b.Commit(syncWrite); err != nil {
		return fmt.Errorf("create project %s: write: %w", p.ID, err)
	}
	return nil
}

// ProjectByKeyHash returns the project whose key hashes to h (ErrNotFound).
func (s *Store) ProjectByKeyHash(h [32]byte) (Project, error) {
	id, err := s.get(projectHashKey(h))
	if err != nil {
		return Project{}, fmt.Errorf("project by key hash: %w", err)
	}
	v, err := s.get(append([]byte{prefixProject}, id...))
	if err != nil {
		return Project{}, fmt.Errorf("project %x by key hash: %w", id, err)
	}
	p, err := decodeProject(v)
	if err != nil {
		return Project{}, fmt.Errorf("project %x by key hash: %w", id, err)
	}
	return p, nil
}

// Projects returns all projects, for warming a cache at start.
func (s *Store) Projects() ([]Project, error) {
	p := []byte{prefixProject}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	var out []Project
	for ok := it.First(); ok; ok = it.Next() {
		p, err := projectAt(it)
		if err != nil {
			return nil, fmt.Errorf("projects: %w", errors.Join(err, it.Close()))
		}
		out = append(out, p)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	return out, nil
}

func projectAt(it *pebble.Iterator) (Project, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return Project{}, fmt.Errorf("%x: %w", it.Key(), err)
	}
	p, err := decodeProject(v)
	if err != nil {
		return Project{}, fmt.Errorf("%x: %w", it.Key(), err)
	}
	return p, nil
}

func decodeProject(v []byte) (Project, error) {
	var rec projectRecord
	if err := decodeRecord(v, &rec); err != nil {
		return Project{}, err
	}
	p := Project{
		ID: rec.ID, AccountID: rec.AccountID, Name: rec.Name, Description: rec.Description,
		AllowedIPs: rec.AllowedIPs, CreatedAt: rec.CreatedAt,
	}
	if err := decodeHash(rec.KeyHash, &p.KeyHash); err != nil {
		return Project{}, err
	}
	return p, nil
}
