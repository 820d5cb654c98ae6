package jsonrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

// TestCallBatch_OneRoundTripEachCallItsOutcome: a batch is one HTTP
// request, and each call gets its own result or error object.
func TestCallBatch_OneRoundTripEachCallItsOutcome(t *testing.T) {
	f := jsonrpctest.NewServer(t, func(method string, params []json.RawMessage) (any, *jsonrpc.Error) {
		if method == "fail" {
			return nil, &jsonrpc.Error{Code: -5, Message: "no such thing"}
		}
		return json.RawMessage(params[0]), nil
	})
	for _, version := range []string{"1.0", "2.0"} {
		c := &jsonrpc.Client{URL: f.URL, Version: version}
		calls := []jsonrpc.Call{
			{Method: "echo", Params: []any{1}},
			{Method: "fail", Params: []any{2}},
			{Method: "echo", Params: []any{nil}},
			{Method: "echo", Params: []any{"x"}},
		}
		posts := f.Posts()
		if err := c.CallBatch(context.Background(), calls); err != nil {
			t.Fatal(err)
		}
		if f.Posts() != posts+1 {
			t.Fatalf("%s: %d HTTP requests for one batch", version, f.Posts()-posts)
		}
		var n int
		var s string
		var re *jsonrpc.Error
		if err := calls[0].Decode(&n); err != nil || n != 1 {
			t.Errorf("%s: call 0 = %d, %v", version, n, err)
		}
		if err := calls[1].Decode(&n); !errors.As(err, &re) || re.Code != -5 {
			t.Errorf("%s: call 1 = %v, want the node's -5", version, err)
		}
		if err := calls[2].Decode(&n); !errors.Is(err, jsonrpc.ErrNull) {
			t.Errorf("%s: call 2 = %v, want ErrNull", version, err)
		}
		if err := calls[3].Decode(&s); err != nil || s != "x" {
			t.Errorf("%s: call 3 = %q, %v", version, s, err)
		}
	}
}

// batchAnswer serves a batch by rewriting the responses a well-behaved
// node would send.
func batchAnswer(rewrite func(resps []map[string]any) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var reqs []struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&reqs)
		resps := make([]map[string]any, len(reqs))
		for i, req := range reqs {
			resps[i] = map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": i}
		}
		_ = json.NewEncoder(w).Encode(rewrite(resps))
	}
}

func TestCallBatch_MatchesAnswersByID(t *testing.T) {
	srv := httptest.NewServer(batchAnswer(func(resps []map[string]any) any {
		slices.Reverse(resps)
		return resps
	}))
	defer srv.Close()
	calls := make([]jsonrpc.Call, 5)
	for i := range calls {
		calls[i].Method = "m"
	}
	if err := (&jsonrpc.Client{URL: srv.URL}).CallBatch(context.Background(), calls); err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		var n int
		if err := c.Decode(&n); err != nil || n != i {
			t.Errorf("call %d = %d, %v", i, n, err)
		}
	}
}

func TestCallBatch_BadAnswersAreAnError(t *testing.T) {
	tests := map[string]http.HandlerFunc{
		"unknown id": batchAnswer(func(resps []map[string]any) any {
			resps[1]["id"] = 999
			return resps
		}),
		"repeated id": batchAnswer(func(resps []map[string]any) any {
			resps[1]["id"] = resps[0]["id"]
			return resps
		}),
		"an answer missing": batchAnswer(func(resps []map[string]any) any { return resps[1:] }),
		"an answer too many": batchAnswer(func(resps []map[string]any) any {
			return append(resps, map[string]any{"id": 1000, "result": 1})
		}),
		"batch refused": raw(200, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}`),
		"not json":      raw(502, "<html>bad gateway</html>"),
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			calls := []jsonrpc.Call{{Method: "m"}, {Method: "m"}, {Method: "m"}}
			err := (&jsonrpc.Client{URL: srv.URL}).CallBatch(context.Background(), calls)
			if err == nil || !strings.HasPrefix(err.Error(), "m (batch): ") {
				t.Fatalf("CallBatch = %v, want an error for the batch", err)
			}
			var re *jsonrpc.Error
			if errors.As(err, &re) != (name == "batch refused") {
				t.Fatalf("CallBatch = %v: a node's error object only when it refused the batch", err)
			}
		})
	}
}

func TestCallBatch_AnswerWithoutResultOrErrorFailsThatCall(t *testing.T) {
	srv := httptest.NewServer(batchAnswer(func(resps []map[string]any) any {
		delete(resps[1], "result")
		return resps
	}))
	defer srv.Close()
	calls := []jsonrpc.Call{{Method: "m"}, {Method: "m"}}
	if err := (&jsonrpc.Client{URL: srv.URL}).CallBatch(context.Background(), calls); err != nil {
		t.Fatal(err)
	}
	if calls[0].Err != nil || calls[1].Err == nil || calls[1].Result != nil {
		t.Fatalf("calls = %+v, want the second failed", calls)
	}
}

func TestCallBatch_EmptySendsNothing(t *testing.T) {
	f := jsonrpctest.NewServer(t, func(string, []json.RawMessage) (any, *jsonrpc.Error) { return 1, nil })
	if err := (&jsonrpc.Client{URL: f.URL}).CallBatch(context.Background(), nil); err != nil || f.Posts() != 0 {
		t.Fatalf("CallBatch(nil) = %v after %d requests", err, f.Posts())
	}
}
