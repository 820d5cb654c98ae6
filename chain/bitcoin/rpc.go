package bitcoin

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/invoiced/invoiced/chain/jsonrpc"
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

// truncate keeps error messages short when a result is large.
func truncate(b []byte) string {
	const limit = 120
	if len(b) > limit {
		return fmt.Sprintf("%q...", b[:limit])
	}
	return fmt.Sprintf("%q", b)
}

// rpcErrorCode returns the node's error code when err is a jsonrpc.Error.
func rpcErrorCode(err error) (int, bool) {
	var re *jsonrpc.Error
	if errors.As(err, &re) {
		return re.Code, true
	}
	return 0, false
}
