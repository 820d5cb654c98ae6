package bitcoin

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

// fakeMempool is a node whose mempool the test edits.
type fakeMempool struct {
	mu  sync.Mutex
	txs map[string]string // txid -> raw hex
	// vanish lists txids getrawmempool reports but getrawtransaction no
	// longer finds (mined or replaced in between).
	vanish map[string]bool
}

func newFakeMempool(t *testing.T) (*fakeMempool, *jsonrpctest.Server, *Node) {
	m := &fakeMempool{txs: map[string]string{}, vanish: map[string]bool{}}
	f := jsonrpctest.NewServer(t, func(method string, params []json.RawMessage) (any, *jsonrpc.Error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		switch method {
		case "getrawmempool":
			ids := slices.Collect(maps.Keys(m.txs))
			for id := range m.vanish {
				ids = append(ids, id)
			}
			return ids, nil
		case "getrawtransaction":
			var id string
			_ = json.Unmarshal(params[0], &id)
			if raw, ok := m.txs[id]; ok {
				return raw, nil
			}
			return nil, &jsonrpc.Error{Code: -5, Message: "No information available about transaction"}
		}
		return nil, &jsonrpc.Error{Code: -32601, Message: "Method not found"}
	})
	return m, f, testNode(t, f.URL, 2*time.Second)
}

func (m *fakeMempool) add(t *testing.T, txs ...*wire.MsgTx) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tx := range txs {
		var buf bytes.Buffer
		if err := tx.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
		m.txs[tx.TxHash().String()] = hex.EncodeToString(buf.Bytes())
	}
}

func (m *fakeMempool) remove(txs ...*wire.MsgTx) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tx := range txs {
		delete(m.txs, tx.TxHash().String())
	}
}

// payTx spends prev:0 with sequence seq and pays outs P2WPKH outputs of
// 1000, 1001, ... satoshi.
func payTx(prev chainhash.Hash, seq uint32, outs int) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: prev}, Sequence: seq})
	for i := range outs {
		prog := chainhash.HashB(append(prev[:], byte(i)))[:20]
		tx.AddTxOut(wire.NewTxOut(int64(1000+i), append([]byte{0x00, 0x14}, prog...)))
	}
	tx.AddTxOut(wire.NewTxOut(5, []byte{0x6a})) // OP_RETURN: never reported
	return tx
}

func confirmed(i int) chainhash.Hash {
	return chainhash.DoubleHashH(binary.BigEndian.AppendUint32([]byte("confirmed"), uint32(i)))
}

func mempoolByTx(t *testing.T, n *Node) map[string][]chain.Output {
	t.Helper()
	outs, err := n.Mempool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byTx := map[string][]chain.Output{}
	for _, o := range outs {
		byTx[o.TxID] = append(byTx[o.TxID], o)
	}
	return byTx
}

func TestMempool_DecodesOnlyNewTransactionsAndForgetsGoneOnes(t *testing.T) {
	m, f, n := newFakeMempool(t)
	a, b, c := payTx(confirmed(1), wire.MaxTxInSequenceNum, 2), payTx(confirmed(2), wire.MaxTxInSequenceNum, 1), payTx(confirmed(3), 0xfffffffd, 3)

	m.add(t, a, b)
	got := mempoolByTx(t, n)
	if len(got) != 2 || len(got[a.TxHash().String()]) != 2 || len(got[b.TxHash().String()]) != 1 {
		t.Fatalf("first call: %+v", got)
	}
	if f.Count("getrawtransaction") != 2 {
		t.Fatalf("first call fetched %d transactions, want 2", f.Count("getrawtransaction"))
	}

	m.add(t, c)
	got = mempoolByTx(t, n)
	if len(got) != 3 || f.Count("getrawtransaction") != 3 {
		t.Fatalf("second call: %d txs, %d fetches in all; want 3 and 3", len(got), f.Count("getrawtransaction"))
	}
	for _, o := range got[c.TxHash().String()] {
		if !o.RBF || o.Currency != "BTC" || o.Amount.Int64() < 1000 {
			t.Fatalf("output of the signalling tx: %+v", o)
		}
	}

	m.remove(a)
	got = mempoolByTx(t, n)
	if _, ok := got[a.TxHash().String()]; ok || len(got) != 2 {
		t.Fatalf("after a left: %+v", got)
	}
	if f.Count("getrawtransaction") != 3 {
		t.Fatalf("a call with nothing new fetched %d more", f.Count("getrawtransaction")-3)
	}
	if len(n.mempool.txs) != 2 {
		t.Fatalf("cache holds %d txs, want the 2 in the mempool", len(n.mempool.txs))
	}

	// A transaction that comes back (a reorg) is fetched again.
	m.add(t, a)
	if got = mempoolByTx(t, n); len(got) != 3 || f.Count("getrawtransaction") != 4 {
		t.Fatalf("after a came back: %d txs, %d fetches", len(got), f.Count("getrawtransaction"))
	}
}

func TestMempool_TransactionGoneBeforeFetchIsSkipped(t *testing.T) {
	m, f, n := newFakeMempool(t)
	a := payTx(confirmed(1), wire.MaxTxInSequenceNum, 1)
	m.add(t, a)
	m.vanish[payTx(confirmed(2), wire.MaxTxInSequenceNum, 1).TxHash().String()] = true
	got := mempoolByTx(t, n)
	if len(got) != 1 || got[a.TxHash().String()] == nil {
		t.Fatalf("Mempool = %+v, want only a", got)
	}
	// Not cached: asked again while getrawmempool still lists it.
	mempoolByTx(t, n)
	if f.Count("getrawtransaction") != 3 {
		t.Fatalf("%d fetches, want 3 (a once, the vanished tx twice)", f.Count("getrawtransaction"))
	}
}

func TestMempool_FetchesInBatches(t *testing.T) {
	m, f, n := newFakeMempool(t)
	for i := range 150 {
		m.add(t, payTx(confirmed(i), wire.MaxTxInSequenceNum, 1))
	}
	outs, err := n.Mempool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 150 {
		t.Fatalf("%d outputs, want 150", len(outs))
	}
	// One getrawmempool and ceil(150/64) = 3 batches.
	if f.Posts() != 4 {
		t.Fatalf("%d HTTP requests, want 4", f.Posts())
	}
	if !slices.IsSortedFunc(outs, func(a, b chain.Output) int {
		if a.TxID < b.TxID {
			return -1
		}
		if a.TxID > b.TxID {
			return 1
		}
		return int(a.Index) - int(b.Index)
	}) {
		t.Fatal("outputs are not ordered by txid and index")
	}
}

// TestMempool_RBFIsInheritedFromUnconfirmedParents: BIP125 lets a
// signalling parent be replaced, which evicts its children.
func TestMempool_RBFIsInheritedFromUnconfirmedParents(t *testing.T) {
	m, _, n := newFakeMempool(t)
	parent := payTx(confirmed(1), 0xfffffffd, 1)
	child := payTx(parent.TxHash(), wire.MaxTxInSequenceNum, 1)
	grandchild := payTx(child.TxHash(), wire.MaxTxInSequenceNum, 1)
	unrelated := payTx(confirmed(2), wire.MaxTxInSequenceNum, 1)
	m.add(t, parent, child, grandchild, unrelated)

	rbf := func(got map[string][]chain.Output, tx *wire.MsgTx) bool {
		outs := got[tx.TxHash().String()]
		if len(outs) != 1 {
			t.Fatalf("tx %s: %d outputs", tx.TxHash(), len(outs))
		}
		return outs[0].RBF
	}
	got := mempoolByTx(t, n)
	if !rbf(got, parent) || !rbf(got, child) || !rbf(got, grandchild) || rbf(got, unrelated) {
		t.Fatalf("RBF parent/child/grandchild/unrelated = %v/%v/%v/%v, want true/true/true/false",
			rbf(got, parent), rbf(got, child), rbf(got, grandchild), rbf(got, unrelated))
	}

	m.remove(parent) // confirmed: its children can no longer be replaced through it
	got = mempoolByTx(t, n)
	if rbf(got, child) || rbf(got, grandchild) {
		t.Fatal("children still flagged RBF after their signalling parent confirmed")
	}
}

func TestMempool_ReturnedAmountsAreTheCallersToKeep(t *testing.T) {
	m, _, n := newFakeMempool(t)
	m.add(t, payTx(confirmed(1), wire.MaxTxInSequenceNum, 1))
	outs, err := n.Mempool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	outs[0].Amount.SetInt64(-1)
	again, err := n.Mempool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Amount.Int64() != 1000 {
		t.Fatalf("cached amount changed to %v through a returned Output", again[0].Amount)
	}
}

func TestMempool_ConcurrentCallsAreSerialised(t *testing.T) {
	m, f, n := newFakeMempool(t)
	for i := range 10 {
		m.add(t, payTx(confirmed(i), wire.MaxTxInSequenceNum, 2))
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			outs, err := n.Mempool(context.Background())
			if err != nil || len(outs) != 20 {
				t.Errorf("Mempool = %d outputs, %v", len(outs), err)
			}
		})
	}
	wg.Wait()
	if f.Count("getrawtransaction") != 10 {
		t.Fatalf("%d fetches for 10 transactions under concurrent calls", f.Count("getrawtransaction"))
	}
}
