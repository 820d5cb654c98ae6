package rates

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Bitstamp reads the last trade price from Bitstamp's ticker,
// GET /api/v2/ticker/btceur/, one request per pair.
type Bitstamp struct{ http httpGetter }

var _ Provider = (*Bitstamp)(nil)

// bitstampCurrencies and bitstampFiats are what Bitstamp is asked for; its
// pair names are the lower-case codes run together ("btceur").
var (
	bitstampCurrencies = map[string]bool{"BTC": true, "ETH": true, "LTC": true, "USDT": true}
	bitstampFiats      = map[string]bool{"EUR": true, "USD": true}
)

// NewBitstamp returns the Bitstamp provider; the public endpoint is
// https://www.bitstamp.net.
func NewBitstamp(cfg ProviderConfig) *Bitstamp {
	return &Bitstamp{http: newHTTPGetter("bitstamp", "https://www.bitstamp.net", cfg)}
}

func (*Bitstamp) Name() string { return "bitstamp" }

// Supports reports whether Bitstamp is asked for p.
func (*Bitstamp) Supports(p Pair) bool {
	return bitstampCurrencies[p.Currency] && bitstampFiats[p.Fiat]
}

// Fetch asks for the supported pairs one after another; each request has its
// own timeout. Since every request names its pair, any failure, including a
// ticker without a last price, is an error for the whole fetch.
func (b *Bitstamp) Fetch(ctx context.Context, pairs []Pair) (map[Pair]string, error) {
	out := make(map[Pair]string)
	for _, p := range pairs {
		if !b.Supports(p) {
			continue
		}
		name := strings.ToLower(p.Currency + p.Fiat)
		var body struct {
			Last json.RawMessage `json:"last"`
		}
		if err := b.http.getJSON(ctx, "/api/v2/ticker/"+name+"/", &body); err != nil {
			return nil, err
		}
		rate, err := rateText(body.Last)
		if err != nil {
			return nil, fmt.Errorf("bitstamp: %s: %w", name, err)
		}
		out[p] = rate
	}
	return out, nil
}
