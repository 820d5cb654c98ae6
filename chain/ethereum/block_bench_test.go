package ethereum

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

// benchBlock returns eth_getBlockByNumber's answer (full transactions, in
// geth's field layout), eth_getBlockReceipts' and eth_getLogs' for a block
// of 1,000 transactions: 600 ETH transfers, 300 token transfers and 100
// other contract calls with 4 kB of calldata each. About 1.3 MB of JSON,
// the size of a busy mainnet block.
func benchBlock(tb testing.TB) (block, receipts, logs json.RawMessage) {
	const txs = 1000
	hash := func(i int) string { return fmt.Sprintf("0x%064x", 0xabcdef0000+i) }
	addr := func(i int) string { return fmt.Sprintf("0x%040x", 0x5aaeb6053f3e94c9+i) }
	blockHash := hash(999_999)
	var tb1, rb, lb strings.Builder
	fmt.Fprintf(&tb1, `{"baseFeePerGas":"0x3b9aca00","difficulty":"0x0","extraData":"0x","gasLimit":"0x1c9c380","gasUsed":"0x1c9c380",`+
		`"hash":%q,"logsBloom":"0x%0512x","miner":%q,"mixHash":%q,"nonce":"0x0000000000000000","number":"0x1234567",`+
		`"parentHash":%q,"receiptsRoot":%q,"sha3Uncles":%q,"size":"0x13d2b4","stateRoot":%q,"timestamp":"0x6b0608ae","transactions":[`,
		blockHash, 0, addr(0), hash(1), hash(999_998), hash(2), hash(3), hash(4))
	rb.WriteString("[")
	lb.WriteString("[")
	logIndex := 0
	for i := range txs {
		if i > 0 {
			tb1.WriteString(",")
			rb.WriteString(",")
		}
		to, value, input := addr(i+1), fmt.Sprintf("0x%x", 1_000_000_000_000_000+i), "0x"
		switch {
		case i%10 < 6: // ETH transfer
		case i%10 < 9: // token transfer
			to, value = recToken, "0x0"
			input = "0xa9059cbb" + fmt.Sprintf("%064x%064x", 0x77+i, 1000+i)
			if logIndex > 0 {
				lb.WriteString(",")
			}
			fmt.Fprintf(&lb, `{"address":%q,"topics":[%q,"0x000000000000000000000000%040x","0x000000000000000000000000%040x"],`+
				`"data":"0x%064x","blockNumber":"0x1234567","transactionHash":%q,"transactionIndex":"0x%x","blockHash":%q,`+
				`"blockTimestamp":"0x6b0608ae","logIndex":"0x%x","removed":false}`,
				recToken, transferTopic.String(), 0x99, 0x77+i, 1000+i, hash(i), i, blockHash, logIndex)
			logIndex++
		default: // other contract call
			value = "0x0"
			input = "0x12345678" + strings.Repeat("ab", 4096)
		}
		fmt.Fprintf(&tb1, `{"blockHash":%q,"blockNumber":"0x1234567","from":%q,"gas":"0x5208","gasPrice":"0x236998c6",`+
			`"maxFeePerGas":"0x50f15d2f","maxPriorityFeePerGas":"0x1","hash":%q,"input":%q,"nonce":"0x%x","to":%q,`+
			`"transactionIndex":"0x%x","value":%q,"type":"0x2","accessList":[],"chainId":"0x1","v":"0x1",`+
			`"r":"0x31a697a2b9cd72c6cd41f2d65af6bce94d478d84854d0dd52c5d009aa8483d4e",`+
			`"s":"0x271c0cb69822b6e6d6e2095dfe0e93f65b4eaa7eaa1981ddd5208cd2e11f37d7","yParity":"0x1"}`,
			blockHash, addr(5000+i), hash(i), input, i, to, i, value)
		fmt.Fprintf(&rb, `{"blockHash":%q,"blockNumber":"0x1234567","contractAddress":null,"cumulativeGasUsed":"0x%x",`+
			`"effectiveGasPrice":"0x236998c6","from":%q,"gasUsed":"0x5208","logs":[],"logsBloom":"0x%0512x","status":"0x1",`+
			`"to":%q,"transactionHash":%q,"transactionIndex":"0x%x","type":"0x2"}`,
			blockHash, 21000*(i+1), addr(5000+i), 0, to, hash(i), i)
	}
	tb1.WriteString(`],"transactionsRoot":"0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421","uncles":[],"withdrawals":[]}`)
	rb.WriteString("]")
	lb.WriteString("]")
	for _, s := range []string{tb1.String(), rb.String(), lb.String()} {
		if !json.Valid([]byte(s)) {
			tb.Fatal("benchBlock made invalid JSON")
		}
	}
	return json.RawMessage(tb1.String()), json.RawMessage(rb.String()), json.RawMessage(lb.String())
}

// BenchmarkDecodeBlock1000Txs measures what BlockAt does with the node's
// answers for a 1,000-transaction block: decode the block, its receipts
// and its Transfer logs, check them, and build 900 outputs with EIP-55
// addresses. Network time is not included.
func BenchmarkDecodeBlock1000Txs(b *testing.B) {
	block, receipts, logs := benchBlock(b)
	n := testNode(b, "http://127.0.0.1:1", time.Second)
	b.SetBytes(int64(len(block) + len(receipts) + len(logs)))
	b.ReportAllocs()
	for b.Loop() {
		var blk rpcBlock
		if err := (jsonrpc.Call{Result: block}).Decode(&blk); err != nil {
			b.Fatal(err)
		}
		if err := blk.check(); err != nil {
			b.Fatal(err)
		}
		cands := n.nativeCandidates(&blk)
		var rs []rpcReceipt
		if err := (jsonrpc.Call{Result: receipts}).Decode(&rs); err != nil {
			b.Fatal(err)
		}
		succeeded, err := statuses(rs, *blk.Hash)
		if err != nil {
			b.Fatal(err)
		}
		var ls []rpcLog
		if err := (jsonrpc.Call{Result: logs}).Decode(&ls); err != nil {
			b.Fatal(err)
		}
		out, err := n.assemble(&blk, cands, succeeded, ls)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Outputs) != 900 {
			b.Fatalf("%d outputs", len(out.Outputs))
		}
	}
}

// BenchmarkBlockAt1000Txs is BlockAt end to end against a loopback HTTP
// server serving the same answers: two round trips, the second a batch.
func BenchmarkBlockAt1000Txs(b *testing.B) {
	block, receipts, logs := benchBlock(b)
	f := jsonrpctest.NewServer(b, func(method string, _ []json.RawMessage) (any, *jsonrpc.Error) {
		switch method {
		case "eth_getBlockByNumber":
			return block, nil
		case "eth_getBlockReceipts":
			return receipts, nil
		case "eth_getLogs":
			return logs, nil
		}
		return nil, errMethodNotFound(method)
	})
	n := testNode(b, f.URL, 10*time.Second)
	b.SetBytes(int64(len(block) + len(receipts) + len(logs)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := n.BlockAt(context.Background(), 0x1234567)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Outputs) != 900 {
			b.Fatalf("%d outputs", len(out.Outputs))
		}
	}
}
