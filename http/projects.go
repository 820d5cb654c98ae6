package httpapi

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/persistence"
)

type createProjectBody struct {
	Name          string  `json:"name"`
	Description   *string `json:"description"`
	APIAllowedIPs *string `json:"api_allowed_ips"`
}

type createProjectResponse struct {
	ProjectID uuid.UUID `json:"project_id"`
	APIKey    string    `json:"api_key"`
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, a persistence.Account) {
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
	p, key, err := s.cfg.Accounts.CreateProject(a.ID, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store") // the key is shown once; no cache keeps it
	writeJSON(w, http.StatusCreated, createProjectResponse{ProjectID: p.ID, APIKey: key})
}
