package rates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// A Pair is a crypto currency priced in a fiat currency, both upper case:
// {"BTC", "EUR"} is the price of one bitcoin in euros.
type Pair struct {
	Currency string
	Fiat     string
}

func (p Pair) String() string { return p.Currency + "/" + p.Fiat }

// A Provider fetches current rates from one outside source.
//
// Fetch returns the rates it found for pairs as decimal strings (see
// validateRate); pairs the provider does not list are simply absent from the
// map, which is not an error. Any failure — network, timeout, a status other
// than 200, a body that is not the expected JSON, a value that is not a
// positive decimal — is an error naming the provider, and then the map is nil:
// a response that is wrong in one place is not trusted in another. Fetch must
// return soon after ctx is done.
type Provider interface {
	Name() string
	Fetch(ctx context.Context, pairs []Pair) (map[Pair]string, error)
}

// ProviderConfig is what every HTTP provider needs.
type ProviderConfig struct {
	// Client sends the requests; nil means a client with default transport.
	// Its own Timeout may be zero: every request gets Timeout below.
	Client *http.Client
	// BaseURL replaces the provider's public endpoint, scheme and host (and
	// an optional path prefix) without a trailing slash; tests point it at
	// an httptest server.
	BaseURL string
	// Timeout bounds one HTTP request, body included (default 10 s).
	Timeout time.Duration
}

// defaultRequestTimeout is ProviderConfig.Timeout's default.
const defaultRequestTimeout = 10 * time.Second

// maxResponseBytes bounds a provider's response body. Real ticker responses
// for a handful of pairs are a few KiB; anything near this limit is not one.
const maxResponseBytes = 1 << 20

// httpGetter does the HTTP part shared by the providers.
type httpGetter struct {
	provider string // for error messages
	client   *http.Client
	baseURL  string
	timeout  time.Duration
}

func newHTTPGetter(provider, defaultBase string, cfg ProviderConfig) httpGetter {
	g := httpGetter{provider: provider, client: cfg.Client, baseURL: cfg.BaseURL, timeout: cfg.Timeout}
	if g.client == nil {
		g.client = &http.Client{}
	}
	if g.baseURL == "" {
		g.baseURL = defaultBase
	}
	g.baseURL = strings.TrimSuffix(g.baseURL, "/")
	if g.timeout <= 0 {
		g.timeout = defaultRequestTimeout
	}
	return g
}

// getJSON GETs baseURL+pathQuery and decodes the JSON body into v, with numbers
// kept as json.Number. The whole request, body included, runs under the
// timeout; a status other than 200, a body over maxResponseBytes, invalid or
// truncated JSON, and anything after the JSON value are errors.
func (g httpGetter) getJSON(ctx context.Context, pathQuery string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	url := g.baseURL + pathQuery
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", g.provider, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "invoiced")
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", g.provider, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: GET %s: status %s", g.provider, url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("%s: GET %s: read body: %w", g.provider, url, err)
	}
	if len(body) > maxResponseBytes {
		return fmt.Errorf("%s: GET %s: response larger than %d bytes", g.provider, url, maxResponseBytes)
	}
	if err := decodeJSON(body, v); err != nil {
		return fmt.Errorf("%s: GET %s: %w", g.provider, url, err)
	}
	return nil
}

// decodeJSON decodes exactly one JSON value from body into v, numbers as
// json.Number so no rate passes through float64.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode JSON: data after the JSON value")
	}
	return nil
}

// rateText extracts a rate from a JSON value that is either a number (its
// literal text) or a string holding one, as providers use both. The result
// passed providerDecimal.
func rateText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	var text string
	switch {
	case len(raw) == 0:
		return "", errors.New("missing rate")
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", fmt.Errorf("rate %s: %w", raw, err)
		}
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		text = string(raw)
	default:
		return "", fmt.Errorf("rate %s: want a number or a string holding one", raw)
	}
	return providerDecimal(text)
}
