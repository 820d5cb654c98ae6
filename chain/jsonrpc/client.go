// Package jsonrpc is the JSON-RPC over HTTP POST client the chain adapters
// share: bitcoind and btcd speak version 1.0, Ethereum nodes 2.0. A call is
// one HTTP request bounded by the client's Timeout and the caller's
// context, never retried: the chain monitor's poll loop is the retry.
//
// Credentials travel only as basic auth and never appear in an error; an
// error names the endpoint by Client.Name, so a secret in the URL's path
// (a hosted provider's API key) stays out of logs too.
package jsonrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxResponseBytes caps a response when Client.MaxResponseBytes is
// zero.
const DefaultMaxResponseBytes = 128 << 20

// Client calls one JSON-RPC endpoint. Set its fields before the first call
// and leave them; it is then safe for concurrent use. Only URL is required.
type Client struct {
	// URL is the endpoint. It must hold no credentials: User and Password
	// carry them.
	URL string
	// Name is how errors refer to the endpoint, URL when empty. Set it
	// (to scheme://host, say) when the URL's path or query holds a secret.
	Name string
	// User and Password, when either is set, are sent as basic auth.
	User, Password string
	// Credentials, when set, supply the basic auth of every request
	// instead of User and Password: for credentials that change while the
	// client runs, such as bitcoind's cookie file.
	Credentials Credentials
	// Version is the "jsonrpc" member of every request: "1.0" for
	// bitcoind and btcd, "2.0" (the default) for Ethereum nodes.
	Version string
	// Timeout bounds each HTTP request; zero leaves it to the caller's
	// context.
	Timeout time.Duration
	// MaxResponseBytes caps what one response body may hold
	// (DefaultMaxResponseBytes when zero), so a misbehaving endpoint
	// cannot make the client buffer more.
	MaxResponseBytes int
	// AuthHint ends the error for HTTP 401 and 403, saying what the
	// operator should check; "check the credentials" when empty.
	AuthHint string
	// HTTP sends the requests. When nil the client uses a transport of
	// its own: no connection pool shared with other clients, no proxy
	// settings from the environment.
	HTTP *http.Client

	nextID  atomic.Uint64
	ownOnce sync.Once
	own     *http.Client
}

// Credentials are basic auth read from somewhere that can change.
type Credentials interface {
	// Basic returns the user and password to send.
	Basic() (user, password string, err error)
	// Refused says the endpoint answered HTTP 401 to them: the next Basic
	// reads them again.
	Refused()
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// Call invokes method and decodes its result into out. A nil out discards
// the result, whatever it is; otherwise a null result is ErrNull. An error
// object from the node is an *Error.
func (c *Client) Call(ctx context.Context, method string, params []any, out any) error {
	body, status, err := c.post(ctx, c.request(method, params))
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var resp response
	if err := json.Unmarshal(body, &resp); err != nil || (resp.Result == nil && resp.Error == nil) {
		return fmt.Errorf("%s: %s", method, badResponse(status, body))
	}
	if resp.Error != nil {
		return fmt.Errorf("%s: %w", method, resp.Error)
	}
	if err := decode(resp.Result, out); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

func (c *Client) request(method string, params []any) request {
	if params == nil {
		params = []any{} // btcd rejects a request without params
	}
	version := c.Version
	if version == "" {
		version = "2.0"
	}
	return request{JSONRPC: version, ID: c.nextID.Add(1), Method: method, Params: params}
}

// post sends one HTTP request under the per-call timeout and returns the
// body whatever the status: bitcoind, some Ethereum nodes and proxies send
// JSON-RPC errors with a 4xx or 5xx status.
func (c *Client) post(ctx context.Context, payload any) ([]byte, int, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	name := c.name()
	reqBody, err := json.Marshal(payload)
	if err != nil {
		return nil, 0, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(reqBody))
	if err != nil {
		return nil, 0, fmt.Errorf("build request to %s: %w", name, redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Credentials != nil {
		user, password, err := c.Credentials.Basic()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: credentials: %w", name, err)
		}
		req.SetBasicAuth(user, password)
	} else if c.User != "" || c.Password != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, redact(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized && c.Credentials != nil {
		c.Credentials.Refused()
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		hint := c.AuthHint
		if hint == "" {
			hint = "check the credentials"
		}
		return nil, resp.StatusCode, fmt.Errorf("%s: HTTP %d: %s", name, resp.StatusCode, hint)
	}
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s: read response: %w", name, redact(err))
	}
	if len(body) > limit {
		return nil, resp.StatusCode, fmt.Errorf("%s: response over %d bytes", name, limit)
	}
	return body, resp.StatusCode, nil
}

func (c *Client) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.URL
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	c.ownOnce.Do(func() {
		c.own = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
		}}
	})
	return c.own
}

// redact drops the URL from net/http's *url.Error (its path or query may
// hold an API key) and keeps what it wraps, so errors.Is still sees a
// context deadline.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// decode decodes a result into out (nil: discard it). JSON null is ErrNull
// rather than a zero value that would pass for an answer.
func decode(raw json.RawMessage, out any) error {
	if out == nil {
		return nil
	}
	if string(raw) == "null" {
		return ErrNull
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode result %s: %w", truncate(raw), err)
	}
	return nil
}

// badResponse describes a body that is not a JSON-RPC response.
func badResponse(status int, body []byte) string {
	return fmt.Sprintf("not a JSON-RPC response (HTTP %d): %s", status, truncate(body))
}

// truncate keeps error messages short when a body is large.
func truncate(b []byte) string {
	const limit = 120
	if len(b) > limit {
		return fmt.Sprintf("%q...", b[:limit])
	}
	return fmt.Sprintf("%q", b)
}
