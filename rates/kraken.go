package rates

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Kraken reads the last trade price from Kraken's public Ticker endpoint,
// GET /0/public/Ticker?pair=XBTEUR,ETHEUR, all pairs in one request.
type Kraken struct{ http httpGetter }

var _ Provider = (*Kraken)(nil)

// krakenAssets are Kraken's names for the currencies it prices for us. Kraken
// calls bitcoin XBT.
var krakenAssets = map[string]string{"BTC": "XBT", "ETH": "ETH", "LTC": "LTC", "USDT": "USDT"}

// krakenFiats are the fiat currencies asked of Kraken.
var krakenFiats = map[string]bool{"EUR": true, "USD": true}

// NewKraken returns the Kraken provider; the public endpoint is
// https://api.kraken.com.
func NewKraken(cfg ProviderConfig) *Kraken {
	return &Kraken{http: newHTTPGetter("kraken", "https://api.kraken.com", cfg)}
}

func (*Kraken) Name() string { return "kraken" }

// Supports reports whether Kraken is asked for p.
func (*Kraken) Supports(p Pair) bool {
	_, ok := krakenAssets[p.Currency]
	return ok && krakenFiats[p.Fiat]
}

// krakenKeys are the names a pair may have in Kraken's result: the one we ask
// for ("XBTEUR", "USDTEUR") or the legacy name of the older assets, X before
// the crypto and Z before the fiat ("XXBTZEUR", "XETHZEUR").
func krakenKeys(p Pair) [2]string {
	asset := krakenAssets[p.Currency]
	return [2]string{asset + p.Fiat, "X" + asset + "Z" + p.Fiat}
}

// Fetch asks for every supported pair in one request. A pair missing from
// the result is absent; an "E..." entry in Kraken's error list, or a listed
// pair without a last trade price, is an error.
func (k *Kraken) Fetch(ctx context.Context, pairs []Pair) (map[Pair]string, error) {
	var asked []Pair
	var names []string
	for _, p := range pairs {
		if k.Supports(p) {
			asked = append(asked, p)
			names = append(names, krakenKeys(p)[0])
		}
	}
	out := make(map[Pair]string, len(asked))
	if len(asked) == 0 {
		return out, nil
	}
	var body struct {
		Error  []string `json:"error"`
		Result map[string]struct {
			// C is the last trade closed: [price, lot volume].
			C []json.RawMessage `json:"c"`
		} `json:"result"`
	}
	if err := k.http.getJSON(ctx, "/0/public/Ticker?pair="+strings.Join(names, ","), &body); err != nil {
		return nil, err
	}
	for _, e := range body.Error {
		if strings.HasPrefix(e, "E") {
			return nil, fmt.Errorf("kraken: error %q", e)
		}
	}
	if body.Result == nil {
		return nil, fmt.Errorf("kraken: response has no result")
	}
	for _, p := range asked {
		for _, key := range krakenKeys(p) {
			t, ok := body.Result[key]
			if !ok {
				continue
			}
			if len(t.C) == 0 {
				return nil, fmt.Errorf("kraken: %s: no last trade price", key)
			}
			rate, err := rateText(t.C[0])
			if err != nil {
				return nil, fmt.Errorf("kraken: %s: %w", key, err)
			}
			out[p] = rate
			break
		}
	}
	return out, nil
}
