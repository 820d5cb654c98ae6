package ethereum

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
	"sync/atomic"
	"time"
)

// maxResponseBytes caps what one RPC response may hold. A mainnet block
// with full transactions is 1-3 MB of JSON, its receipts a few MB more; a
// busy node's txpool_content can reach tens of MB. A misbehaving endpoint
// cannot make us buffer more.
const maxResponseBytes = 128 << 20

// codeMethodNotFound is JSON-RPC 2.0's "method not found": the node lacks
// an optional method (eth_getBlockReceipts, txpool_content).
const codeMethodNotFound = -32601

// RPCError is an error object returned by the node for one call.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// errNull is a call's result being JSON null: for eth_getBlockByNumber
// "no such block", for most methods a bad answer. Callers decide.
var errNull = errors.New("result is null")

// rpcClient speaks JSON-RPC 2.0 over HTTP POST. It holds no per-call state
// and is safe for concurrent use. A call is one HTTP request bounded by the
// timeout and the caller's context, never retried: the monitor's poll loop
// is the retry.
type rpcClient struct {
	endpoint string // may hold an API key in its path: never in errors
	name     string // scheme://host, what errors say
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
		params = []any{}
	}
	req := rpcRequest{JSONRPC: "2.0", ID: c.nextID.Add(1), Method: method, Params: params}
	body, status, err := c.post(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var resp rpcResponse
	if err := json.Unmarshal(body, &resp); err != nil || (resp.Result == nil && resp.Error == nil) {
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
		reqs[i] = rpcRequest{JSONRPC: "2.0", ID: c.nextID.Add(1), Method: bc.Method, Params: params}
		byID[fmt.Sprint(reqs[i].ID)] = i
	}
	method := calls[0].Method + " (batch)"
	body, status, err := c.post(ctx, reqs)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var resps []rpcResponse
	if err := json.Unmarshal(body, &resps); err != nil {
		// A node refusing the batch (too large, batches disabled)
		// answers one error object.
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
		switch {
		case r.Error != nil:
			calls[i].Err = r.Error
		case len(r.Result) == 0:
			calls[i].Err = errors.New("response has neither result nor error")
		default:
			calls[i].Result = r.Result
		}
		answered++
	}
	if answered != len(calls) {
		return fmt.Errorf("%s: %d responses for %d calls", method, answered, len(calls))
	}
	return nil
}

// callAll makes calls in one round trip: a plain call for one (some
// providers refuse batches), a batch for more.
func (c *rpcClient) callAll(ctx context.Context, calls []batchCall) error {
	switch len(calls) {
	case 0:
		return nil
	case 1:
		var raw json.RawMessage
		err := c.call(ctx, calls[0].Method, calls[0].Params, &raw)
		var re *RPCError
		switch {
		case errors.Is(err, errNull):
			calls[0].Result = json.RawMessage("null")
		case errors.As(err, &re):
			calls[0].Err = re
		case err != nil:
			return err
		default:
			calls[0].Result = raw
		}
		return nil
	}
	return c.callBatch(ctx, calls)
}

// post sends one HTTP request under the per-call timeout and returns the
// body whatever the status: some nodes and proxies send JSON-RPC errors
// with a 4xx or 5xx status.
func (c *rpcClient) post(ctx context.Context, payload any) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reqBody, err := json.Marshal(payload)
	if err != nil {
		return nil, 0, fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(reqBody))
	if err != nil {
		return nil, 0, fmt.Errorf("build request to %s: %w", c.name, redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", c.name, redact(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, resp.StatusCode, fmt.Errorf("%s: HTTP %d: check the credentials or API key in the URL", c.name, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s: read response: %w", c.name, redact(err))
	}
	if len(body) > maxResponseBytes {
		return nil, resp.StatusCode, fmt.Errorf("%s: response over %d bytes", c.name, maxResponseBytes)
	}
	return body, resp.StatusCode, nil
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

// into decodes a single response's result into out, or returns its error.
func (r *rpcResponse) into(out any) error {
	if r.Error != nil {
		return r.Error
	}
	if len(r.Result) == 0 {
		return errors.New("response has neither result nor error")
	}
	return decodeResult(r.Result, out)
}

// decodeResult decodes a call's result; JSON null is errNull rather than a
// zero value that would pass for an answer.
func decodeResult(raw json.RawMessage, out any) error {
	if string(raw) == "null" {
		return errNull
	}
	if out == nil {
		return nil
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

// isMethodNotFound reports whether err is the node saying it lacks the
// method: -32601 (geth, Erigon, Nethermind), or a provider's own code with
// a message about the method. Other "not available" errors (pruned
// history, say) must not match: they would switch a method off for good.
func isMethodNotFound(err error) bool {
	var re *RPCError
	if !errors.As(err, &re) {
		return false
	}
	if re.Code == codeMethodNotFound {
		return true
	}
	msg := strings.ToLower(re.Message)
	if !strings.Contains(msg, "method") {
		return false
	}
	for _, s := range []string{"not found", "does not exist", "not supported", "unsupported", "not available"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
