package jsonrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Call is one call of a batch. After CallBatch returns nil, exactly one of
// Result and Err is set.
type Call struct {
	Method string
	Params []any
	Result json.RawMessage
	Err    error
}

// Decode decodes the call's result into out as Client.Call does, or
// returns the call's Err.
func (c Call) Decode(out any) error {
	if c.Err != nil {
		return c.Err
	}
	return decode(c.Result, out)
}

// CallBatch sends calls as one JSON-RPC batch (one round trip) and matches
// the answers to them by id, whatever their order. The error is for the
// batch as a whole; each call's own outcome is in its Result or Err.
func (c *Client) CallBatch(ctx context.Context, calls []Call) error {
	if len(calls) == 0 {
		return nil
	}
	reqs := make([]request, len(calls))
	byID := make(map[string]int, len(calls))
	for i, call := range calls {
		reqs[i] = c.request(call.Method, call.Params)
		byID[fmt.Sprint(reqs[i].ID)] = i
	}
	method := calls[0].Method + " (batch)"
	body, status, err := c.post(ctx, reqs)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	var resps []response
	if err := json.Unmarshal(body, &resps); err != nil {
		// A node refusing the batch (no batch support, too large,
		// batches disabled) answers one error object.
		var one response
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
