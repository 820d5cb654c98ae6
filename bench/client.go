package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// newClient is the one HTTP client of a run, shared by every worker and
// phase so that the baselines measure the same client as the scenarios: a
// keep-alive connection per worker and host, no proxy, no compression.
func newClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        0, // no limit across hosts; per host below
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// StatusError is a non-2xx answer. It is an error of the run, never a
// success with a latency.
type StatusError struct {
	Code int
	Body string // the start of the body
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

const errorBodyPrefix = 300

// send does req and reads the body to its end (so the connection is
// reused). A 2xx body goes to into when into is not nil.
func send(c *http.Client, req *http.Request, into io.Writer) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyPrefix))
		_, _ = io.Copy(io.Discard, resp.Body)
		return &StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	if into == nil {
		into = io.Discard
	}
	if _, err := io.Copy(into, resp.Body); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

// apiRequest builds a request to the API with the key and, for a body, the
// JSON content type.
func apiRequest(ctx context.Context, method, url, key string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Api-key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// callJSON sends one setup request and decodes its JSON answer into out.
func callJSON(ctx context.Context, c *http.Client, method, url, key string, body []byte, out any) error {
	req, err := apiRequest(ctx, method, url, key, body)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := send(c, req, &buf); err != nil {
		return err
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, url, err)
	}
	return nil
}

// createProject makes the run's own project with the account key and
// returns the project's API key.
func createProject(ctx context.Context, c *http.Client, baseURL, accountKey, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"name": name, "description": "invoicebench run", "api_allowed_ips": ""})
	var resp struct {
		APIKey string `json:"api_key"`
	}
	if err := callJSON(ctx, c, http.MethodPost, baseURL+"/api/v1/projects", accountKey, body, &resp); err != nil {
		return "", fmt.Errorf("create project: %w", err)
	}
	if resp.APIKey == "" {
		return "", fmt.Errorf("create project: no api_key in the answer")
	}
	return resp.APIKey, nil
}
