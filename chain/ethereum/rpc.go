package ethereum

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// maxResponseBytes caps what one RPC response may hold. A mainnet block
// with full transactions is 1-3 MB of JSON, its receipts a few MB more; a
// busy node's txpool_content can reach tens of MB. A misbehaving endpoint
// cannot make us buffer more.
const maxResponseBytes = 128 << 20

// codeMethodNotFound is JSON-RPC 2.0's "method not found": the node lacks
// an optional method (eth_getBlockReceipts, txpool_content).
const codeMethodNotFound = -32601

// callAll makes calls in one round trip: a plain call for one (some
// providers refuse batches), a batch for more.
func (n *Node) callAll(ctx context.Context, calls []jsonrpc.Call) error {
	if len(calls) != 1 {
		return n.rpc.CallBatch(ctx, calls)
	}
	var raw json.RawMessage
	err := n.rpc.Call(ctx, calls[0].Method, calls[0].Params, &raw)
	var re *jsonrpc.Error
	switch {
	case errors.Is(err, jsonrpc.ErrNull):
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

// isMethodNotFound reports whether err is the node saying it lacks the
// method: -32601 (geth, Erigon, Nethermind), or a provider's own code with
// a message about the method. Other "not available" errors (pruned
// history, say) must not match: they would switch a method off for good.
func isMethodNotFound(err error) bool {
	var re *jsonrpc.Error
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
