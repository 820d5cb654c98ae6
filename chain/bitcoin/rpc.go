package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// maxResponseBytes caps what one RPC response may hold: a 4 MB block is
// 8 MB of hex, a batch of 64 standard transactions at most ~51 MB. A
// misbehaving endpoint cannot make us buffer more.
const maxResponseBytes = 128 << 20

// RPC error codes that change what a call means. bitcoind and btcd disagree
// on the code for a height above the tip.
const (
	codeMisc                = -1 // btcd: "Block number out of range"
	codeInvalidAddressOrKey = -5 // no such transaction (left the mempool)
	codeInvalidParameter    = -8 // bitcoind: "Block height out of range"
)

// RPCError is an error object returned by the node for one call.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// rpcClient speaks JSON-RPC 1.0 over HTTP POST, the dialect both bitcoind
// and btcd serve. It holds no per-call state and is safe for concurrent use.
//
// It replaces btcd's rpcclient (v0.26.2, which does use the same /v2
// modules) because that client takes no per-call context: it sends every
// call through one goroutine and retries a failed POST ten times with
// backoff, about 22 s against a closed port, whatever the caller's
// deadline. Here a call is one HTTP request bounded by Config.Timeout and
// the caller's context; the monitor's poll loop is the retry.
type rpcClient struct {
	endpoint string // never carries credentials
	user     string
	password string
	timeout  time.Duration
	http     *http.Client
	nextID   atomic.Uint64
}

type rpcRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
	ID     json.RawMessage `json:"id"`
}

// call invokes method and decodes its result into out.
func (c *rpcClient) call(ctx context.Context, method string, params []any, out any) error {
	if params == nil {
		params = []any{} // btcd rejects a request without params
	}
	req := rpcRequest{JSONRPC: "1.0", ID: c.nextID.Add(1), Method: method, Params: params}
	body, status, err := c.post(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var resp rpcResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("%s: %s", method, badResponse(status, body))
	}
	if err := resp.into(out); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// batchCall is one call of a batch; after callBatch, exactly one of Result
// and Err is set.
type batchCall struct {
	Method string
	Params []any
	Result json.RawMessage
	Err    error
}

// callBatch sends calls as one JSON-RPC batch (one round trip). The error
// is for the batch as a whole; each call's own outcome is in its Err.
func (c *rpcClient) callBatch(ctx context.Context, calls []batchCall) error {
	if len(calls) == 0 {
		return nil
	}
	reqs := make([]rpcRequest, len(calls))
	byID := make(map[string]int, len(calls))
	for i, bc := range calls {
		params := bc.Params
		if params == nil {
			params = []any{}
		}
		reqs[i] = rpcRequest{JSONRPC: "1.0", ID: c.nextID.Add(1), Method: bc.Method, Params: params}
		byID[fmt.Sprint(reqs[i].ID)] = i
	}
	method := calls[0].Method + " (batch)"
	body, status, err := c.post(ctx, reqs)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var resps []rpcResponse
	if err := json.Unmarshal(body, &resps); err != nil {
		// A node without batch support answers one error object.
		var one rpcResponse
		if json.Unmarshal(body, &one) == nil && one.Error != nil {
			return fmt.Errorf("%s: %w", method, one.Error)
		}
		return fmt.Errorf("%s: %s", method, badResponse(status, body))
	}
	answered := 0
	for _, r := range resps {
		i, ok := byID[string(r.ID)]
		if !ok || calls[i].Result != nil || calls[i].Err != nil {
			return fmt.Errorf("%s: response with unknown or repeated id %s", method, truncate(r.ID))
		}
		if r.Error != nil {
			calls[i].Err = r.Error
		} else if len(r.Result) == 0 {
			calls[i].Err = errors.New("response has neither result nor error")
		} else {
			calls[i].Result = r.Result
		}
		answered++
	}
	if answered != len(calls) {
		return fmt.Errorf("%s: %d responses for %d calls", method, answered, len(calls))
	}
	return nil
}

// post sends one HTTP request under the per-call timeout and returns the
// body whatever the status: bitcoind reports RPC errors with status 500 and
// a JSON-RPC body.
func (c *rpcClient) post(ctx context.Context, payload any) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reqBody, err := json.Marshal(payload)
	if err != nil {
		return nil, 0, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(reqBody))
	if err != nil {
		return nil, 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// net/http names c.endpoint, which holds no credentials.
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, resp.StatusCode, fmt.Errorf("%s: HTTP %d: check the RPC user and password", c.endpoint, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s: read response: %w", c.endpoint, err)
	}
	if len(body) > maxResponseBytes {
		return nil, resp.StatusCode, fmt.Errorf("%s: response over %d bytes", c.endpoint, maxResponseBytes)
	}
	return body, resp.StatusCode, nil
}

// into decodes a single response's result into out, or returns its error.
func (r *rpcResponse) into(out any) error {
	if r.Error != nil {
		return r.Error
	}
	if len(r.Result) == 0 {
		return errors.New("response has neither result nor error")
	}
	if out == nil {
		return nil
	}
	// Every result decoded here is an object, array or string: null would
	// otherwise pass as an empty value.
	if string(r.Result) == "null" {
		return errors.New("result is null")
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("decode result %s: %w", truncate(r.Result), err)
	}
	return nil
}

// decodeHexResult decodes a JSON string of hex (a raw block or
// transaction) without the copy json.Unmarshal into a string would make.
func decodeHexResult(raw json.RawMessage) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, fmt.Errorf("result %s is not a hex string", truncate(raw))
	}
	b := make([]byte, hex.DecodedLen(len(raw)-2))
	if _, err := hex.Decode(b, raw[1:len(raw)-1]); err != nil {
		return nil, fmt.Errorf("result is not hex: %w", err)
	}
	return b, nil
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

// rpcErrorCode returns the node's error code when err is an RPCError.
func rpcErrorCode(err error) (int, bool) {
	var re *RPCError
	if errors.As(err, &re) {
		return re.Code, true
	}
	return 0, false
}
