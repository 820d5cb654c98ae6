// Package apitest is what the tests that drive a real server over HTTP
// share (server, integrity, the ledger simulation, the commands, deploy):
// one API call, and the wait that moves the server's clock (a
// internal/clock.Test) while it polls. Only _test files import it.
package apitest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Call sends one request to the server at base ("http://host:port"): the
// key as Api-Key when not empty, body as application/json when not empty.
// It returns the status and the response body; a transport error fails
// the test.
func Call(tb testing.TB, base, method, path, key, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	if key != "" {
		req.Header.Set("Api-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// Decode unmarshals a JSON response body into out, failing the test with
// the body when it does not parse.
func Decode(tb testing.TB, b []byte, out any) {
	tb.Helper()
	if err := json.Unmarshal(b, out); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
}
