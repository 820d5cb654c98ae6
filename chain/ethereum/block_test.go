package ethereum

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

// Hand-made logs for what the recorded block does not hold.
const (
	tokUSDT = "0x00000000000000000000000000000000000000aa"
	tokUSDC = "0x00000000000000000000000000000000000000bb"
	blockH  = "0x" + "11111111111111111111111111111111" + "11111111111111111111111111111111"
	txOne   = "0x" + "0000000000000000000000000000000000000000000000000000000000000001"
	txTwo   = "0x" + "0000000000000000000000000000000000000000000000000000000000000002"
	payee1  = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
	payee2  = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
)

// logJSON builds one eth_getLogs entry; topics beyond Transfer's are
// given whole.
func logJSON(contract, tx string, index int, topics []string, data string) string {
	ts := append([]string{transferTopic.String()}, topics...)
	return fmt.Sprintf(`{"address":%q,"topics":["%s"],"data":%q,"blockHash":%q,"transactionHash":%q,"logIndex":"0x%x","removed":false}`,
		contract, strings.Join(ts, `","`), data, blockH, tx, index)
}

func topicOf(addr string) string { return "0x000000000000000000000000" + addr[2:] }

func amountData(v *big.Int) string { return fmt.Sprintf("0x%064x", v) }

// transferLog is a standard ERC-20 Transfer from an arbitrary sender.
func transferLog(contract, tx string, index int, to string, v int64) string {
	return logJSON(contract, tx, index, []string{topicOf("0x" + strings.Repeat("99", 20)), topicOf(to)}, amountData(big.NewInt(v)))
}

func TestAppendTokenOutputs(t *testing.T) {
	n, err := New(Config{URL: "http://127.0.0.1:1", Net: "ethereum-dev", Tokens: []Token{
		{Currency: "USDT", Contract: tokUSDT}, {Currency: "USDC", Contract: tokUSDC},
	}})
	if err != nil {
		t.Fatal(err)
	}
	max256 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	out := func(cur, tx string, index uint32, to string, v *big.Int) chain.Output {
		return chain.Output{Currency: cur, TxID: tx, Index: index, Address: checksummed(t, to), Amount: v}
	}
	tests := []struct {
		name string
		logs []string
		want []chain.Output
		err  string
	}{
		{"one transfer", []string{transferLog(tokUSDT, txOne, 7, payee1, 5)},
			[]chain.Output{out("USDT", txOne, 0, payee1, big.NewInt(5))}, ""},
		{"positions per transaction, in log order", []string{
			transferLog(tokUSDT, txOne, 9, payee2, 3),
			transferLog(tokUSDT, txTwo, 12, payee1, 4),
			transferLog(tokUSDT, txOne, 2, payee1, 1),
		}, []chain.Output{
			out("USDT", txOne, 0, payee1, big.NewInt(1)),
			out("USDT", txOne, 1, payee2, big.NewInt(3)),
			out("USDT", txTwo, 0, payee1, big.NewInt(4)),
		}, ""},
		{"positions per token", []string{
			transferLog(tokUSDC, txOne, 0, payee1, 1),
			transferLog(tokUSDT, txOne, 1, payee1, 2),
			transferLog(tokUSDC, txOne, 2, payee2, 3),
		}, []chain.Output{
			out("USDC", txOne, 0, payee1, big.NewInt(1)),
			out("USDT", txOne, 0, payee1, big.NewInt(2)),
			out("USDC", txOne, 1, payee2, big.NewInt(3)),
		}, ""},
		{"skipped logs keep their position", []string{
			// ERC-721 shape: the token id indexed, no data.
			logJSON(tokUSDT, txOne, 0, []string{topicOf(payee2), topicOf(payee1), topicOf(payee1)}, "0x"),
			transferLog(tokUSDT, txOne, 1, payee1, 0),                                                                      // zero: pays nothing
			logJSON(tokUSDT, txOne, 2, []string{topicOf(payee2), "0x01" + topicOf(payee1)[4:]}, amountData(big.NewInt(1))), // dirty address
			logJSON(tokUSDT, txOne, 3, []string{topicOf(payee2), topicOf(payee1)}, amountData(big.NewInt(1))+"00"),         // 33 bytes
			transferLog(tokUSDT, txOne, 4, payee2, 6),
		}, []chain.Output{out("USDT", txOne, 4, payee2, big.NewInt(6))}, ""},
		{"removed logs are not the block's", []string{
			strings.Replace(transferLog(tokUSDT, txOne, 0, payee2, 9), `"removed":false`, `"removed":true`, 1),
			transferLog(tokUSDT, txOne, 1, payee1, 8),
		}, []chain.Output{out("USDT", txOne, 0, payee1, big.NewInt(8))}, ""},
		{"amounts up to 2^256-1", []string{logJSON(tokUSDT, txOne, 0, []string{topicOf(payee2), topicOf(payee1)}, amountData(max256))},
			[]chain.Output{out("USDT", txOne, 0, payee1, max256)}, ""},
		{"log of another block", []string{strings.Replace(transferLog(tokUSDT, txOne, 0, payee1, 1), blockH, txTwo, 1)}, nil, "from block"},
		{"log of another contract", []string{transferLog(payee1, txOne, 0, payee1, 1)}, nil, "no Transfer of a configured token"},
		{"log of another event", []string{strings.Replace(transferLog(tokUSDT, txOne, 0, payee1, 1), transferTopic.String(), txOne, 1)}, nil, "no Transfer"},
		{"log without transaction", []string{strings.Replace(transferLog(tokUSDT, txOne, 0, payee1, 1), `"transactionHash":"`+txOne+`",`, "", 1)}, nil, "no transactionHash"},
		{"log without index", []string{strings.Replace(transferLog(tokUSDT, txOne, 0, payee1, 1), `"logIndex":"0x0",`, "", 1)}, nil, "no logIndex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs []rpcLog
			if err := json.Unmarshal([]byte("["+strings.Join(tt.logs, ",")+"]"), &logs); err != nil {
				t.Fatal(err)
			}
			var hash word
			if err := hash.UnmarshalJSON([]byte(`"` + blockH + `"`)); err != nil {
				t.Fatal(err)
			}
			got, err := n.appendTokenOutputs(nil, hash, logs)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one about %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Index is per (transaction, token); compare as a set.
			sortOutputs(got)
			sortOutputs(tt.want)
			if !sameOutputsAnyIndexOrder(got, tt.want) {
				t.Fatalf("outputs = %v\nwant %v", got, tt.want)
			}
		})
	}
}

// sameOutputsAnyIndexOrder compares outputs already sorted by txid and
// currency, ignoring the order of equal (txid, currency) runs.
func sameOutputsAnyIndexOrder(got, want []chain.Output) bool {
	if len(got) != len(want) {
		return false
	}
	used := make([]bool, len(want))
next:
	for _, g := range got {
		for j, w := range want {
			if !used[j] && sameOutput(g, w) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

func TestStatuses_CheckEveryReceipt(t *testing.T) {
	var hash, other word
	hash[0], other[0] = 1, 2
	tx := word{31: 7}
	ok, fail := quantity(1), quantity(0)
	got, err := statuses([]rpcReceipt{{TransactionHash: tx, BlockHash: hash, Status: &ok}, {TransactionHash: other, BlockHash: hash, Status: &fail}}, hash)
	if err != nil || !got[tx] || got[other] || len(got) != 2 {
		t.Fatalf("statuses = %v, %v", got, err)
	}
	if _, err := statuses([]rpcReceipt{{TransactionHash: tx, BlockHash: other, Status: &ok}}, hash); err == nil {
		t.Error("a receipt of another block was accepted")
	}
	if _, err := statuses([]rpcReceipt{{TransactionHash: tx, BlockHash: hash}}, hash); err == nil {
		t.Error("a receipt without status was accepted")
	}
}

// syntheticBlock is a block at height 1 whose transactions each send 1 wei
// to payee1, with receipts answered by receipt (nil: not found).
func syntheticBlock(t *testing.T, txs int, blockReceipts func() any, receipt func(tx string) any) *jsonrpctest.Server {
	t.Helper()
	var list []string
	for i := range txs {
		list = append(list, fmt.Sprintf(`{"hash":"0x%064x","to":%q,"value":"0x1"}`, i+1, payee1))
	}
	block := json.RawMessage(fmt.Sprintf(`{"number":"0x1","hash":%q,"parentHash":%q,"timestamp":"0x1","transactions":[%s]}`,
		blockH, txOne, strings.Join(list, ",")))
	return jsonrpctest.NewServer(t, func(method string, params []json.RawMessage) (any, *jsonrpc.Error) {
		switch method {
		case "eth_getBlockByNumber":
			return block, nil
		case "eth_getBlockReceipts":
			if blockReceipts == nil {
				return nil, errMethodNotFound(method)
			}
			return blockReceipts(), nil
		case "eth_getTransactionReceipt":
			var tx string
			_ = json.Unmarshal(params[0], &tx)
			return receipt(tx), nil
		}
		return nil, errMethodNotFound(method)
	})
}

func receiptJSON(tx, block, status string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"transactionHash":%q,"blockHash":%q,"status":%q}`, tx, block, status))
}

func TestBlockAt_ReceiptsMustCoverEveryCandidate(t *testing.T) {
	tx1 := fmt.Sprintf("0x%064x", 1)
	tests := []struct {
		name          string
		blockReceipts func() any
		receipt       func(tx string) any
		want          string
	}{
		{"block receipts miss one", func() any { return []any{} }, nil, "no receipt for"},
		{"block receipts of another block", func() any { return []any{receiptJSON(tx1, txTwo, "0x1")} }, nil, "from block"},
		{"receipt not found (reorg)", nil, func(string) any { return nil }, "result is null"},
		{"receipt of another transaction", nil, func(string) any { return receiptJSON(txTwo, blockH, "0x1") }, "receipt is of"},
		{"receipt of another block", nil, func(tx string) any { return receiptJSON(tx, txTwo, "0x1") }, "from block"},
		{"receipt without status", nil, func(tx string) any {
			return json.RawMessage(fmt.Sprintf(`{"transactionHash":%q,"blockHash":%q,"root":"0x01"}`, tx, blockH))
		}, "no status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := syntheticBlock(t, 1, tt.blockReceipts, tt.receipt)
			n, err := New(Config{URL: f.URL, Net: "ethereum-dev", Native: "ETH"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := n.BlockAt(t.Context(), 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("BlockAt = %v, %v; want an error about %q", b.Outputs, err, tt.want)
			}
		})
	}
}

// TestBlockAt_PerTransactionReceiptsInBatches: 250 candidates cost three
// batches of at most 100, and only successful ones are reported.
func TestBlockAt_PerTransactionReceiptsInBatches(t *testing.T) {
	f := syntheticBlock(t, 250, nil, func(tx string) any {
		status := "0x1"
		if strings.HasSuffix(tx, "7") {
			status = "0x0"
		}
		return receiptJSON(tx, blockH, status)
	})
	n, err := New(Config{URL: f.URL, Net: "ethereum-dev", Native: "ETH"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.BlockAt(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i := 1; i <= 250; i++ {
		if strings.HasSuffix(fmt.Sprintf("%x", i), "7") {
			failed++
		}
	}
	if len(b.Outputs) != 250-failed {
		t.Fatalf("%d outputs, want %d", len(b.Outputs), 250-failed)
	}
	for _, o := range b.Outputs {
		if strings.HasSuffix(o.TxID, "7") || o.Address != checksummed(t, payee1) || o.Amount.Int64() != 1 {
			t.Fatalf("output %v", o)
		}
	}
	// Block, the refused eth_getBlockReceipts, then 3 batches.
	if f.Posts() != 5 || f.Count("eth_getTransactionReceipt") != 250 {
		t.Fatalf("%d posts, %d receipts asked", f.Posts(), f.Count("eth_getTransactionReceipt"))
	}
}
