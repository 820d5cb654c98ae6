package ethereum

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

// The accounts and transactions of the recorded fixtures (testdata/geth_*.json,
// made by testdata/record-fixtures.py): block 4 of a geth v1.17.10 dev chain
// and the txpool just before it was mined.
const (
	recToken = "0x3a220f351252089d385b29beca14e27f204c296a"
	recA     = "0xa4c123b1612dd272d1371c17149d439536b3216f"
	recB     = "0xdaeeb975729fae923d5a4fd12aabfe228f219e9c"
	recC     = "0xb0eb53f16947ccf25ec84d8dbc74254770f58904"
	recD     = "0xdba41ecccc3fc1626e53a13043b026c48bbf33fe"

	recHeight = 4
	recHash   = "0x3b7feaf97a1623ed8f8ce47eda123fe19b4a560a370880904dc425127c138d2c"

	txETHToA          = "0x8dcd55972ed640074ae125f4b02b84ab9b0d9c976e61da356c04b96cb0d9ea33" // 20 ETH to A
	txUSDTToB         = "0xe3e2040b49b1e26286b74b47b0f734333c7622acb2437f2fa0e98ae3ec11a2e2" // transfer(B, 1234567)
	txBatchACA        = "0x6848e1141e7ebc983f0b14ddc8cfa1489cf8a5f8b7cd8caa625fe0a7646f847f" // transferBatch([A,C,A], [10,20,30])
	txETHToTokenFails = "0x9ec5c548f66973d5c99564a986f41ec6f1b9b4d8629db000dabc691de7776943" // 1 ETH to the token: reverts
	txUSDTTooMuch     = "0x7fc2e274e2a961a2523cfe2ee764f63523e21c69ecbcd080c73963223a2fd870" // transfer(D, 2*supply): reverts
	txTransferFrom    = "0x02880dd962570e730acf8c6fabe1be88a5e7a7f7af36712440fe0bc2130c9684" // transferFrom(dev, C, 555): reverts (no such function)
	txCreate          = "0x67d273fa5dfb3df9685b9d0a64936d44467364f579db9ca853564462433faaab" // a second token: its mint is not a configured token's
	txZeroToD         = "0x01e5fbbfec5be1421203feba0551df017923e523fdf50f3fe69d54d136a98f38" // 0 ETH to D
)

func wei(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

// recordedBlockOutputs is what BlockAt must report for block 4: the
// successful native transfer, the transfer, and the batch with one key per
// log; not the reverted transactions, the zero transfer, nor the other
// contract's mint.
func recordedBlockOutputs(t testing.TB) []chain.Output {
	return []chain.Output{
		{Currency: "ETH", TxID: txETHToA, Index: 0, Address: checksummed(t, recA), Amount: wei("20000000000000000000")},
		{Currency: "USDT", TxID: txUSDTToB, Index: 0, Address: checksummed(t, recB), Amount: big.NewInt(1234567)},
		{Currency: "USDT", TxID: txBatchACA, Index: 0, Address: checksummed(t, recA), Amount: big.NewInt(10)},
		{Currency: "USDT", TxID: txBatchACA, Index: 1, Address: checksummed(t, recC), Amount: big.NewInt(20)},
		{Currency: "USDT", TxID: txBatchACA, Index: 2, Address: checksummed(t, recA), Amount: big.NewInt(30)},
	}
}

// recordedNode serves the recorded block 4 the way geth does; blockReceipts
// false answers eth_getBlockReceipts as a node without it.
func recordedNode(t testing.TB, blockReceipts bool) *jsonrpctest.Server {
	t.Helper()
	block := recorded(t, "geth_block.json")
	receipts := recorded(t, "geth_block_receipts.json")
	logs := recorded(t, "geth_block_logs.json")
	var byTx []struct {
		TransactionHash string `json:"transactionHash"`
	}
	if err := json.Unmarshal(receipts, &byTx); err != nil {
		t.Fatal(err)
	}
	var receiptList []json.RawMessage
	if err := json.Unmarshal(receipts, &receiptList); err != nil {
		t.Fatal(err)
	}
	return jsonrpctest.NewServer(t, func(method string, params []json.RawMessage) (any, *jsonrpc.Error) {
		switch method {
		case "eth_getBlockByNumber":
			if len(params) == 2 && string(params[0]) == `"0x4"` && string(params[1]) == "true" {
				return block, nil
			}
			return nil, nil
		case "eth_getBlockReceipts":
			if !blockReceipts {
				return nil, errMethodNotFound(method)
			}
			if len(params) == 1 && string(params[0]) == `"`+recHash+`"` {
				return receipts, nil
			}
			return nil, &jsonrpc.Error{Code: -32000, Message: "unexpected params " + string(params[0])}
		case "eth_getTransactionReceipt":
			for i, r := range byTx {
				if len(params) == 1 && string(params[0]) == `"`+r.TransactionHash+`"` {
					return receiptList[i], nil
				}
			}
			return nil, nil
		case "eth_getLogs":
			var filter struct {
				BlockHash string   `json:"blockHash"`
				Address   []string `json:"address"`
				Topics    []string `json:"topics"`
			}
			if len(params) != 1 || json.Unmarshal(params[0], &filter) != nil || filter.BlockHash != recHash ||
				len(filter.Address) != 1 || !strings.EqualFold(filter.Address[0], recToken) ||
				len(filter.Topics) != 1 || filter.Topics[0] != transferTopic.String() {
				return nil, &jsonrpc.Error{Code: -32000, Message: "unexpected filter"}
			}
			return logs, nil
		}
		return nil, errMethodNotFound(method)
	})
}

func TestBlockAt_RecordedGethBlock(t *testing.T) {
	f := recordedNode(t, true)
	n := testNode(t, f.URL, 5*time.Second)
	b, err := n.BlockAt(context.Background(), recHeight)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		ParentHash string `json:"parentHash"`
		Timestamp  string `json:"timestamp"`
	}
	if err := json.Unmarshal(recorded(t, "geth_block.json"), &hdr); err != nil {
		t.Fatal(err)
	}
	if b.Height != recHeight || b.Hash != recHash || b.Parent != hdr.ParentHash ||
		b.Time != time.Unix(0x6b0608ae, 0).UTC() || hdr.Timestamp != "0x6b0608ae" {
		t.Fatalf("BlockAt = %d %s parent %s at %v", b.Height, b.Hash, b.Parent, b.Time)
	}
	if want := recordedBlockOutputs(t); !sameOutputs(b.Outputs, want) {
		t.Fatalf("Outputs = %v\nwant %v", b.Outputs, want)
	}
	// One round trip for the block, one batch for receipts and logs.
	if f.Posts() != 2 || f.Count("eth_getTransactionReceipt") != 0 {
		t.Fatalf("%d posts, %d per-transaction receipts; want 2 and 0", f.Posts(), f.Count("eth_getTransactionReceipt"))
	}
}

// TestBlockAt_WithoutBlockReceiptsAsksPerCandidate: a node lacking
// eth_getBlockReceipts gives the same block, at the cost of one receipt per
// transaction that moves native value, and is not asked again.
func TestBlockAt_WithoutBlockReceiptsAsksPerCandidate(t *testing.T) {
	f := recordedNode(t, false)
	n := testNode(t, f.URL, 5*time.Second)
	for range 2 {
		b, err := n.BlockAt(context.Background(), recHeight)
		if err != nil {
			t.Fatal(err)
		}
		if want := recordedBlockOutputs(t); !sameOutputs(b.Outputs, want) {
			t.Fatalf("Outputs = %v\nwant %v", b.Outputs, want)
		}
	}
	// Candidates: the 20 ETH and the reverted 1 ETH, in each of 2 calls.
	if got := f.Count("eth_getBlockReceipts"); got != 1 {
		t.Errorf("eth_getBlockReceipts asked %d times, want once", got)
	}
	if got := f.Count("eth_getTransactionReceipt"); got != 4 {
		t.Errorf("eth_getTransactionReceipt asked %d times, want 2 per block", got)
	}
}

// TestBlockAt_OnlyWhatIsConfiguredIsAskedFor: an ETH-only node never asks
// for logs, a token-only node never for receipts.
func TestBlockAt_OnlyWhatIsConfiguredIsAskedFor(t *testing.T) {
	all := recordedBlockOutputs(t)
	tests := []struct {
		name         string
		cfg          Config
		want         []chain.Output
		noLogs, noRc bool
	}{
		{"ETH only", Config{Native: "ETH"}, all[:1], true, false},
		// All upper case: an address without checksum, accepted.
		{"USDT only", Config{Tokens: []Token{{Currency: "USDT", Contract: "0x" + strings.ToUpper(recToken[2:])}}}, all[1:], false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := recordedNode(t, true)
			tt.cfg.URL, tt.cfg.Net = f.URL, "ethereum-dev"
			n, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := n.BlockAt(context.Background(), recHeight)
			if err != nil {
				t.Fatal(err)
			}
			if !sameOutputs(b.Outputs, tt.want) {
				t.Fatalf("Outputs = %v, want %v", b.Outputs, tt.want)
			}
			if (f.Count("eth_getLogs") == 0) != tt.noLogs || (f.Count("eth_getBlockReceipts") == 0) != tt.noRc {
				t.Fatalf("asked eth_getLogs %d times, eth_getBlockReceipts %d times", f.Count("eth_getLogs"), f.Count("eth_getBlockReceipts"))
			}
		})
	}
}

// recordedMempool is what Mempool must report of the recorded pool: every
// pending value transfer and direct transfer/transferFrom call, including
// those that will revert (a pending transaction has no outcome yet); not
// the batch (not a direct transfer), the creation, the zero transfer, nor
// the queued transaction.
func recordedMempool(t testing.TB) []chain.Output {
	return []chain.Output{
		{Currency: "USDT", TxID: txTransferFrom, Index: 0, Address: checksummed(t, recC), Amount: big.NewInt(555)},
		{Currency: "USDT", TxID: txUSDTTooMuch, Index: 0, Address: checksummed(t, recD), Amount: big.NewInt(2e12)},
		{Currency: "ETH", TxID: txETHToA, Index: 0, Address: checksummed(t, recA), Amount: wei("20000000000000000000")},
		{Currency: "ETH", TxID: txETHToTokenFails, Index: 0, Address: checksummed(t, recToken), Amount: big.NewInt(1e18)},
		{Currency: "USDT", TxID: txUSDTToB, Index: 0, Address: checksummed(t, recB), Amount: big.NewInt(1234567)},
	}
}

func TestMempool_RecordedGethTxpool(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []chain.Output
	}{
		{"geth_txpool_content.json", recordedMempool(t)},
		{"geth_txpool_content_queued_only.json", nil},
	} {
		t.Run(tt.file, func(t *testing.T) {
			pool := recorded(t, tt.file)
			f := jsonrpctest.NewServer(t, func(method string, _ []json.RawMessage) (any, *jsonrpc.Error) {
				if method == "txpool_content" {
					return pool, nil
				}
				return nil, errMethodNotFound(method)
			})
			outs, err := testNode(t, f.URL, 5*time.Second).Mempool(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !sameOutputs(outs, tt.want) {
				t.Fatalf("Mempool = %v\nwant %v", outs, tt.want)
			}
		})
	}
}

// TestMempool_KeysSurviveMining: each pending payment that succeeded is
// reported by BlockAt with the key, address and amount Mempool gave it, so
// the monitor follows one payment from mempool to block; the ones that
// reverted are gone.
func TestMempool_KeysSurviveMining(t *testing.T) {
	pool := recorded(t, "geth_txpool_content.json")
	f := jsonrpctest.NewServer(t, func(string, []json.RawMessage) (any, *jsonrpc.Error) { return pool, nil })
	pending, err := testNode(t, f.URL, 5*time.Second).Mempool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := testNode(t, recordedNode(t, true).URL, 5*time.Second).BlockAt(context.Background(), recHeight)
	if err != nil {
		t.Fatal(err)
	}
	key := func(o chain.Output) string { return fmt.Sprintf("%s/%s/%d", o.Currency, o.TxID, o.Index) }
	mined := map[string]chain.Output{}
	for _, o := range b.Outputs {
		mined[key(o)] = o
	}
	reverted := map[string]bool{txETHToTokenFails: true, txUSDTTooMuch: true, txTransferFrom: true}
	for _, p := range pending {
		m, ok := mined[key(p)]
		switch {
		case reverted[p.TxID] && ok:
			t.Errorf("reverted %s mined as %v", key(p), m)
		case !reverted[p.TxID] && (!ok || !sameOutput(m, p)):
			t.Errorf("pending %v mined as %v (found: %v)", p, m, ok)
		}
	}
}

func TestMempool_WithoutTxpoolAPIIsNil(t *testing.T) {
	f := jsonrpctest.NewServer(t, func(method string, _ []json.RawMessage) (any, *jsonrpc.Error) { return nil, errMethodNotFound(method) })
	outs, err := testNode(t, f.URL, time.Second).Mempool(context.Background())
	if err != nil || outs != nil {
		t.Fatalf("Mempool = %v, %v; want nil, nil", outs, err)
	}
	// Other errors are errors.
	f = jsonrpctest.NewServer(t, func(string, []json.RawMessage) (any, *jsonrpc.Error) {
		return nil, &jsonrpc.Error{Code: -32000, Message: "internal error"}
	})
	if _, err := testNode(t, f.URL, time.Second).Mempool(context.Background()); err == nil {
		t.Fatal("Mempool hid a node error")
	}
}

func TestBlockAt_AboveTipIsNotFound(t *testing.T) {
	f := recordedNode(t, true)
	n := testNode(t, f.URL, time.Second)
	if _, err := n.BlockAt(context.Background(), recHeight+1); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("BlockAt(5) = %v, want ErrNotFound", err)
	}
	posts := f.Posts()
	if _, err := n.BlockAt(context.Background(), 1<<63); !errors.Is(err, chain.ErrNotFound) || f.Posts() != posts {
		t.Fatalf("BlockAt(2^63) = %v; want ErrNotFound without asking (nodes reject numbers above int64)", err)
	}
}
