package httpapi

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/persistence"
)

// projectHandler gets the project as it was when the request was
// authenticated: a key revoked while the request runs stops the next one.
type projectHandler func(w http.ResponseWriter, r *http.Request, ps httprouter.Params, p persistence.Project)

// accountHandler gets the account and who is acting, for the audit trail.
type accountHandler func(w http.ResponseWriter, r *http.Request, ps httprouter.Params, a persistence.Account, by accounts.Actor)

// project authenticates a project key (401) and its IP allow-list (403).
func (s *Server) project(h projectHandler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if s.refuseWhileDraining(w, r) {
			return
		}
		ip, _ := s.clientIP(r) // the zero Addr when unknown, which no allow-list admits
		p, err := s.cfg.Accounts.Project(r.Header.Get("Api-Key"), ip)
		switch {
		case errors.Is(err, accounts.ErrForbidden):
			s.writeError(w, r, errForbidden)
			return
		case err != nil:
			s.writeError(w, r, errUnauthorized)
			return
		}
		if s.refuseOverLimit(w, r, p.ID, p.RateLimit) {
			return
		}
		h(w, r, ps, p)
	}
}

// account authenticates an account key; a project key is refused (401).
func (s *Server) account(h accountHandler) httprouter.Handle { return s.accountKeyed(h, false) }

// admin authenticates an account key for an operator route: no key or an
// unknown one is 401, and a project key, which is a real key without the
// right, is 403.
func (s *Server) admin(h accountHandler) httprouter.Handle { return s.accountKeyed(h, true) }

// accountKeyed is account and admin: projectKey403 answers a project key
// 403 instead of 401.
func (s *Server) accountKeyed(h accountHandler, projectKey403 bool) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if s.refuseWhileDraining(w, r) {
			return
		}
		key := r.Header.Get("Api-Key")
		a, keyID, ok := s.cfg.Accounts.Account(key)
		if !ok {
			err := errAccountUnauthorized
			if projectKey403 && s.cfg.Accounts.IsProjectKey(key) {
				err = errAccountKeyRequired
			}
			s.writeError(w, r, err)
			return
		}
		if s.refuseOverLimit(w, r, a.ID, 0) {
			return
		}
		ip, _ := s.clientIP(r)
		h(w, r, ps, a, accounts.Actor{KeyID: keyID, IP: ip})
	}
}

// refuseOverLimit answers 429 when the project or account (all its keys
// together) has used up its rate: its own, or the server's when 0.
func (s *Server) refuseOverLimit(w http.ResponseWriter, r *http.Request, bucket uuid.UUID, rate float64) bool {
	return s.refuseOver(w, r, s.limits, bucket, rate, "for this API key")
}

// refuseOver answers 429, saying who is over ("for this API key"), when
// bucket of l has no token left.
func (s *Server) refuseOver(w http.ResponseWriter, r *http.Request, l *limiter, bucket uuid.UUID, rate float64, who string) bool {
	ok, wait := l.allow(bucket, rate)
	if ok {
		return false
	}
	after := retryAfter(wait)
	w.Header().Set("Retry-After", after)
	s.writeError(w, r, newError(http.StatusTooManyRequests, "rate_limited", "too many requests "+who+"; retry after "+after+" s"))
	return true
}

func (s *Server) refuseWhileDraining(w http.ResponseWriter, r *http.Request) bool {
	if !s.draining.Load() {
		return false
	}
	w.Header().Set("Connection", "close")
	s.writeError(w, r, newError(http.StatusServiceUnavailable, "shutting_down", "the server is shutting down; retry shortly"))
	return true
}

// clientIP is the socket peer, unless the peer is a trusted proxy: then the
// right-most X-Forwarded-For address that is not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	peer = peer.Unmap().WithZone("")
	if !s.trusted(peer) {
		return peer, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false
		}
		a = a.Unmap().WithZone("")
		if !s.trusted(a) {
			return a, true
		}
	}
	return peer, true
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
