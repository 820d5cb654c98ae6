package bitcoin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// fakeNode answers JSON-RPC (single and batched) from a handler, for what a
// real node will not do on demand: garbage, races, error codes of other
// implementations, counting calls. Everything else is tested against btcd.
type fakeNode struct {
	srv *httptest.Server

	mu     sync.Mutex
	handle func(method string, params []json.RawMessage) (any, *RPCError)
	calls  map[string]int
	posts  int
}

func newFakeNode(t *testing.T, handle func(method string, params []json.RawMessage) (any, *RPCError)) *fakeNode {
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
		return map[string]any{"id": req.ID, "result": result, "error": rpcErr}
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

// testNode returns a Node for url with a short timeout.
func testNode(t *testing.T, url string, timeout time.Duration) *Node {
	t.Helper()
	n, err := New(Config{
		URL: url, User: "user", Password: "pass", Currency: "BTC",
		Net: "bitcoin-regtest", Params: &chaincfg.RegressionNetParams, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
