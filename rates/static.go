package rates

import (
	"fmt"
	"sort"
	"time"
)

// staticFiat is the only fiat currency of a Static table.
const staticFiat = "EUR"

// staticSource is the Quote.Source of every Static quote.
const staticSource = "static"

// Static is a fixed table, the offline default.
//
// Its rates come from configuration (DefaultStaticRates overlaid with
// ParseOverrides) and are all in EUR per whole coin. A Static is immutable
// after NewStatic returns and safe for concurrent use without locking.
type Static struct {
	byCurrency map[string]Quote
	sorted     []Quote // by currency code; All copies it
}

var _ Source = (*Static)(nil)

// DefaultStaticRates returns sane defaults in EUR per coin, a fresh map each
// call so callers can overlay overrides on it.
func DefaultStaticRates() map[string]string {
	return map[string]string{
		"BTC":  "60000.00",
		"LTC":  "80.00",
		"ETH":  "3000.00",
		"USDT": "0.92",
	}
}

// NewStatic builds a Static table from rates, keyed by crypto code (upper case)
// with EUR per coin as values; at is reported as every quote's time. Every rate
// must be a positive decimal string (see validateRate); the error names the
// first bad entry in code order. The map is copied.
func NewStatic(rates map[string]string, at time.Time) (*Static, error) {
	codes := make([]string, 0, len(rates))
	for code := range rates {
		codes = append(codes, code)
	}
	sort.Strings(codes)

	s := &Static{
		byCurrency: make(map[string]Quote, len(rates)),
		sorted:     make([]Quote, 0, len(rates)),
	}
	for _, code := range codes {
		rate := rates[code]
		if err := validateCode(code); err != nil {
			return nil, fmt.Errorf("static rate %q=%q: %w", code, rate, err)
		}
		if err := validateRate(rate); err != nil {
			return nil, fmt.Errorf("static rate for %s: %w", code, err)
		}
		q := Quote{Currency: code, Fiat: staticFiat, Rate: rate, Source: staticSource, At: at}
		s.byCurrency[code] = q
		s.sorted = append(s.sorted, q)
	}
	return s, nil
}

// Quote returns the configured rate for currency in fiat. Codes are matched
// exactly (upper case); any pair not in the table, including any fiat other
// than EUR, gives an error wrapping ErrNoRate.
func (s *Static) Quote(currency, fiat string) (Quote, error) {
	q, ok := s.byCurrency[currency]
	if !ok || fiat != staticFiat {
		return Quote{}, fmt.Errorf("static quote %s/%s: %w", currency, fiat, ErrNoRate)
	}
	return q, nil
}

// All returns every quote in fiat, sorted by currency code, as served by
// GET /api/v1/rates. It returns a new, non-nil slice (empty for a fiat the
// table does not hold), so callers may modify it and it encodes as a JSON array.
func (s *Static) All(fiat string) []Quote {
	if fiat != staticFiat {
		return []Quote{}
	}
	out := make([]Quote, len(s.sorted))
	copy(out, s.sorted)
	return out
}
