package rates

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// CoinGecko reads CoinGecko's simple price endpoint,
// GET /api/v3/simple/price?ids=bitcoin&vs_currencies=eur&precision=full,
// all pairs in one request. Its prices are JSON numbers; their literal text is
// kept, never a float.
type CoinGecko struct{ http httpGetter }

var _ Provider = (*CoinGecko)(nil)

// coinGeckoIDs are CoinGecko's coin ids for our currency codes.
var coinGeckoIDs = map[string]string{"BTC": "bitcoin", "ETH": "ethereum", "LTC": "litecoin", "USDT": "tether"}

// coinGeckoFiats are the fiat currencies asked of CoinGecko.
var coinGeckoFiats = map[string]bool{"EUR": true, "USD": true}

// NewCoinGecko returns the CoinGecko provider; the public endpoint is
// https://api.coingecko.com.
func NewCoinGecko(cfg ProviderConfig) *CoinGecko {
	return &CoinGecko{http: newHTTPGetter("coingecko", "https://api.coingecko.com", cfg)}
}

func (*CoinGecko) Name() string { return "coingecko" }

// Supports reports whether CoinGecko is asked for p.
func (*CoinGecko) Supports(p Pair) bool {
	_, ok := coinGeckoIDs[p.Currency]
	return ok && coinGeckoFiats[p.Fiat]
}

// Fetch asks for every supported pair in one request. A coin or fiat missing
// from the response, or a null price, is absent; a price that is not a
// positive decimal is an error.
func (c *CoinGecko) Fetch(ctx context.Context, pairs []Pair) (map[Pair]string, error) {
	idSet, fiatSet := map[string]bool{}, map[string]bool{}
	var asked []Pair
	for _, p := range pairs {
		if c.Supports(p) {
			asked = append(asked, p)
			idSet[coinGeckoIDs[p.Currency]] = true
			fiatSet[strings.ToLower(p.Fiat)] = true
		}
	}
	out := make(map[Pair]string, len(asked))
	if len(asked) == 0 {
		return out, nil
	}
	// Only the requested coins must be objects of prices; other keys
	// are not ours to judge.
	var body map[string]json.RawMessage
	q := "/api/v3/simple/price?ids=" + strings.Join(sortedKeys(idSet), ",") +
		"&vs_currencies=" + strings.Join(sortedKeys(fiatSet), ",") + "&precision=full"
	if err := c.http.getJSON(ctx, q, &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, fmt.Errorf("coingecko: response is null")
	}
	prices := make(map[string]map[string]json.RawMessage)
	for id := range idSet {
		raw, ok := body[id]
		if !ok || isNull(raw) {
			continue
		}
		var m map[string]json.RawMessage
		if err := decodeJSON(raw, &m); err != nil {
			return nil, fmt.Errorf("coingecko: %s: %w", id, err)
		}
		prices[id] = m
	}
	for _, p := range asked {
		id, vs := coinGeckoIDs[p.Currency], strings.ToLower(p.Fiat)
		raw, ok := prices[id][vs]
		if !ok || isNull(raw) {
			continue
		}
		rate, err := rateText(raw)
		if err != nil {
			return nil, fmt.Errorf("coingecko: %s in %s: %w", id, vs, err)
		}
		out[p] = rate
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
