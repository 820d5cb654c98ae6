package accounts

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/persistence"
)

// Errors of authentication and key management; the HTTP layer maps each to
// one status.
var (
	// ErrUnauthorized: no such live key (401).
	ErrUnauthorized = errors.New("missing or invalid API key")
	// ErrForbidden: the project's api_allowed_ips refuses the client (403).
	ErrForbidden = errors.New("API key not allowed from this address")
	// ErrProjectNotFound: no such project in the caller's account (404);
	// another account's project is not found either.
	ErrProjectNotFound = errors.New("project not found")
	// ErrKeyNotFound: no such live key in the project (404).
	ErrKeyNotFound = errors.New("key not found")
	// ErrLastKey: revoking would leave the project without a live key
	// (409 unless forced).
	ErrLastKey = errors.New("the project's last live key")
	// ErrKeyRetired: the key was rolled away or revoked; it never works
	// again, also not as a bootstrap key.
	ErrKeyRetired = errors.New("key was rolled or revoked")
)

// Service authenticates keys and manages accounts, projects and their keys.
// Projects and accounts are few and read on every request, so all of them
// are cached in memory.
//
// Invariants:
//  1. The cache holds exactly what the store holds: every change is
//     written (synced) first and then swapped into the cache, under
//     writeMu, which serializes changes so the prev a change passes to the
//     store is what is stored.
//  2. Cached projects, accounts and their key slices are never modified in
//     place; a change replaces them, so a reader holding a copy (a request
//     in flight) sees one consistent version.
//  3. byHash holds every key of every cached record; a key is accepted
//     only while LiveAt(now), so an expiry holds to the clock tick even
//     before the sweep drops the key and writes its audit event.
//  4. A key's last use is kept in used (atomics, written on every request
//     without a lock) and written to the store only by Flush.
type Service struct {
	store *persistence.Store
	clock clock.Clock
	log   *slog.Logger

	writeMu sync.Mutex // serializes changes (invariant 1)
	closed  bool       // set by Close under writeMu: the store is closing

	mu       sync.RWMutex // guards the maps below
	projects map[uuid.UUID]*projectEntry
	accounts map[uuid.UUID]persistence.Account
	byHash   map[[32]byte]keyRef
	used     map[uuid.UUID]*atomic.Int64 // key id -> unix nanos of last use
}

type projectEntry struct {
	p       persistence.Project
	allowed IPList
}

// keyRef finds a key's owner from its hash.
type keyRef struct {
	owner   uuid.UUID
	account bool // owner is an account, not a project
	key     persistence.Key
	used    *atomic.Int64
}

// Actor is who makes a change, for the audit trail: the key that
// authenticated it and the client's address.
type Actor struct {
	KeyID uuid.UUID
	IP    netip.Addr
}

// New loads every account and project into the cache; c is the time of
// every change, expiry and flush (nil = the wall clock); log receives the
// audit trail (nil = discard), never key material.
func New(store *persistence.Store, c clock.Clock, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, clock: clock.OrReal(c), log: log, projects: map[uuid.UUID]*projectEntry{},
		accounts: map[uuid.UUID]persistence.Account{}, byHash: map[[32]byte]keyRef{}, used: map[uuid.UUID]*atomic.Int64{}}
	ps, err := store.Projects()
	if err != nil {
		return nil, fmt.Errorf("load projects: %w", err)
	}
	for _, p := range ps {
		if err := s.cacheProject(p); err != nil {
			return nil, err
		}
	}
	as, err := store.Accounts()
	if err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	for _, a := range as {
		s.cacheAccount(a)
	}
	return s, nil
}

// cacheProject swaps p into the cache (the caller holds writeMu, or is New).
func (s *Service) cacheProject(p persistence.Project) error {
	allowed, err := ParseIPList(p.AllowedIPs)
	if err != nil {
		return fmt.Errorf("project %s: stored api_allowed_ips: %w", p.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.projects[p.ID]; ok {
		s.unindex(old.p.Keys, p.Keys)
	}
	s.projects[p.ID] = &projectEntry{p: p, allowed: allowed}
	s.index(p.ID, false, p.Keys)
	return nil
}

func (s *Service) cacheAccount(a persistence.Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.accounts[a.ID]; ok {
		s.unindex(old.Keys, a.Keys)
	}
	s.accounts[a.ID] = a
	s.index(a.ID, true, a.Keys)
}

// index and unindex keep byHash and used; s.mu is held.
func (s *Service) index(owner uuid.UUID, account bool, keys []persistence.Key) {
	for _, k := range keys {
		u, ok := s.used[k.ID]
		if !ok {
			u = &atomic.Int64{}
			if !k.LastUsedAt.IsZero() {
				u.Store(k.LastUsedAt.UnixNano())
			}
			s.used[k.ID] = u
		}
		s.byHash[k.Hash] = keyRef{owner: owner, account: account, key: k, used: u}
	}
}

// unindex forgets the keys of old that next no longer has; the last use of
// a kept key stays.
func (s *Service) unindex(old, next []persistence.Key) {
	kept := map[uuid.UUID]bool{}
	for _, k := range next {
		kept[k.ID] = true
	}
	for _, k := range old {
		if !kept[k.ID] {
			delete(s.byHash, k.Hash)
			delete(s.used, k.ID)
		}
	}
}

// lookup finds the live key hashing like key, of an account or a project,
// marks it used, and returns the owner's cached version read under the
// same lock as the key, so a change swapped in between cannot mix them.
func (s *Service) lookup(key string, account bool) (keyRef, *projectEntry, persistence.Account, bool) {
	if !WellFormedKey(key) {
		return keyRef{}, nil, persistence.Account{}, false
	}
	h := HashKey(key)
	var e *projectEntry
	var a persistence.Account
	s.mu.RLock()
	ref, ok := s.byHash[h]
	if ref.account {
		a = s.accounts[ref.owner]
	} else {
		e = s.projects[ref.owner]
	}
	s.mu.RUnlock()
	now := s.clock.Now()
	if !ok || ref.account != account || !ref.key.LiveAt(now) ||
		subtle.ConstantTimeCompare(ref.key.Hash[:], h[:]) != 1 {
		return keyRef{}, nil, persistence.Account{}, false
	}
	if n := now.UnixNano(); ref.used.Load() < n-int64(time.Second) {
		ref.used.Store(n) // a second's precision is plenty and spares the cache line
	}
	return ref, e, a, true
}

// Account authenticates an account key: the account and the key's id.
func (s *Service) Account(key string) (persistence.Account, uuid.UUID, bool) {
	ref, _, a, ok := s.lookup(key, true)
	if !ok || a.ID != ref.owner {
		return persistence.Account{}, uuid.Nil, false
	}
	return a, ref.key.ID, true
}

// Project authenticates a project key used from ip (the zero Addr when
// unknown): ErrUnauthorized, or ErrForbidden if the project's allow-list
// refuses ip. The project is a copy of the version current at the call.
func (s *Service) Project(key string, ip netip.Addr) (persistence.Project, error) {
	_, e, _, ok := s.lookup(key, false)
	if !ok || e == nil {
		return persistence.Project{}, ErrUnauthorized
	}
	if !e.allowed.Empty() && !e.allowed.Allows(ip) {
		return persistence.Project{}, ErrForbidden
	}
	return e.p, nil
}

// IsProjectKey reports whether key is a live project key, whatever the
// client's address: an admin route answers it 403 rather than 401.
func (s *Service) IsProjectKey(key string) bool {
	_, e, _, ok := s.lookup(key, false)
	return ok && e != nil
}

// SigningKeys are the webhook signing keys of the project now: the stored
// hash of each live key, which is webhooks.SigningKey of that key, newest
// first. None if the project has no live key or does not exist.
func (s *Service) SigningKeys(project uuid.UUID) [][32]byte {
	s.mu.RLock()
	e, ok := s.projects[project]
	s.mu.RUnlock()
	if !ok {
		return nil
	}
	now := s.clock.Now()
	var out [][32]byte
	for i := len(e.p.Keys) - 1; i >= 0; i-- {
		if k := e.p.Keys[i]; k.LiveAt(now) {
			out = append(out, k.Hash)
		}
	}
	return out
}

// Owner is the account that owns project (an invoice's user_id), or the
// nil UUID for an unknown project. A project never changes owner and its
// stored record names the account, so nothing else records it.
func (s *Service) Owner(project uuid.UUID) uuid.UUID {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.projects[project]; ok {
		return e.p.AccountID
	}
	return uuid.Nil
}

// EnsureAccount makes the account with this key exist (the bootstrap
// account); it is a no-op when it already does, and ErrKeyRetired when the
// key was an account's and has been rolled or revoked: a leaked key left in
// a configuration must not come back as a new account.
func (s *Service) EnsureAccount(key string) (persistence.Account, error) {
	if !WellFormedKey(key) {
		return persistence.Account{}, errors.New("account key must be 64 lowercase hex characters")
	}
	if a, _, ok := s.Account(key); ok {
		return a, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	h := HashKey(key)
	_, err := s.store.AccountByKeyHash(h)
	if err == nil {
		return persistence.Account{}, ErrKeyRetired
	}
	if !errors.Is(err, persistence.ErrNotFound) {
		return persistence.Account{}, fmt.Errorf("look up account: %w", err)
	}
	now := s.clock.Now().UTC()
	k := newKeyRecord(key, now)
	a := persistence.Account{ID: uuid.New(), Keys: []persistence.Key{k}, CreatedAt: now}
	events := []persistence.AuditEvent{s.event(a.ID, EventKeyCreated, k.ID, Actor{})}
	if err := s.store.PutAccount(a, events); err != nil {
		return persistence.Account{}, fmt.Errorf("create account: %w", err)
	}
	s.cacheAccount(a)
	s.logEvents(events)
	return a, nil
}

// CreateAccount creates an account with a fresh key and returns the key,
// which is not stored anywhere and cannot be shown again.
func (s *Service) CreateAccount() (string, persistence.Account, error) {
	key, err := NewKey()
	if err != nil {
		return "", persistence.Account{}, err
	}
	a, err := s.EnsureAccount(key)
	return key, a, err
}

func newKeyRecord(key string, now time.Time) persistence.Key {
	return persistence.Key{ID: uuid.New(), Hash: HashKey(key), Prefix: key[:PrefixLen], CreatedAt: now}
}

// ProjectName is the name of project id, shown on its invoices' checkout
// pages.
func (s *Service) ProjectName(id uuid.UUID) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.projects[id]
	if !ok {
		return "", false
	}
	return e.p.Name, true
}
