package ethereum

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/ethereum/gethtest"
	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

func TestDecodeTransferCall(t *testing.T) {
	to := payee1
	tests := []struct {
		name   string
		input  []byte
		to     string
		amount int64
		ok     bool
	}{
		{"transfer", gethtest.ABICall(selectorTransfer, to, 77), to, 77, true},
		{"transfer with trailing bytes", append(gethtest.ABICall(selectorTransfer, to, 77), 1, 2, 3), to, 77, true},
		{"transferFrom", gethtest.ABICall(selectorTransferFrom, payee2, to, 88), to, 88, true},
		{"transfer one byte short", gethtest.ABICall(selectorTransfer, to, 77)[:67], "", 0, false},
		{"transferFrom one word short", gethtest.ABICall(selectorTransferFrom, payee2, to), "", 0, false},
		{"dirty address", func() []byte {
			b := gethtest.ABICall(selectorTransfer, to, 77)
			b[4] = 1
			return b
		}(), "", 0, false},
		{"approve", gethtest.ABICall(selector("approve(address,uint256)"), to, 77), "", 0, false},
		{"empty", nil, "", 0, false},
		{"selector only", selectorTransfer[:], "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c callPrefix
			if err := json.Unmarshal([]byte(`"0x`+hex.EncodeToString(tt.input)+`"`), &c); err != nil {
				t.Fatal(err)
			}
			gotTo, amount, ok := decodeTransferCall(c)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if ok && (gotTo.String() != checksummed(t, tt.to) || amount.Int64() != tt.amount) {
				t.Fatalf("decoded %s %v, want %s %d", gotTo, amount, tt.to, tt.amount)
			}
		})
	}
}

// TestMempool_TokenCallWithValue: a pending call of a token's transfer that
// also carries ETH reports both; the two outputs differ by currency.
func TestMempool_TokenCallWithValue(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(1), 70) // beyond 2^64 wei
	tx := fmt.Sprintf(`{"hash":%q,"to":%q,"value":"0x%x","input":"0x%s"}`,
		txOne, recToken, huge, hex.EncodeToString(gethtest.ABICall(selectorTransfer, payee1, 0)))
	zero := fmt.Sprintf(`{"hash":%q,"to":%q,"value":"0x0","input":"0x%s"}`,
		txTwo, recToken, hex.EncodeToString(gethtest.ABICall(selectorTransfer, payee1, 5)))
	pool := json.RawMessage(`{"pending":{"0xabc":{"1":` + tx + `,"2":` + zero + `}},"queued":{}}`)
	f := jsonrpctest.NewServer(t, func(string, []json.RawMessage) (any, *jsonrpc.Error) { return pool, nil })
	outs, err := testNode(t, f.URL, time.Second).Mempool(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The zero-amount transfer in txOne pays nothing; txTwo's 5 does.
	want := []chain.Output{
		{Currency: "ETH", TxID: txOne, Index: 0, Address: checksummed(t, recToken), Amount: huge},
		{Currency: "USDT", TxID: txTwo, Index: 0, Address: checksummed(t, payee1), Amount: big.NewInt(5)},
	}
	if !sameOutputs(outs, want) {
		t.Fatalf("Mempool = %v, want %v", outs, want)
	}
	if strings.ToLower(outs[0].Address) != recToken {
		t.Fatal("address changed beyond case")
	}
}
