package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/engine"
)

// currencyView is one currency of GET /currencies: the official ItisPay
// client's fields (currency_code ... created_at) with their names and
// types, then ours under names that do not collide.
type currencyView struct {
	CurrencyCode  string    `json:"currency_code"`
	IsCrypto      bool      `json:"is_crypto"`
	Precision     int       `json:"precision"`
	IsActive      bool      `json:"is_active"`
	WalletPattern string    `json:"wallet_pattern"`
	Network       string    `json:"network"`
	CreatedAt     time.Time `json:"created_at"`

	Name                  string      `json:"name"`
	NetworkType           string      `json:"network_type"`
	MinAmount             json.Number `json:"min_amount"`
	MaxAmount             json.Number `json:"max_amount,omitempty"` // crypto only: fiat is bounded once converted
	RequiredConfirmations int         `json:"required_confirmations"`
}

// currenciesListedAt is every currency's created_at: the day invoiced's
// currency table first listed them. A fixed date, so the answer is the same
// on every restart.
var currenciesListedAt = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// currencies lists the enabled crypto currencies by code, then the fiat
// currency amounts may be priced in (EUR: no network, no address).
func (s *Server) currencies(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	all := s.cfg.Rules.Currencies.All()
	out := make([]currencyView, 0, len(all)+len(engine.FiatCurrencies))
	for _, c := range all {
		out = append(out, currencyView{
			CurrencyCode: c.Code, IsCrypto: true, Precision: c.Decimals, IsActive: true,
			WalletPattern: c.AddressPattern, Network: c.Network.Name, CreatedAt: currenciesListedAt,
			Name: c.Name, NetworkType: c.Network.Type,
			MinAmount:             json.Number(engine.FormatDecimal(c.MinAmount, c.Decimals)),
			MaxAmount:             json.Number(engine.FormatDecimal(c.MaxAmount, c.Decimals)),
			RequiredConfirmations: c.Confirmations,
		})
	}
	for _, code := range engine.FiatCurrencies {
		out = append(out, currencyView{
			CurrencyCode: code, Precision: engine.FiatDecimals, IsActive: true, CreatedAt: currenciesListedAt,
			Name: fiatNames[code], NetworkType: "fiat",
			MinAmount: json.Number(engine.FormatDecimal(engine.NewUnits(1), engine.FiatDecimals)),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"currencies": out})
}

var fiatNames = map[string]string{"EUR": "Euro"}

// rateDetail is one currency's EUR rate in full: the exact decimal string
// (rates carries the same text as a JSON number), its fiat, source and age.
type rateDetail struct {
	Rate      string    `json:"rate"`
	Fiat      string    `json:"fiat"`
	Source    string    `json:"source"`
	UpdatedAt time.Time `json:"updated_at"`
}

// rates answers {"rates":{"BTC":58213.4,...},"rate_details":{"BTC":{...}}}:
// rates as the ItisPay client reads them (a number per code, written from
// the exact decimal text, never through a float64), rate_details for the
// rest.
func (s *Server) rates(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	numbers := map[string]json.Number{}
	details := map[string]rateDetail{}
	for _, q := range s.cfg.Rates.All("EUR") {
		if _, ok := s.cfg.Rules.Currencies.Lookup(q.Currency); ok {
			numbers[q.Currency] = rateNumber(q.Rate)
			details[q.Currency] = rateDetail{Rate: q.Rate, Fiat: q.Fiat, Source: q.Source, UpdatedAt: q.At.UTC()}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rates": numbers, "rate_details": details})
}

// rateNumber is a rate's decimal text as a JSON number: the same digits
// without the leading zeros a provider may send ("060000.5"), which JSON
// does not allow.
func rateNumber(rate string) json.Number {
	t := strings.TrimLeft(rate, "0")
	if t == "" || t[0] == '.' {
		t = "0" + t
	}
	return json.Number(t)
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
