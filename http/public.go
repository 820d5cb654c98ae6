package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/engine"
)

type currencyView struct {
	Code                  string         `json:"code"`
	Name                  string         `json:"name"`
	Network               engine.Network `json:"network"`
	Decimals              int            `json:"decimals"`
	MinAmount             json.Number    `json:"min_amount"`
	RequiredConfirmations int            `json:"required_confirmations"`
	Enabled               bool           `json:"enabled"`
}

func (s *Server) currencies(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	all := s.cfg.Rules.Currencies.All()
	out := make([]currencyView, len(all))
	for i, c := range all {
		out[i] = currencyView{
			Code: c.Code, Name: c.Name, Network: c.Network, Decimals: c.Decimals,
			MinAmount:             json.Number(engine.FormatDecimal(c.MinAmount, c.Decimals)),
			RequiredConfirmations: c.Confirmations, Enabled: true,
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"currencies": out})
}

// rateView is one currency's EUR rate. The rate is a decimal string: a
// float would lose digits of an exact quote.
type rateView struct {
	Rate      string    `json:"rate"`
	Fiat      string    `json:"fiat"`
	Source    string    `json:"source"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *Server) rates(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	out := map[string]rateView{}
	for _, q := range s.cfg.Rates.All("EUR") {
		if _, ok := s.cfg.Rules.Currencies.Lookup(q.Currency); ok {
			out[q.Currency] = rateView{Rate: q.Rate, Fiat: q.Fiat, Source: q.Source, UpdatedAt: q.At.UTC()}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rates": out})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether traffic should be sent here: not while draining, and
// not while a dependency (the store) is unusable.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "shutting down"})
		return
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
