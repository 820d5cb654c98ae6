package jsonrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

// raw answers every request with status and body.
func raw(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestCall_RequestCarriesVersionIDAndParams(t *testing.T) {
	for _, version := range []string{"", "1.0", "2.0"} {
		t.Run("version "+version, func(t *testing.T) {
			var got []map[string]json.RawMessage
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req map[string]json.RawMessage
				_ = json.NewDecoder(r.Body).Decode(&req)
				got = append(got, req)
				_, _ = w.Write([]byte(`{"id":` + string(req["id"]) + `,"result":true}`))
			}))
			defer srv.Close()
			c := &jsonrpc.Client{URL: srv.URL, Version: version}
			for _, params := range [][]any{nil, {"a", 1}} {
				if err := c.Call(context.Background(), "m", params, nil); err != nil {
					t.Fatal(err)
				}
			}
			want := version
			if want == "" {
				want = "2.0"
			}
			if string(got[0]["jsonrpc"]) != `"`+want+`"` || string(got[0]["method"]) != `"m"` {
				t.Errorf("request %s %s, want version %s of m", got[0]["jsonrpc"], got[0]["method"], want)
			}
			// btcd refuses a request without params.
			if string(got[0]["params"]) != "[]" || string(got[1]["params"]) != `["a",1]` {
				t.Errorf("params %s and %s", got[0]["params"], got[1]["params"])
			}
			if string(got[0]["id"]) == string(got[1]["id"]) {
				t.Errorf("two calls with id %s", got[0]["id"])
			}
		})
	}
}

// TestCall_ResultsErrorsAndNull: in either version's response shape, a
// result decodes, an error object is an *Error, and a null result is
// ErrNull unless the caller discards the result.
func TestCall_ResultsErrorsAndNull(t *testing.T) {
	f := jsonrpctest.NewServer(t, func(method string, _ []json.RawMessage) (any, *jsonrpc.Error) {
		switch method {
		case "answer":
			return 42, nil
		case "null":
			return nil, nil
		}
		return nil, &jsonrpc.Error{Code: -32601, Message: "Method not found"}
	})
	ctx := context.Background()
	for _, version := range []string{"1.0", "2.0"} {
		c := &jsonrpc.Client{URL: f.URL, Version: version}
		var n int
		if err := c.Call(ctx, "answer", nil, &n); err != nil || n != 42 {
			t.Errorf("%s: answer = %d, %v", version, n, err)
		}
		err := c.Call(ctx, "missing", nil, &n)
		var re *jsonrpc.Error
		if !errors.As(err, &re) || re.Code != -32601 || !strings.HasPrefix(err.Error(), "missing: ") {
			t.Errorf("%s: missing = %v, want the node's -32601 naming the method", version, err)
		}
		if err := c.Call(ctx, "null", nil, &n); !errors.Is(err, jsonrpc.ErrNull) {
			t.Errorf("%s: null into an int = %v, want ErrNull", version, err)
		}
		if err := c.Call(ctx, "null", nil, nil); err != nil {
			t.Errorf("%s: null discarded = %v", version, err)
		}
	}
}

// TestCall_GarbageIsAnError: whatever the endpoint answers, Call returns
// an error, neither ErrNull nor a node's error object.
func TestCall_GarbageIsAnError(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"not json":               raw(200, "garbage{"),
		"empty body":             raw(200, ""),
		"html error page":        raw(502, "<html>bad gateway</html>"),
		"json array":             raw(200, "[1,2,3]"),
		"json string":            raw(200, `"hello"`),
		"truncated json":         raw(200, `{"id":1,"result":{"blocks":1`),
		"no result, no error":    raw(200, `{"jsonrpc":"2.0","id":1}`),
		"error of wrong shape":   raw(200, `{"id":1,"result":null,"error":"bad"}`),
		"result of wrong type":   raw(200, `{"id":1,"result":"ten"}`),
		"long body is shortened": raw(500, strings.Repeat("x", 10_000)),
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			var n int
			err := (&jsonrpc.Client{URL: srv.URL}).Call(context.Background(), "m", nil, &n)
			var re *jsonrpc.Error
			if err == nil || errors.Is(err, jsonrpc.ErrNull) || errors.As(err, &re) {
				t.Fatalf("Call = %v, want an error of its own", err)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d bytes: %.300s", len(err.Error()), err)
			}
		})
	}
}

// TestCall_SecretsStayOutOfErrors: credentials reach the endpoint as basic
// auth; neither they nor the URL's path and query appear in an error,
// which names the endpoint by Name.
func TestCall_SecretsStayOutOfErrors(t *testing.T) {
	var gotUser, gotPass, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		gotPath = r.URL.RequestURI()
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := &jsonrpc.Client{
		URL: srv.URL + "/v3/apikey123?token=tok456", Name: "http://node.example",
		User: "alice", Password: "s3cr3t", Timeout: time.Second,
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded", what)
		}
		for _, leak := range []string{"s3cr3t", "alice", "apikey123", "tok456"} {
			if strings.Contains(err.Error(), leak) {
				t.Fatalf("%s error contains %q: %v", what, leak, err)
			}
		}
	}
	check("Call against a 500 without JSON", c.Call(context.Background(), "m", nil, nil))
	if gotUser != "alice" || gotPass != "s3cr3t" || gotPath != "/v3/apikey123?token=tok456" {
		t.Fatalf("request: basic auth %q/%q, path %q", gotUser, gotPass, gotPath)
	}
	srv.Close() // now the dial fails, and net/http would quote the URL
	err := c.Call(context.Background(), "m", nil, nil)
	check("Call against a closed server", err)
	if !strings.Contains(err.Error(), "http://node.example") {
		t.Fatalf("error %v does not name the endpoint", err)
	}
	check("CallBatch against a closed server", c.CallBatch(context.Background(), []jsonrpc.Call{{Method: "m"}}))
}

func TestCall_UnauthorizedGivesTheHint(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		srv := httptest.NewServer(raw(status, `{"id":1,"result":1}`))
		defer srv.Close()
		for hint, want := range map[string]string{"": "check the credentials", "check the RPC user": "check the RPC user"} {
			err := (&jsonrpc.Client{URL: srv.URL, AuthHint: hint}).Call(context.Background(), "m", nil, nil)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("HTTP %d with hint %q: %v, want %q", status, hint, err, want)
			}
		}
	}
}

func TestCall_ResponseOverTheCapIsAnError(t *testing.T) {
	result := `"` + strings.Repeat("a", 1000) + `"`
	body := `{"id":1,"result":` + result + `}`
	srv := httptest.NewServer(raw(200, body))
	defer srv.Close()
	var s string
	for limit, ok := range map[int]bool{len(body): true, len(body) - 1: false, 0: true} {
		err := (&jsonrpc.Client{URL: srv.URL, MaxResponseBytes: limit}).Call(context.Background(), "m", nil, &s)
		if (err == nil) != ok || (!ok && !strings.Contains(err.Error(), "response over")) {
			t.Errorf("cap %d on %d bytes: %v", limit, len(body), err)
		}
	}
}

func TestCall_DownEndpointFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &jsonrpc.Client{URL: "http://" + addr, Timeout: 5 * time.Second}
	start := time.Now()
	if err := c.Call(context.Background(), "m", nil, nil); err == nil {
		t.Error("Call succeeded against a closed port")
	}
	if err := c.CallBatch(context.Background(), []jsonrpc.Call{{Method: "m"}, {Method: "m"}}); err == nil {
		t.Error("CallBatch succeeded against a closed port")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("two calls to a closed port took %v: retrying?", d)
	}
}

// TestCall_HungEndpointTimesOut: an endpoint that accepts and never
// answers costs one Timeout per call, or the caller's shorter deadline.
func TestCall_HungEndpointTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &jsonrpc.Client{URL: srv.URL, Timeout: 200 * time.Millisecond}
	for name, call := range map[string]func(context.Context) error{
		"Call":      func(ctx context.Context) error { return c.Call(ctx, "m", nil, nil) },
		"CallBatch": func(ctx context.Context) error { return c.CallBatch(ctx, []jsonrpc.Call{{Method: "m"}}) },
	} {
		start := time.Now()
		if err := call(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s = %v, want a deadline error", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %v with a 200ms timeout", name, d)
		}
	}
	for name, slow := range map[string]*jsonrpc.Client{
		"timeout of a minute": {URL: srv.URL, Timeout: time.Minute},
		"no timeout":          {URL: srv.URL},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		if err := slow.Call(ctx, "m", nil, nil); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("%s, context of 100ms: %v after %v", name, err, time.Since(start))
		}
		cancel()
	}
}
