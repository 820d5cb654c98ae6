package ethereum

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/crypto/sha3"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// checksummed returns the EIP-55 form of a hex address.
func checksummed(t testing.TB, s string) string {
	t.Helper()
	a, err := parseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a.String()
}

func sameOutput(got, want chain.Output) bool {
	return got.Currency == want.Currency && got.TxID == want.TxID && got.Index == want.Index &&
		got.Address == want.Address && got.Amount != nil && got.Amount.Cmp(want.Amount) == 0 && got.RBF == want.RBF
}

func sameOutputs(got, want []chain.Output) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !sameOutput(got[i], want[i]) {
			return false
		}
	}
	return true
}

// outputsOf keeps the outputs of the given transactions, in order.
func outputsOf(outs []chain.Output, txids ...string) []chain.Output {
	var r []chain.Output
	for _, o := range outs {
		for _, id := range txids {
			if o.TxID == id {
				r = append(r, o)
			}
		}
	}
	return r
}

// keccak is Keccak-256, Ethereum's hash.
func keccak(b []byte) [32]byte {
	h := sha3.NewLegacyKeccak256()
	h.Write(b)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// selector is the 4-byte function selector of an ABI signature.
func selector(signature string) [4]byte {
	h := keccak([]byte(signature))
	return [4]byte(h[:4])
}

// sortOutputs orders outputs as Mempool does: by txid, then currency.
func sortOutputs(outs []chain.Output) {
	sort.SliceStable(outs, func(i, j int) bool {
		if outs[i].TxID != outs[j].TxID {
			return outs[i].TxID < outs[j].TxID
		}
		return outs[i].Currency < outs[j].Currency
	})
}

// errMethodNotFound is geth's answer for a method it lacks.
func errMethodNotFound(method string) *jsonrpc.Error {
	return &jsonrpc.Error{Code: -32601, Message: "the method " + method + " does not exist/is not available"}
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
