// Package btcdtest starts a real btcd --regtest node for a test and drives
// it the way a wallet and a miner would: mine blocks, sign and send P2WPKH
// spends, invalidate blocks. It is used only by tests (chain/bitcoin's
// adapter tests and the server's end-to-end tests); nothing in the server
// imports it.
//
// It speaks JSON-RPC through chain/jsonrpc, not chain/bitcoin, so that
// package's own tests can import it without an import cycle.
//
// Without a btcd binary (in GOBIN, GOPATH/bin or on PATH) Start skips the
// test with a message: .ci/install-btcd installs the pinned version.
package btcdtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain/internal/nodeproc"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// Params are the network parameters of every node started here.
var Params = &chaincfg.RegressionNetParams

// CoinbaseMaturity is how many blocks must follow a coinbase's block
// before the coinbase can be spent.
const CoinbaseMaturity = 100

// RBFSequence is an input sequence number that signals replace-by-fee
// (BIP125); wire.MaxTxInSequenceNum signals nothing.
const RBFSequence = 0xfffffffd

// Node is a btcd --regtest process started for one test. Its RPC listens on
// a loopback port without TLS; t.Cleanup kills it.
type Node struct {
	// URL, User and Password reach the node's JSON-RPC endpoint.
	URL, User, Password string
	// Miner receives every coinbase (btcd --miningaddr) and is the key
	// Spend signs with.
	Miner Key

	rpc *jsonrpc.Client
}

// Key is a P2WPKH key on regtest.
type Key struct {
	Priv   *btcec.PrivateKey
	Addr   string // bech32 bcrt1q... address
	Script []byte // its output script
}

// Coin is a spendable output.
type Coin struct {
	TxID   string
	Index  uint32
	Amount int64 // satoshis
}

// NewKey returns a random P2WPKH key.
func NewKey(t testing.TB) Key {
	t.Helper()
	priv, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return KeyOf(t, priv)
}

// KeyOf returns the P2WPKH key of priv.
func KeyOf(t testing.TB, priv *btcec.PrivateKey) Key {
	t.Helper()
	addr, err := address.NewAddressWitnessPubKeyHash(address.Hash160(priv.PubKey().SerializeCompressed()), Params)
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Priv: priv, Addr: addr.EncodeAddress(), Script: script}
}

// Start starts btcd --regtest on loopback ports and waits until its RPC
// answers. t.Cleanup kills it (and, if the test failed, logs the tail of
// its output). Without a btcd binary the test is skipped.
func Start(t testing.TB) *Node {
	t.Helper()
	n := &Node{Miner: NewKey(t)}
	// Its own transport: no proxy settings from the environment.
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	t.Cleanup(httpClient.CloseIdleConnections)
	nodeproc.Start(t, "btcd", func(dir string) nodeproc.Launch {
		rpcAddr := fmt.Sprintf("127.0.0.1:%d", nodeproc.FreePort(t))
		p2pAddr := fmt.Sprintf("127.0.0.1:%d", nodeproc.FreePort(t))
		n.URL, n.User, n.Password = "http://"+rpcAddr, "invoiced", "regtest-password"
		n.rpc = &jsonrpc.Client{URL: n.URL, User: n.User, Password: n.Password, Version: "1.0", HTTP: httpClient}
		return nodeproc.Launch{
			Args: []string{
				"--regtest",
				"--datadir=" + filepath.Join(dir, "data"),
				"--logdir=" + filepath.Join(dir, "logs"),
				"--listen=" + p2pAddr,
				"--rpclisten=" + rpcAddr,
				"--notls", // allowed on loopback only
				"--rpcuser=" + n.User,
				"--rpcpass=" + n.Password,
				"--miningaddr=" + n.Miner.Addr,
				"--nocfilters",
				"--debuglevel=info",
			},
			Ready:  func(ctx context.Context) error { return n.Call(ctx, "getblockchaininfo", nil) },
			Within: 20 * time.Second,
		}
	})
	return n
}

// Call invokes a JSON-RPC method and decodes its result into out (nil:
// discard it).
func (n *Node) Call(ctx context.Context, method string, out any, params ...any) error {
	return n.rpc.Call(ctx, method, params, out)
}

// RPC is Call that fails the test on error, with a 20 s timeout.
func (n *Node) RPC(t testing.TB, method string, out any, params ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Call(ctx, method, out, params...); err != nil {
		t.Fatal(err)
	}
}

// Generate mines count blocks paying the miner key and returns their hashes.
func (n *Node) Generate(t testing.TB, count int) []string {
	t.Helper()
	var hashes []string
	n.RPC(t, "generate", &hashes, count)
	if len(hashes) != count {
		t.Fatalf("generate %d returned %d hashes", count, len(hashes))
	}
	return hashes
}

// Tip returns the best block's height and hash.
func (n *Node) Tip(t testing.TB) (int64, string) {
	t.Helper()
	return nodeproc.Tip(t, n.RPC)
}

// Coinbase returns output 0 of the coinbase of block hash: the miner's
// reward.
func (n *Node) Coinbase(t testing.TB, hash string) Coin {
	t.Helper()
	type rawTx struct {
		TxID string `json:"txid"`
		Vout []struct {
			Value float64 `json:"value"`
			N     uint32  `json:"n"`
		} `json:"vout"`
	}
	// Verbosity 2: btcd lists the decoded transactions under "rawtx",
	// bitcoind under "tx".
	var block struct {
		Tx    []rawTx `json:"tx"`
		RawTx []rawTx `json:"rawtx"`
	}
	n.RPC(t, "getblock", &block, hash, 2)
	txs := block.RawTx
	if len(txs) == 0 {
		txs = block.Tx
	}
	if len(txs) == 0 || len(txs[0].Vout) == 0 || txs[0].Vout[0].N != 0 {
		t.Fatalf("block %s: no coinbase output 0 in %+v", hash, txs)
	}
	cb := txs[0]
	return Coin{TxID: cb.TxID, Index: 0, Amount: int64(math.Round(cb.Vout[0].Value * 1e8))}
}

// MatureCoins mines count blocks, then CoinbaseMaturity more, and returns
// the coinbases of the first count: spendable by the miner key at once.
func (n *Node) MatureCoins(t testing.TB, count int) []Coin {
	t.Helper()
	hashes := n.Generate(t, count)
	n.Generate(t, CoinbaseMaturity)
	coins := make([]Coin, count)
	for i, h := range hashes {
		coins[i] = n.Coinbase(t, h)
	}
	return coins
}

// Spend builds a version 2 transaction spending prev (a P2WPKH output of
// the miner key) with the given input sequence to outs, signed (BIP143)
// and verified. It does not send it.
func (n *Node) Spend(t testing.TB, prev Coin, sequence uint32, outs []*wire.TxOut) *wire.MsgTx {
	t.Helper()
	return SpendFrom(t, n.Miner, prev, sequence, outs)
}

// SpendFrom is Spend for a P2WPKH output of key.
func SpendFrom(t testing.TB, key Key, prev Coin, sequence uint32, outs []*wire.TxOut) *wire.MsgTx {
	t.Helper()
	prevHash, err := chainhash.NewHashFromStr(prev.TxID)
	if err != nil {
		t.Fatal(err)
	}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: *prevHash, Index: prev.Index}, Sequence: sequence})
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	fetcher := txscript.NewCannedPrevOutputFetcher(key.Script, prev.Amount)
	sigHashes := txscript.NewTxSigHashes(tx, fetcher)
	witness, err := txscript.WitnessSignature(tx, sigHashes, 0, prev.Amount, key.Script, txscript.SigHashAll, key.Priv, true)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].Witness = witness
	// Check the signature here, so a mistake reads as one rather than as
	// a mempool rejection.
	vm, err := txscript.NewEngine(key.Script, tx, 0, txscript.StandardVerifyFlags, nil, sigHashes, prev.Amount, fetcher)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Execute(); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	return tx
}

// Payment builds a transaction spending prev (the miner's) that pays amount
// satoshis to addr and the rest less fee back to the miner: output 0 is the
// payment, output 1 the change.
func (n *Node) Payment(t testing.TB, prev Coin, addr string, amount, fee int64, sequence uint32) *wire.MsgTx {
	t.Helper()
	return n.Spend(t, prev, sequence, []*wire.TxOut{
		wire.NewTxOut(amount, AddressScript(t, addr)),
		wire.NewTxOut(prev.Amount-amount-fee, n.Miner.Script),
	})
}

// AddressScript returns the output script paying a regtest address.
func AddressScript(t testing.TB, addr string) []byte {
	t.Helper()
	a, err := address.DecodeAddress(addr, Params)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	script, err := txscript.PayToAddrScript(a)
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// Send submits tx with sendrawtransaction and returns its id.
func (n *Node) Send(t testing.TB, tx *wire.MsgTx) string {
	t.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	var txid string
	n.RPC(t, "sendrawtransaction", &txid, hex.EncodeToString(buf.Bytes()))
	if want := tx.TxHash().String(); txid != want {
		t.Fatalf("sendrawtransaction returned %s, want %s", txid, want)
	}
	return txid
}

// InMempool reports whether txid is in the node's mempool.
func (n *Node) InMempool(t testing.TB, txid string) bool {
	t.Helper()
	var ids []string
	n.RPC(t, "getrawmempool", &ids)
	for _, id := range ids {
		if id == txid {
			return true
		}
	}
	return false
}
