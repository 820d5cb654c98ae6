package rates

import (
	"fmt"
	"strings"
)

// ParseOverrides parses the config/environment syntax for static rates,
// "BTC=61000.5,ETH=3100", into a map for NewStatic (usually overlaid on
// DefaultStaticRates). Spaces around items, codes and rates are ignored; an
// empty or all-space string gives an empty map. Codes must be upper case.
// Empty items, a missing '=', a bad code or rate, and a code given twice are
// errors that quote the offending item.
func ParseOverrides(s string) (map[string]string, error) {
	out := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for i, item := range strings.Split(s, ",") {
		code, rate, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("rate override %d %q: want CODE=RATE", i+1, item)
		}
		code, rate = strings.TrimSpace(code), strings.TrimSpace(rate)
		if err := validateCode(code); err != nil {
			return nil, fmt.Errorf("rate override %d %q: %w", i+1, item, err)
		}
		if err := validateRate(rate); err != nil {
			return nil, fmt.Errorf("rate override %d %q: %w", i+1, item, err)
		}
		if _, dup := out[code]; dup {
			return nil, fmt.Errorf("rate override %d %q: %s given twice", i+1, item, code)
		}
		out[code] = rate
	}
	return out, nil
}
