package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/persistence"
)

type createProjectBody struct {
	Name          string  `json:"name"`
	Description   *string `json:"description"`
	APIAllowedIPs *string `json:"api_allowed_ips"`
}

// keyShownResponse answers the calls that make a key: project creation
// and the rolls. It is the only place a key is ever shown.
type keyShownResponse struct {
	ProjectID *uuid.UUID `json:"project_id,omitempty"`
	AccountID *uuid.UUID `json:"account_id,omitempty"`
	KeyID     uuid.UUID  `json:"key_id"`
	APIKey    string     `json:"api_key"`
	// OldKeysExpireAt is when the keys a roll replaced stop working
	// (null: they already have).
	OldKeysExpireAt *time.Time `json:"old_keys_expire_at,omitempty"`
}

// writeKeyShown sends a response holding a key: no cache may keep it.
func writeKeyShown(w http.ResponseWriter, status int, v keyShownResponse) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, v)
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, _ httprouter.Params, a persistence.Account, by accounts.Actor) {
	var body createProjectBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	req := accounts.NewProject{Name: body.Name}
	if body.Description != nil {
		req.Description = *body.Description
	}
	if body.APIAllowedIPs != nil {
		req.AllowedIPs = *body.APIAllowedIPs
	}
	p, key, err := s.cfg.Accounts.CreateProject(a.ID, req, by)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeKeyShown(w, http.StatusCreated, keyShownResponse{ProjectID: &p.ID, KeyID: p.Keys[0].ID, APIKey: key})
}

// projectView is a project as GET /api/v1/projects shows it.
type projectView struct {
	ProjectID     uuid.UUID `json:"project_id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	APIAllowedIPs string    `json:"api_allowed_ips"`
	CreatedAt     time.Time `json:"created_at"`
	// RateLimit is the project's own requests per second; null when the
	// server-wide setting applies.
	RateLimit *float64  `json:"rate_limit"`
	Keys      []keyView `json:"keys"`
}

type keyView struct {
	KeyID      uuid.UUID  `json:"key_id"`
	Prefix     *string    `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func viewProject(p persistence.Project, now time.Time) projectView {
	v := projectView{ProjectID: p.ID, Name: p.Name, Description: p.Description, APIAllowedIPs: p.AllowedIPs,
		CreatedAt: p.CreatedAt.UTC(), Keys: []keyView{}}
	if p.RateLimit > 0 {
		v.RateLimit = &p.RateLimit
	}
	for _, k := range p.Keys {
		if !k.LiveAt(now) {
			continue // expired, not yet swept
		}
		kv := keyView{KeyID: k.ID, CreatedAt: k.CreatedAt.UTC(), ExpiresAt: optTime(k.ExpiresAt), LastUsedAt: optTime(k.LastUsedAt)}
		if k.Prefix != "" {
			kv.Prefix = &k.Prefix
		}
		v.Keys = append(v.Keys, kv)
	}
	return v
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// listProjects is GET /api/v1/projects: the account's projects and their
// live keys, never a key itself.
func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, _ httprouter.Params, a persistence.Account, _ accounts.Actor) {
	ps := s.cfg.Accounts.Projects(a.ID)
	out := struct {
		Projects []projectView `json:"projects"`
	}{Projects: make([]projectView, 0, len(ps))}
	now := s.now()
	for _, p := range ps {
		out.Projects = append(out.Projects, viewProject(p, now))
	}
	writeJSON(w, http.StatusOK, out)
}

type patchProjectBody struct {
	Name          *string  `json:"name"`
	Description   *string  `json:"description"`
	APIAllowedIPs *string  `json:"api_allowed_ips"`
	RateLimit     *float64 `json:"rate_limit"`
}

// patchProject is PATCH /api/v1/projects/{project_id}.
func (s *Server) patchProject(w http.ResponseWriter, r *http.Request, ps httprouter.Params, a persistence.Account, by accounts.Actor) {
	id, err := projectID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body patchProjectBody
	if err := decodeBody(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.cfg.Accounts.UpdateProject(a.ID, id, accounts.ProjectChange{
		Name: body.Name, Description: body.Description, AllowedIPs: body.APIAllowedIPs, RateLimit: body.RateLimit,
	}, by)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewProject(p, s.now()))
}

type rollBody struct {
	ExpireOldIn *string `json:"expire_old_in"`
}

// expireOldIn reads a roll's body: expire_old_in is required, a Go
// duration from 0 ("0s": the old key stops now) to 7 days.
func expireOldIn(r *http.Request) (time.Duration, error) {
	var body rollBody
	if err := decodeBody(r, &body); err != nil {
		return 0, err
	}
	if body.ExpireOldIn == nil {
		return 0, fieldError(http.StatusUnprocessableEntity, "validation_failed", "expire_old_in", `is required: how long the old key keeps working, such as "24h", or "0s" to stop it now`)
	}
	d, err := time.ParseDuration(*body.ExpireOldIn)
	if err != nil || d < 0 || d > accounts.MaxExpireOldIn {
		return 0, accounts.ErrExpireOldIn
	}
	return d, nil
}

// rollProjectKey is POST /api/v1/projects/{project_id}/keys/roll.
func (s *Server) rollProjectKey(w http.ResponseWriter, r *http.Request, ps httprouter.Params, a persistence.Account, by accounts.Actor) {
	id, err := projectID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := expireOldIn(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, rolled, err := s.cfg.Accounts.RollProjectKey(a.ID, id, d, by)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeKeyShown(w, http.StatusCreated, keyShownResponse{ProjectID: &p.ID, KeyID: rolled.KeyID, APIKey: rolled.Key, OldKeysExpireAt: oldKeysExpireAt(p.Keys, rolled.KeyID)})
}

// oldKeysExpireAt is the expiry of the key a roll kept alive, if any.
func oldKeysExpireAt(keys []persistence.Key, rolled uuid.UUID) *time.Time {
	for _, k := range keys {
		if k.ID != rolled {
			return optTime(k.ExpiresAt)
		}
	}
	return nil
}

// rollAccountKey is POST /api/v1/account/keys/roll.
func (s *Server) rollAccountKey(w http.ResponseWriter, r *http.Request, _ httprouter.Params, a persistence.Account, by accounts.Actor) {
	d, err := expireOldIn(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rolled, err := s.cfg.Accounts.RollAccountKey(a.ID, d, by)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := keyShownResponse{AccountID: &a.ID, KeyID: rolled.KeyID, APIKey: rolled.Key}
	if d > 0 {
		resp.OldKeysExpireAt = optTime(s.now().Add(d))
	}
	writeKeyShown(w, http.StatusCreated, resp)
}

// revokeProjectKey is DELETE /api/v1/projects/{project_id}/keys/{key_id}.
func (s *Server) revokeProjectKey(w http.ResponseWriter, r *http.Request, ps httprouter.Params, a persistence.Account, by accounts.Actor) {
	id, err := projectID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	keyID, err := pathID(ps, "key_id", accounts.ErrKeyNotFound)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var force bool
	switch v := r.URL.Query().Get("force"); v {
	case "", "false":
	case "true":
		force = true
	default:
		s.writeError(w, r, fieldError(http.StatusUnprocessableEntity, "validation_failed", "force", "must be true or false"))
		return
	}
	if err := s.cfg.Accounts.RevokeProjectKey(a.ID, id, keyID, force, by); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// auditEventView is one entry of GET /api/v1/projects/{project_id}/events
// and GET /api/v1/account/events.
type auditEventView struct {
	EventID    uuid.UUID  `json:"event_id"`
	Type       string     `json:"type"`
	At         time.Time  `json:"at"`
	KeyID      *uuid.UUID `json:"key_id"`
	ActorKeyID *uuid.UUID `json:"actor_key_id"`
	ClientIP   *string    `json:"client_ip"`
	Fields     []string   `json:"fields,omitempty"`
	ExpiresAt  *time.Time `json:"old_key_expires_at,omitempty"`
}

// maxAuditEvents is how many of the newest events the events routes show.
const maxAuditEvents = 1000

// projectEvents is GET /api/v1/projects/{project_id}/events: the audit
// trail of the project's keys and settings, oldest first.
func (s *Server) projectEvents(w http.ResponseWriter, r *http.Request, ps httprouter.Params, a persistence.Account, _ accounts.Actor) {
	id, err := projectID(ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := s.cfg.Accounts.ProjectEvents(a.ID, id, maxAuditEvents)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAuditEvents(w, events)
}

// accountEvents is GET /api/v1/account/events: the audit trail of the
// account's own keys, oldest first.
func (s *Server) accountEvents(w http.ResponseWriter, r *http.Request, _ httprouter.Params, a persistence.Account, _ accounts.Actor) {
	events, err := s.cfg.Accounts.AccountEvents(a.ID, maxAuditEvents)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeAuditEvents(w, events)
}

// writeAuditEvents answers 200 {events:[…]}: ids, times and addresses,
// never a key or its hash.
func writeAuditEvents(w http.ResponseWriter, events []persistence.AuditEvent) {
	out := struct {
		Events []auditEventView `json:"events"`
	}{Events: make([]auditEventView, 0, len(events))}
	for _, e := range events {
		v := auditEventView{EventID: e.ID, Type: e.Type, At: e.At.UTC(), KeyID: optID(e.KeyID), ActorKeyID: optID(e.ActorKeyID),
			Fields: e.Fields, ExpiresAt: optTime(e.ExpiresAt)}
		if e.ClientIP != "" {
			v.ClientIP = &e.ClientIP
		}
		out.Events = append(out.Events, v)
	}
	writeJSON(w, http.StatusOK, out)
}

func optID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// projectID parses the path id; like an invoice id, a malformed one cannot
// name a project, so it is a 404 like any unknown one.
func projectID(ps httprouter.Params) (uuid.UUID, error) {
	return pathID(ps, "project_id", errProjectNotFound)
}
