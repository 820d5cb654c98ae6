package accounts

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
	// MaxRateLimit bounds a project's own requests per second.
	MaxRateLimit = 100000
)

// ErrNameTaken: the account already has a project with this name.
var ErrNameTaken = errors.New("project name already used")

// NewProject is a create-project request.
type NewProject struct {
	Name, Description, AllowedIPs string
}

// ProjectChange is a PATCH of a project: nil fields stay as they are. A
// RateLimit of 0 returns the project to the server-wide rate.
type ProjectChange struct {
	Name, Description, AllowedIPs *string
	RateLimit                     *float64
}

// Projects returns the account's projects, oldest first, each key's
// LastUsedAt the live value rather than the last one written.
func (s *Service) Projects(account uuid.UUID) []persistence.Project {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []persistence.Project
	for _, e := range s.projects {
		if e.p.AccountID != account {
			continue
		}
		p := e.p
		p.Keys = slices.Clone(p.Keys)
		for i := range p.Keys {
			if u := s.used[p.Keys[i].ID]; u != nil && u.Load() > 0 {
				p.Keys[i].LastUsedAt = time.Unix(0, u.Load()).UTC()
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b persistence.Project) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	return out
}

// CreateProject validates and stores a project of account, returning it
// and its key (shown once).
func (s *Service) CreateProject(account uuid.UUID, req NewProject, by Actor) (persistence.Project, string, error) {
	name := strings.TrimSpace(req.Name)
	errs := &engine.ValidationError{}
	checkName(errs, name)
	checkDescription(errs, req.Description)
	checkAllowedIPs(errs, req.AllowedIPs)
	if len(errs.Fields) > 0 {
		return persistence.Project{}, "", errs
	}
	key, err := NewKey()
	if err != nil {
		return persistence.Project{}, "", err
	}
	now := s.clock.Now().UTC()
	k := newKeyRecord(key, now)
	p := persistence.Project{
		ID: uuid.New(), AccountID: account, Name: name, Description: req.Description,
		AllowedIPs: req.AllowedIPs, Keys: []persistence.Key{k}, CreatedAt: now,
	}
	events := []persistence.AuditEvent{s.event(p.ID, EventKeyCreated, k.ID, by)}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.store.CreateProject(p, events); err != nil {
		return persistence.Project{}, "", nameTaken(err, "create project")
	}
	if err := s.cacheProject(p); err != nil {
		return persistence.Project{}, "", err
	}
	s.logEvents(events)
	return p, key, nil
}

// UpdateProject applies change to the account's project; the next request
// of the project sees it. An empty change is a validation error, and a
// refused change changes nothing.
func (s *Service) UpdateProject(account, project uuid.UUID, change ProjectChange, by Actor) (persistence.Project, error) {
	errs := &engine.ValidationError{}
	var fields []string
	if change.Name != nil {
		trimmed := strings.TrimSpace(*change.Name)
		change.Name = &trimmed
		checkName(errs, trimmed)
		fields = append(fields, "name")
	}
	if change.Description != nil {
		checkDescription(errs, *change.Description)
		fields = append(fields, "description")
	}
	if change.AllowedIPs != nil {
		checkAllowedIPs(errs, *change.AllowedIPs)
		fields = append(fields, "api_allowed_ips")
	}
	if change.RateLimit != nil {
		if r := *change.RateLimit; !(r >= 0 && r <= MaxRateLimit) {
			errs.Fields = append(errs.Fields, engine.FieldError{Field: "rate_limit",
				Message: fmt.Sprintf("must be between 0 (the server's default) and %d requests per second", MaxRateLimit)})
		}
		fields = append(fields, "rate_limit")
	}
	if len(fields) == 0 {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "body",
			Message: "must change at least one of name, description, api_allowed_ips, rate_limit"})
	}
	if len(errs.Fields) > 0 {
		return persistence.Project{}, errs
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	prev, err := s.ownProject(account, project)
	if err != nil {
		return persistence.Project{}, err
	}
	next := prev
	if change.Name != nil {
		next.Name = *change.Name
	}
	if change.Description != nil {
		next.Description = *change.Description
	}
	if change.AllowedIPs != nil {
		next.AllowedIPs = *change.AllowedIPs
	}
	if change.RateLimit != nil {
		next.RateLimit = *change.RateLimit
	}
	now := s.clock.Now()
	var events []persistence.AuditEvent
	next.Keys, events = s.dropExpired(next.ID, next.Keys, now)
	ev := s.event(project, EventProjectChanged, uuid.Nil, by)
	ev.Fields = fields
	events = append(events, ev)
	if err := s.store.UpdateProject(prev, next, events); err != nil {
		return persistence.Project{}, nameTaken(err, "update project")
	}
	if err := s.cacheProject(next); err != nil {
		return persistence.Project{}, err
	}
	s.logEvents(events)
	return next, nil
}

// ProjectEvents is the audit trail of the account's project, oldest first
// (the newest limit events).
func (s *Service) ProjectEvents(account, project uuid.UUID, limit int) ([]persistence.AuditEvent, error) {
	if _, err := s.ownProject(account, project); err != nil {
		return nil, err
	}
	return s.store.AuditEvents(project, limit)
}

// AccountEvents is the audit trail of the account's own keys, oldest first
// (the newest limit events): the keys created, rolled and expired.
func (s *Service) AccountEvents(account uuid.UUID, limit int) ([]persistence.AuditEvent, error) {
	s.mu.RLock()
	_, ok := s.accounts[account]
	s.mu.RUnlock()
	if !ok {
		return nil, ErrUnauthorized
	}
	return s.store.AuditEvents(account, limit)
}

// ownProject is the cached project if account owns it.
func (s *Service) ownProject(account, project uuid.UUID) (persistence.Project, error) {
	s.mu.RLock()
	e, ok := s.projects[project]
	s.mu.RUnlock()
	if !ok || e.p.AccountID != account {
		return persistence.Project{}, ErrProjectNotFound
	}
	return e.p, nil
}

func nameTaken(err error, doing string) error {
	var taken *persistence.ClaimTakenError
	if errors.As(err, &taken) && taken.Kind == persistence.ClaimProjectName {
		return ErrNameTaken
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func checkName(errs *engine.ValidationError, name string) {
	switch {
	case name == "":
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "name", Message: "is required"})
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxProjectNameLen:
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", MaxProjectNameLen)})
	}
}

func checkDescription(errs *engine.ValidationError, d string) {
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "description", Message: fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)})
	}
}

func checkAllowedIPs(errs *engine.ValidationError, ips string) {
	if _, err := ParseIPList(ips); err != nil {
		errs.Fields = append(errs.Fields, engine.FieldError{Field: "api_allowed_ips", Message: err.Error()})
	}
}

// Audit event types.
const (
	EventKeyCreated     = "key_created"
	EventKeyRolled      = "key_rolled"
	EventKeyExpired     = "key_expired"
	EventKeyRevoked     = "key_revoked"
	EventProjectChanged = "project_changed"
)

func (s *Service) event(owner uuid.UUID, typ string, key uuid.UUID, by Actor) persistence.AuditEvent {
	e := persistence.AuditEvent{ID: eventID(), Owner: owner, Type: typ, At: s.clock.Now().UTC(), KeyID: key, ActorKeyID: by.KeyID}
	if by.IP.IsValid() {
		e.ClientIP = by.IP.String()
	}
	return e
}

// eventID is a version 7 UUID: events recorded at the same clock reading
// keep the order they were made in (the store orders by time, then id).
func eventID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// logEvents logs events once they are stored: ids, times and addresses,
// never a key or its hash.
func (s *Service) logEvents(events []persistence.AuditEvent) {
	for _, e := range events {
		attrs := []any{slog.String("type", e.Type), slog.String("owner", e.Owner.String()), slog.Time("at", e.At)}
		if e.KeyID != uuid.Nil {
			attrs = append(attrs, slog.String("key_id", e.KeyID.String()))
		}
		if e.ActorKeyID != uuid.Nil {
			attrs = append(attrs, slog.String("actor_key_id", e.ActorKeyID.String()))
		}
		if e.ClientIP != "" {
			attrs = append(attrs, slog.String("client_ip", e.ClientIP))
		}
		if len(e.Fields) > 0 {
			attrs = append(attrs, slog.Any("fields", e.Fields))
		}
		if !e.ExpiresAt.IsZero() {
			attrs = append(attrs, slog.Time("old_key_expires_at", e.ExpiresAt))
		}
		s.log.Info("key audit event", attrs...)
	}
}
