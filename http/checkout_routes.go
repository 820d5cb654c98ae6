package httpapi

import (
	"net/http"
	"net/netip"

	"github.com/google/uuid"
	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/http/checkout"
)

// mountCheckout serves the customer's checkout pages (package checkout)
// under /i/, behind a per-IP rate limit: they need no key, so the client
// IP is what a flood is counted by.
func (s *Server) mountCheckout(r router, cfg checkout.Config) {
	cfg.ClientIP = func(req *http.Request) netip.Addr {
		ip, _ := s.clientIP(req)
		return ip
	}
	cfg.Error = func(w http.ResponseWriter, req *http.Request, status int, code, message string) {
		s.writeError(w, req, newError(status, code, message))
	}
	cfg.Metrics = s.cfg.Registerer
	s.checkout = checkout.New(cfg)
	c := s.checkout
	r.GET("/i/:invoice_id", s.public(c.Page))
	r.GET("/i/:invoice_id/qr.png", s.public(c.QRPNG))
	r.GET("/i/:invoice_id/qr.svg", s.public(c.QRSVG))
	r.GET("/i/:invoice_id/status", s.public(c.Status))
	r.GET("/i/:invoice_id/events", s.public(c.Events))
	r.GET(checkout.AssetsPath+"/:file", s.public(c.Asset))
}

// public rate-limits a keyless route by client IP.
func (s *Server) public(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ip, _ := s.clientIP(r)
		if s.refuseOver(w, r, s.publicLimits, uuid.UUID(ip.As16()), 0, "from your address") {
			return
		}
		h(w, r, ps)
	}
}
