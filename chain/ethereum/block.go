package ethereum

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// transferTopic is topic 0 of an ERC-20 Transfer log: the Keccak-256 of
// "Transfer(address,address,uint256)".
var transferTopic = word{
	0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68, 0xfc, 0x37, 0x8d, 0xaa,
	0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16, 0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef,
}

// receiptBatch is how many eth_getTransactionReceipt calls share one round
// trip when the node lacks eth_getBlockReceipts (geth's default batch limit
// is 1,000 calls).
const receiptBatch = 100

// rpcBlock is eth_getBlockByNumber's answer with full transactions; only
// the fields BlockAt uses are decoded.
type rpcBlock struct {
	header
	Transactions []rpcTx `json:"transactions"`
}

type rpcTx struct {
	Hash  word       `json:"hash"`
	To    optAddress `json:"to"`
	Value amount     `json:"value"`
}

func (b *rpcBlock) check() error {
	if err := b.header.check(); err != nil {
		return err
	}
	if b.Transactions == nil { // absent or null; [] decodes to an empty slice
		return errors.New("block has no transactions list")
	}
	for i := range b.Transactions {
		tx := &b.Transactions[i]
		if tx.Hash == (word{}) || !tx.Value.set {
			return fmt.Errorf("transaction %d has no hash or no value", i)
		}
	}
	return nil
}

// nativeCandidates returns the transactions that move native value to an
// address: reported if their receipt says success.
func (n *Node) nativeCandidates(b *rpcBlock) []*rpcTx {
	if n.native == "" {
		return nil
	}
	var cands []*rpcTx
	for i := range b.Transactions {
		if tx := &b.Transactions[i]; tx.To.set && tx.Value.positive() {
			cands = append(cands, tx)
		}
	}
	return cands
}

func nativeOutput(currency string, txid word, to address, value amount) chain.Output {
	return chain.Output{Currency: currency, TxID: txid.String(), Index: 0, Address: to.String(), Amount: value.v}
}

type rpcReceipt struct {
	TransactionHash word      `json:"transactionHash"`
	BlockHash       word      `json:"blockHash"`
	Status          *quantity `json:"status"`
}

type rpcLog struct {
	Address         address   `json:"address"`
	Topics          []word    `json:"topics"`
	Data            data      `json:"data"`
	BlockHash       word      `json:"blockHash"`
	TransactionHash word      `json:"transactionHash"`
	LogIndex        *quantity `json:"logIndex"`
	Removed         bool      `json:"removed"`
}

// fetchDetails asks, in one round trip, for the receipts that tell which
// candidate transactions succeeded and for the block's Transfer logs of
// the configured tokens; either is skipped when not needed.
func (n *Node) fetchDetails(ctx context.Context, hash word, cands []word) (map[word]bool, []rpcLog, error) {
	var calls []jsonrpc.Call
	receiptsAt, logsAt := -1, -1
	if len(cands) > 0 && !n.noBlockReceipts.Load() {
		receiptsAt = len(calls)
		calls = append(calls, jsonrpc.Call{Method: "eth_getBlockReceipts", Params: []any{hash.String()}})
	}
	if len(n.logFilter) > 0 {
		logsAt = len(calls)
		calls = append(calls, jsonrpc.Call{Method: "eth_getLogs", Params: []any{map[string]any{
			"blockHash": hash.String(),
			"address":   n.logFilter,
			"topics":    []any{transferTopic.String()},
		}}})
	}
	if err := n.callAll(ctx, calls); err != nil {
		return nil, nil, err
	}
	var logs []rpcLog
	if logsAt >= 0 {
		c := calls[logsAt]
		if err := c.Decode(&logs); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", c.Method, err)
		}
	}
	if len(cands) == 0 {
		return nil, logs, nil
	}
	if receiptsAt >= 0 {
		c := calls[receiptsAt]
		var receipts []rpcReceipt
		err := c.Decode(&receipts)
		if err == nil {
			succeeded, err := statuses(receipts, hash)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", c.Method, err)
			}
			for _, tx := range cands {
				if _, ok := succeeded[tx]; !ok {
					return nil, nil, fmt.Errorf("%s: no receipt for %s", c.Method, tx)
				}
			}
			return succeeded, logs, nil
		}
		if !isMethodNotFound(err) {
			return nil, nil, fmt.Errorf("%s: %w", c.Method, err)
		}
		n.noBlockReceipts.Store(true)
	}
	succeeded, err := n.receiptsByTx(ctx, hash, cands)
	return succeeded, logs, err
}

// receiptsByTx fetches the candidates' receipts one call each, batched:
// for nodes without eth_getBlockReceipts (geth before 1.13, some
// providers).
func (n *Node) receiptsByTx(ctx context.Context, hash word, cands []word) (map[word]bool, error) {
	succeeded := make(map[word]bool, len(cands))
	for len(cands) > 0 {
		k := min(len(cands), receiptBatch)
		calls := make([]jsonrpc.Call, k)
		for i, tx := range cands[:k] {
			calls[i] = jsonrpc.Call{Method: "eth_getTransactionReceipt", Params: []any{tx.String()}}
		}
		if err := n.callAll(ctx, calls); err != nil {
			return nil, err
		}
		receipts := make([]rpcReceipt, k)
		for i, c := range calls {
			// null: the transaction is no longer on the best chain (a
			// reorg since eth_getBlockByNumber); the monitor retries.
			if err := c.Decode(&receipts[i]); err != nil {
				return nil, fmt.Errorf("%s %s: %w", c.Method, cands[i], err)
			}
			if receipts[i].TransactionHash != cands[i] {
				return nil, fmt.Errorf("%s %s: receipt is of %s", c.Method, cands[i], receipts[i].TransactionHash)
			}
		}
		got, err := statuses(receipts, hash)
		if err != nil {
			return nil, fmt.Errorf("eth_getTransactionReceipt: %w", err)
		}
		for tx, ok := range got {
			succeeded[tx] = ok
		}
		cands = cands[k:]
	}
	return succeeded, nil
}

// statuses maps each receipt's transaction to whether it succeeded,
// checking that every receipt belongs to the block asked about.
func statuses(receipts []rpcReceipt, hash word) (map[word]bool, error) {
	succeeded := make(map[word]bool, len(receipts))
	for _, r := range receipts {
		if r.BlockHash != hash {
			return nil, fmt.Errorf("receipt of %s is from block %s", r.TransactionHash, r.BlockHash)
		}
		if r.Status == nil {
			// Pre-Byzantium receipts carry a state root instead; no
			// network this adapter follows has them.
			return nil, fmt.Errorf("receipt of %s has no status", r.TransactionHash)
		}
		succeeded[r.TransactionHash] = *r.Status == 1
	}
	return succeeded, nil
}

// appendTokenOutputs appends one output per Transfer log of a configured
// token paying a non-zero amount. Index is the log's position among the
// Transfer logs its token contract emitted in its transaction, not its
// block-wide log index: see "Token transfers" in the package documentation.
func (n *Node) appendTokenOutputs(outs []chain.Output, hash word, logs []rpcLog) ([]chain.Output, error) {
	for i := range logs {
		if logs[i].LogIndex == nil {
			return nil, fmt.Errorf("eth_getLogs: log %d has no logIndex", i)
		}
	}
	sort.Slice(logs, func(i, j int) bool { return *logs[i].LogIndex < *logs[j].LogIndex })
	type txToken struct {
		tx       word
		contract address
	}
	ordinal := make(map[txToken]uint32)
	for i := range logs {
		l := &logs[i]
		if l.BlockHash != hash {
			return nil, fmt.Errorf("eth_getLogs: log %d is from block %s", *l.LogIndex, l.BlockHash)
		}
		if l.TransactionHash == (word{}) {
			return nil, fmt.Errorf("eth_getLogs: log %d has no transactionHash", *l.LogIndex)
		}
		currency, ok := n.byContract[l.Address]
		if !ok || len(l.Topics) == 0 || l.Topics[0] != transferTopic {
			return nil, fmt.Errorf("eth_getLogs: log %d is no Transfer of a configured token", *l.LogIndex)
		}
		if l.Removed {
			continue
		}
		// Every Transfer log of the token counts toward the position,
		// reported or not, so a position never depends on what the
		// adapter chose to skip.
		k := txToken{l.TransactionHash, l.Address}
		index := ordinal[k]
		ordinal[k]++
		// An ERC-20 Transfer has from and to indexed and the amount as
		// data; an ERC-721 Transfer (same topic) indexes the token id.
		if len(l.Topics) != 3 || len(l.Data) != 32 {
			continue
		}
		to, ok := l.Topics[2].address()
		if !ok {
			continue
		}
		value := new(big.Int).SetBytes(l.Data)
		if value.Sign() == 0 {
			continue // zero transfers pay nothing; address-poisoning spam uses them
		}
		outs = append(outs, chain.Output{
			Currency: currency, TxID: l.TransactionHash.String(), Index: index,
			Address: to.String(), Amount: value,
		})
	}
	return outs, nil
}
