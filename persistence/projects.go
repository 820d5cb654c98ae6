package persistence

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// Project is a merchant's API scope: its keys see only its invoices. It is
// the one project type of the tree: the accounts service caches it (with
// the parsed allow-list beside it) and hands copies to the HTTP layer.
type Project struct {
	ID, AccountID uuid.UUID
	Name          string
	Description   string
	// AllowedIPs is api_allowed_ips as the merchant gave it; accounts
	// parses it.
	AllowedIPs string
	// RateLimit is the project's own requests per second; 0 means the
	// server-wide setting.
	RateLimit float64
	Keys      []Key
	CreatedAt time.Time
}

type projectRecord struct {
	ID          uuid.UUID   `json:"id"`
	AccountID   uuid.UUID   `json:"account_id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	AllowedIPs  string      `json:"allowed_ips"`
	RateLimit   float64     `json:"rate_limit,omitempty"`
	Keys        []keyRecord `json:"keys,omitempty"`
	// KeyHash is the single key of a record written before keys had ids;
	// it is read (see decodeKeys), never written.
	KeyHash   string    `json:"key_hash,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func encodeProject(p Project) ([]byte, error) {
	return encodeRecord(projectRecord{
		ID: p.ID, AccountID: p.AccountID, Name: p.Name, Description: p.Description,
		AllowedIPs: p.AllowedIPs, RateLimit: p.RateLimit, Keys: encodeKeys(p.Keys), CreatedAt: p.CreatedAt.UTC(),
	})
}

// CreateProject stores the project, the hash index of each of its keys, an
// (account, name) uniqueness record and the audit events in one synced
// batch. It returns *ClaimTakenError with Kind ClaimProjectName (Existing =
// the other project's id) if the name is taken in that account,
// ErrClaimTaken (wrapped) if the project id or a key hash is in use, and
// ErrNotFound (wrapped) if the account does not exist.
func (s *Store) CreateProject(p Project, events []AuditEvent) error {
	rec, err := encodeProject(p)
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	idKey := projectKey(p.ID)
	nameKey := claimKey(ClaimProjectName, projectNameScope(p.AccountID), p.Name)
	hashKeys := projectHashKeys(newHashes(nil, p.Keys))
	held := s.stripes.lock(append([][]byte{idKey, nameKey}, hashKeys...))
	defer s.stripes.unlock(held)

	if ok, err := s.exists(accountKey(p.AccountID)); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	} else if !ok {
		return fmt.Errorf("create project %s: account %s: %w", p.ID, p.AccountID, ErrNotFound)
	}
	if err := s.checkNameFree(nameKey, p.Name); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	if err := s.checkUnused(append([][]byte{idKey}, hashKeys...)); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	s.claims.add(nameKey) // under its stripe, before the write (see claimFilter)
	b := s.db.NewBatch()
	defer b.Close()
	errs := []error{b.Set(idKey, rec, nil), b.Set(nameKey, p.ID[:], nil)}
	for _, k := range hashKeys {
		errs = append(errs, b.Set(k, p.ID[:], nil))
	}
	errs = append(errs, setAuditEvents(b, events))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	if err := b.Commit(syncWrite); err != nil {
		return fmt.Errorf("create project %s: write: %w", p.ID, err)
	}
	return nil
}

// UpdateProject replaces project prev with next and writes the audit events,
// in one synced batch: keys new in next get their hash index entries (those
// of dropped keys stay, see Key), and a changed name moves its uniqueness
// record (*ClaimTakenError with Kind ClaimProjectName if the new name is
// taken). The id and account cannot change. Callers serialize the updates
// of one project (the accounts service holds its lock), so prev is what is
// stored.
func (s *Store) UpdateProject(prev, next Project, events []AuditEvent) error {
	if prev.ID != next.ID || prev.AccountID != next.AccountID {
		return fmt.Errorf("update project %s: id or account changed: %w", prev.ID, ErrInvalidArgument)
	}
	rec, err := encodeProject(next)
	if err != nil {
		return fmt.Errorf("update project %s: %w", next.ID, err)
	}
	idKey := projectKey(next.ID)
	oldName := claimKey(ClaimProjectName, projectNameScope(prev.AccountID), prev.Name)
	newName := claimKey(ClaimProjectName, projectNameScope(next.AccountID), next.Name)
	hashKeys := projectHashKeys(newHashes(prev.Keys, next.Keys))
	held := s.stripes.lock(append([][]byte{idKey, oldName, newName}, hashKeys...))
	defer s.stripes.unlock(held)

	if ok, err := s.exists(idKey); err != nil {
		return fmt.Errorf("update project %s: %w", next.ID, err)
	} else if !ok {
		return fmt.Errorf("update project %s: %w", next.ID, ErrNotFound)
	}
	renamed := prev.Name != next.Name
	if renamed {
		if err := s.checkNameFree(newName, next.Name); err != nil {
			return fmt.Errorf("update project %s: %w", next.ID, err)
		}
	}
	if err := s.checkUnused(hashKeys); err != nil {
		return fmt.Errorf("update project %s: %w", next.ID, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	errs := []error{b.Set(idKey, rec, nil)}
	if renamed {
		s.claims.add(newName) // under its stripe, before the write (see claimFilter)
		errs = append(errs, b.Delete(oldName, nil), b.Set(newName, next.ID[:], nil))
	}
	for _, k := range hashKeys {
		errs = append(errs, b.Set(k, next.ID[:], nil))
	}
	errs = append(errs, setAuditEvents(b, events))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("update project %s: %w", next.ID, err)
	}
	if err := b.Commit(syncWrite); err != nil {
		return fmt.Errorf("update project %s: write: %w", next.ID, err)
	}
	return nil
}

func (s *Store) checkNameFree(nameKey []byte, name string) error {
	existing, err := s.get(nameKey)
	if err == nil {
		return fmt.Errorf("name %q: %w", name, &ClaimTakenError{Kind: ClaimProjectName, Existing: existing})
	}
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// checkUnused fails with ErrClaimTaken if any of keys exists.
func (s *Store) checkUnused(keys [][]byte) error {
	for _, k := range keys {
		if ok, err := s.exists(k); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%x in use: %w", k, ErrClaimTaken)
		}
	}
	return nil
}

func projectHashKeys(hs [][32]byte) [][]byte {
	out := make([][]byte, 0, len(hs))
	for _, h := range hs {
		out = append(out, projectHashKey(h))
	}
	return out
}

// ProjectByKeyHash returns the project whose key hashed to h, also when that
// key has since been dropped (ErrNotFound if none ever did).
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
	keys, err := decodeKeys(rec.Keys, rec.KeyHash, rec.CreatedAt)
	if err != nil {
		return Project{}, fmt.Errorf("project %s: %w", rec.ID, err)
	}
	return Project{
		ID: rec.ID, AccountID: rec.AccountID, Name: rec.Name, Description: rec.Description,
		AllowedIPs: rec.AllowedIPs, RateLimit: rec.RateLimit, Keys: keys, CreatedAt: rec.CreatedAt,
	}, nil
}
