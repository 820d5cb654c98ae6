// Package jsonrpctest serves JSON-RPC from a handler on a loopback HTTP
// server, for what a real node will not do on demand in the chain
// adapters' tests: recorded answers, garbage, other implementations' error
// codes, counting calls.
package jsonrpctest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// Handler answers one call with a result (marshalled to JSON; a
// json.RawMessage goes as is) or an error object.
type Handler func(method string, params []json.RawMessage) (any, *jsonrpc.Error)

// Server answers single and batched calls from a Handler, in the version
// each request names: a 2.0 response has one of result and error, a 1.0
// response both (the unused one null), as bitcoind sends them.
type Server struct {
	// URL is the server's endpoint.
	URL string

	handle Handler
	mu     sync.Mutex
	calls  map[string]int
	posts  int
}

// NewServer starts a Server; t.Cleanup closes it.
func NewServer(t testing.TB, handle Handler) *Server {
	t.Helper()
	s := &Server{handle: handle, calls: make(map[string]int)}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Count is how many calls of method the server has answered.
func (s *Server) Count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Posts is how many HTTP requests the server has had: a batch is one.
func (s *Server) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

type request struct {
	JSONRPC string            `json:"jsonrpc"`
	ID      json.RawMessage   `json:"id"`
	Method  string            `json:"method"`
	Params  []json.RawMessage `json:"params"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.posts++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if bytes.HasPrefix(body.Bytes(), []byte("[")) {
		var reqs []request
		if err := json.Unmarshal(body.Bytes(), &reqs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resps := make([]map[string]any, len(reqs))
		for i, req := range reqs {
			resps[i] = s.answer(req)
		}
		_ = json.NewEncoder(w).Encode(resps)
		return
	}
	var req request
	if err := json.Unmarshal(body.Bytes(), &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_ = json.NewEncoder(w).Encode(s.answer(req))
}

func (s *Server) answer(req request) map[string]any {
	s.mu.Lock()
	s.calls[req.Method]++
	s.mu.Unlock()
	result, rpcErr := s.handle(req.Method, req.Params)
	if req.JSONRPC != "2.0" {
		return map[string]any{"id": req.ID, "result": result, "error": rpcErr}
	}
	if rpcErr != nil {
		return map[string]any{"jsonrpc": "2.0", "id": req.ID, "error": rpcErr}
	}
	return map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result}
}
