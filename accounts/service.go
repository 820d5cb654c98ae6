package accounts

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// Project field limits of the API.
const (
	MaxProjectNameLen = 100
	MaxDescriptionLen = 1024
)

// ErrNameTaken: the account already has a project with this name.
var ErrNameTaken = errors.New("project name already used")

// Project is a project with its parsed IP allow-list.
type Project struct {
	persistence.Project
	Allowed IPList
}

// Service authenticates keys and manages accounts and projects. Projects
// and accounts are few and read on every request, so all of them are cached
// in memory, keyed by key hash; the cache is written only by this type's
// create methods, after the synced write succeeded.
type Service struct {
	store *persistence.Store
	now   func() time.Time

	mu       sync.RWMutex
	projects map[[32]byte]*Project
	accounts map[[32]byte]persistence.Account
}

// New loads every project into the cache.
func New(store *persistence.Store, now func() time.Time) (*Service, error) {
	s := &Service{store: store, now: now, projects: map[[32]byte]*Project{}, accounts: map[[32]byte]persistence.Account{}}
	ps, err := store.Projects()
	if err != nil {
		return nil, fmt.Errorf("load projects: %w", err)
	}
	for _, p := range ps {
		allowed, err := ParseIPList(p.AllowedIPs)
		if err != nil {
			return nil, fmt.Errorf("project %s: stored api_allowed_ips: %w", p.ID, err)
		}
		s.projects[p.KeyHash] = &Project{Project: p, Allowed: allowed}
	}
	return s, nil
}

// EnsureAccount makes the account with this key exist (the bootstrap
// account); it is a no-op when it already does.
func (s *Service) EnsureAccount(key string) (persistence.Account, error) {
	if !WellFormedKey(key) {
		return persistence.Account{}, errors.New("account key must be 64 lowercase hex characters")
	}
	h := HashKey(key)
	a, err := s.store.AccountByKeyHash(h)
	if err == nil {
		return a, nil
	}
	if !errors.Is(err, persistence.ErrNotFound) {
		return persistence.Account{}, fmt.Errorf("look up account: %w", err)
	}
	a = persistence.Account{ID: uuid.New(), KeyHash: h, CreatedAt: s.now().UTC()}
	if err := s.store.PutAccount(a); err != nil {
		return persistence.Account{}, fmt.Errorf("create account: %w", err)
	}
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

// Account authenticates an account key.
func (s *Service) Account(key string) (persistence.Account, bool) {
	if !WellFormedKey(key) {
		return persistence.Account{}, false
	}
	h := HashKey(key)
	s.mu.RLock()
	a, ok := s.accounts[h]
	s.mu.RUnlock()
	if !ok {
		var err error
		if a, err = s.store.AccountByKeyHash(h); err != nil {
			return persistence.Account{}, false
		}
		s.mu.Lock()
		s.accounts[h] = a
		s.mu.Unlock()
	}
	return a, subtle.ConstantTimeCompare(a.KeyHash[:], h[:]) == 1
}

// Project authenticates a project key.
func (s *Service) Project(key string) (*Project, bool) {
	if !WellFormedKey(key) {
		return nil, false
	}
	h := HashKey(key)
	s.mu.RLock()
	p, ok := s.projects[h]
	s.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare(p.KeyHash[:], h[:]) != 1 {
		return nil, false
	}
	return p, true
}

// NewProject is a create-project request.
type NewProject struct {
	Name, Description, AllowedIPs string
}

// CreateProject validates and stores a project of account, returning it
// and its key (shown once).
func (s *Service) CreateProject(account uuid.UUID, req NewProject) (*Project, string, error) {
	errs := &engine.ValidationError{}
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "":
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "name", Message: "is required"})
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxProjectNameLen:
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", MaxProjectNameLen)})
	}
	if utf8.RuneCountInString(req.Description) > MaxDescriptionLen {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "description", Message: fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)})
	}
	allowed, err := ParseIPList(req.AllowedIPs)
	if err != nil {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "api_allowed_ips", Message: err.Error()})
	}
	if len(errs.Fields) > 0 {
		return nil, "", errs
	}
	key, err := NewKey()
	if err != nil {
		return nil, "", err
	}
	p := &Project{Allowed: allowed, Project: persistence.Project{
		ID: uuid.New(), AccountID: account, Name: name, Description: req.Description,
		AllowedIPs: req.AllowedIPs, KeyHash: HashKey(key), CreatedAt: s.now().UTC(),
	}}
	if err := s.store.CreateProject(p.Project); err != nil {
		var taken *persistence.ClaimTakenError
		if errors.As(err, &taken) && taken.Kind == persistence.ClaimProjectName {
			return nil, "", ErrNameTaken
		}
		return nil, "", fmt.Errorf("create project: %w", err)
	}
	s.mu.Lock()
	s.projects[p.KeyHash] = p
	s.mu.Unlock()
	return p, key, nil
}
