package ethereum

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeNode answers JSON-RPC (single and batched) from a handler, for what a
// real node will not do on demand: recorded answers, garbage, other nodes'
// error codes, counting calls. Everything else is tested against geth.
type fakeNode struct {
	srv *httptest.Server

	mu     sync.Mutex
	handle func(method string, params []json.RawMessage) (any, *RPCError)
	calls  map[string]int
	posts  int
}

func newFakeNode(t testing.TB, handle func(method string, params []json.RawMessage) (any, *RPCError)) *fakeNode {
	t.Helper()
	f := &fakeNode{handle: handle, calls: make(map[string]int)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

type fakeRequest struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

func (f *fakeNode) serve(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.posts++
	f.mu.Unlock()
	answer := func(req fakeRequest) map[string]any {
		f.mu.Lock()
		f.calls[req.Method]++
		handle := f.handle
		f.mu.Unlock()
		result, rpcErr := handle(req.Method, req.Params)
		if rpcErr != nil {
			return map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": rpcErr}
		}
		return map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result}
	}
	w.Header().Set("Content-Type", "application/json")
	if bytes.HasPrefix(body.Bytes(), []byte("[")) {
		var reqs []fakeRequest
		if err := json.Unmarshal(body.Bytes(), &reqs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resps := make([]map[string]any, len(reqs))
		for i, req := range reqs {
			resps[i] = answer(req)
		}
		_ = json.NewEncoder(w).Encode(resps)
		return
	}
	var req fakeRequest
	if err := json.Unmarshal(body.Bytes(), &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_ = json.NewEncoder(w).Encode(answer(req))
}

func (f *fakeNode) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fakeNode) postCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts
}

// errMethodNotFound is geth's answer for a method it lacks.
func errMethodNotFound(method string) *RPCError {
	return &RPCError{Code: -32601, Message: "the method " + method + " does not exist/is not available"}
}

// recorded returns the result of a recorded response body in testdata.
func recorded(t testing.TB, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || resp.Result == nil {
		t.Fatalf("testdata/%s: not a JSON-RPC response: %v", name, err)
	}
	return resp.Result
}

// testNode returns a Node for url reporting ETH and the recorded token.
func testNode(t testing.TB, url string, timeout time.Duration) *Node {
	t.Helper()
	n, err := New(Config{URL: url, Net: "ethereum-dev", Native: "ETH",
		Tokens: []Token{{Currency: "USDT", Contract: recToken}}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
