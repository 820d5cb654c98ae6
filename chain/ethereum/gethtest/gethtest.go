// Package gethtest starts a real geth --dev node for a test and drives it
// the way a wallet would: send ether and ERC-20 transfers from geth's
// funded, unlocked developer account (eth_sendTransaction, so no signing
// code here), deploy the TestToken fixture, wait for receipts. It is used
// only by tests (the server's end-to-end tests); nothing in the server
// imports it.
//
// It speaks JSON-RPC through chain/jsonrpc, not chain/ethereum, so that
// package's own tests import it without an import cycle.
//
// Without a geth binary (in GOBIN, GOPATH/bin or on PATH) Start skips the
// test with a message: .ci/install-geth installs the pinned version.
package gethtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/sha3"

	"github.com/invoiced/invoiced/chain/evm"
	"github.com/invoiced/invoiced/chain/internal/nodeproc"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// SelectorTransfer is the ABI selector of ERC-20 transfer(address,uint256).
var SelectorTransfer = [4]byte{0xa9, 0x05, 0x9c, 0xbb}

// selectorBalanceOf is the ABI selector of balanceOf(address).
var selectorBalanceOf = [4]byte{0x70, 0xa0, 0x82, 0x31}

// Node is a geth --dev process started for one test. Its HTTP JSON-RPC
// (eth, net, web3, txpool) listens on a loopback port; t.Cleanup kills it.
type Node struct {
	// URL is the node's HTTP JSON-RPC endpoint.
	URL string
	// Dev is the developer account (eth_accounts[0]): funded with ether,
	// unlocked, the sender of every transaction sent here.
	Dev string

	rpc *jsonrpc.Client
}

// Start starts geth --dev on loopback ports and waits until its RPC
// answers with the developer account. period 0 mines a block as soon as a
// transaction arrives (one block per transaction); a period of seconds
// leaves transactions pending that long. t.Cleanup kills it. Without a
// geth binary the test is skipped.
func Start(t testing.TB, period int) *Node {
	t.Helper()
	n := &Node{}
	nodeproc.Start(t, "geth", func(dir string) nodeproc.Launch {
		httpPort, authPort := nodeproc.FreePort(t), nodeproc.FreePort(t)
		n.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		n.rpc = &jsonrpc.Client{URL: n.URL, Timeout: 20 * time.Second}
		return nodeproc.Launch{
			Args: []string{
				"--dev", "--dev.period", strconv.Itoa(period),
				"--datadir", filepath.Join(dir, "data"),
				"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(httpPort),
				"--http.api", "eth,net,web3,txpool",
				"--authrpc.addr", "127.0.0.1", "--authrpc.port", strconv.Itoa(authPort),
				"--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable",
				"--cache", "128", // of the 2-4 GB default: a dev chain of a few blocks
				"--verbosity", "3",
			},
			Ready: func(ctx context.Context) error {
				var accounts []string
				if err := n.rpc.Call(ctx, "eth_accounts", nil, &accounts); err != nil {
					return err
				}
				if len(accounts) == 0 {
					return errors.New("no developer account yet")
				}
				n.Dev = accounts[0]
				return nil
			},
			Within: 30 * time.Second,
		}
	})
	return n
}

// Call invokes method with params and decodes its result into out (nil:
// discard); an error or a null result fails the test.
func (n *Node) Call(t testing.TB, method string, out any, params ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out == nil {
		out = new(json.RawMessage) // a null result still fails
	}
	if err := n.rpc.Call(ctx, method, params, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// Tx is an eth_sendTransaction from the developer account. Gas, when set,
// skips geth's estimate, which refuses a transaction that reverts.
type Tx struct {
	To    string // empty: a contract creation
	Value *big.Int
	Data  []byte
	Gas   uint64
}

// Send submits tx and returns its hash (0x and 64 lower-case hex digits).
func (n *Node) Send(t testing.TB, tx Tx) string {
	t.Helper()
	args := map[string]any{"from": n.Dev}
	if tx.To != "" {
		args["to"] = tx.To
	}
	if tx.Value != nil {
		args["value"] = "0x" + tx.Value.Text(16)
	}
	if tx.Data != nil {
		args["input"] = "0x" + hex.EncodeToString(tx.Data)
	}
	if tx.Gas != 0 {
		args["gas"] = "0x" + strconv.FormatUint(tx.Gas, 16)
	}
	var hash string
	n.Call(t, "eth_sendTransaction", &hash, args)
	return hash
}

// Quantity is a JSON-RPC quantity ("0x1a").
type Quantity uint64

func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		return fmt.Errorf("quantity %q: %w", s, err)
	}
	*q = Quantity(v)
	return nil
}

// Receipt is what tests read of a transaction receipt.
type Receipt struct {
	TransactionHash string   `json:"transactionHash"`
	BlockNumber     Quantity `json:"blockNumber"`
	BlockHash       string   `json:"blockHash"`
	Status          Quantity `json:"status"` // 1 success, 0 reverted
	ContractAddress *string  `json:"contractAddress"`
	Logs            []struct {
		LogIndex Quantity `json:"logIndex"`
	} `json:"logs"`
}

// WaitReceipt polls, for at most 20 s, for the receipt of a mined
// transaction, and returns once its block is the node's head or below it.
// geth --dev can serve the receipt of a block a moment before it makes
// that block the head, and reads at "latest" (balances) would then still
// see the block before.
func (n *Node) WaitReceipt(t testing.TB, txid string) Receipt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var r Receipt
		err := n.rpc.Call(ctx, "eth_getTransactionReceipt", []any{txid}, &r)
		cancel()
		switch {
		case err == nil:
			if n.BlockNumber(t) >= uint64(r.BlockNumber) {
				return r
			}
		// null: not mined yet. Just after startup geth may still be
		// indexing transactions and says so.
		case !errors.Is(err, jsonrpc.ErrNull) && !strings.Contains(err.Error(), "indexing is in progress"):
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not mined, or its block not the head, after 20s", txid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SendAndWait sends tx, waits for it to be mined and fails the test if it
// reverted.
func (n *Node) SendAndWait(t testing.TB, tx Tx) (string, Receipt) {
	t.Helper()
	txid := n.Send(t, tx)
	r := n.WaitReceipt(t, txid)
	if r.Status != 1 {
		t.Fatalf("transaction %s reverted", txid)
	}
	return txid, r
}

// MineBlock makes a new block on a node started with period 0 by sending
// 1 wei to a fresh address, and returns the block's number.
func (n *Node) MineBlock(t testing.TB) uint64 {
	t.Helper()
	_, r := n.SendAndWait(t, Tx{To: FreshAddress(t), Value: big.NewInt(1)})
	return uint64(r.BlockNumber)
}

// BlockNumber is the height of the node's tip.
func (n *Node) BlockNumber(t testing.TB) uint64 {
	t.Helper()
	var q Quantity
	n.Call(t, "eth_blockNumber", &q)
	return uint64(q)
}

// Balance is addr's ether balance in wei at the tip.
func (n *Node) Balance(t testing.TB, addr string) *big.Int {
	t.Helper()
	var s string
	n.Call(t, "eth_getBalance", &s, addr, "latest")
	return hexBig(t, s)
}

// TokenBalance is addr's balance of the ERC-20 token at the tip, in the
// token's smallest unit.
func (n *Node) TokenBalance(t testing.TB, token, addr string) *big.Int {
	t.Helper()
	var s string
	n.Call(t, "eth_call", &s, map[string]any{
		"to": token, "input": "0x" + hex.EncodeToString(ABICall(selectorBalanceOf, addr)),
	}, "latest")
	return hexBig(t, s)
}

func hexBig(t testing.TB, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(strings.TrimPrefix(s, "0x"), 16)
	if !ok {
		t.Fatalf("not a hex number: %q", s)
	}
	return v
}

// Transfer sends the ERC-20 transfer(to, value) of token from the developer
// account, waits for it to be mined and fails the test if it reverted.
func (n *Node) Transfer(t testing.TB, token, to string, value *big.Int) (string, Receipt) {
	t.Helper()
	return n.SendAndWait(t, Tx{To: token, Data: ABICall(SelectorTransfer, to, value)})
}

// DeployToken deploys the TestToken fixture (chain/ethereum/testdata:
// decimals 6, the whole supply minted to the deployer) from the developer
// account and returns its address (lower case, as geth gives it) and the
// deployment's receipt.
func (n *Node) DeployToken(t testing.TB, supply *big.Int) (string, Receipt) {
	t.Helper()
	r := n.WaitReceipt(t, n.Send(t, Tx{Data: TokenBytecode(t, supply)}))
	if r.Status != 1 || r.ContractAddress == nil {
		t.Fatalf("token deployment failed: status %d, contract %v", r.Status, r.ContractAddress)
	}
	return *r.ContractAddress, r
}

// TokenBytecode is TestToken's creation code (chain/ethereum/testdata/
// TestToken.bin, shared with chain/ethereum's own tests) followed by its
// constructor argument, the supply minted to the deployer.
func TokenBytecode(t testing.TB, supply *big.Int) []byte {
	t.Helper()
	path, err := tokenBinPath()
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	code, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return append(code, ABIWord(supply)...)
}

// tokenBinPath finds chain/ethereum/testdata/TestToken.bin next to this
// source file, or (a -trimpath build) from the module root.
func tokenBinPath() (string, error) {
	const rel = "chain/ethereum/testdata/TestToken.bin"
	if _, file, _, ok := runtime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "testdata", "TestToken.bin")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if mod := strings.TrimSpace(string(out)); err == nil && mod != "" && mod != os.DevNull {
		p := filepath.Join(filepath.Dir(mod), filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("cannot find %s next to the gethtest sources nor in the module root", rel)
}

// ABICall encodes a call of selector with static arguments (addresses as
// hex strings, integers as int or *big.Int), each one 32-byte word.
func ABICall(selector [4]byte, args ...any) []byte {
	out := append([]byte(nil), selector[:]...)
	for _, a := range args {
		out = append(out, ABIWord(a)...)
	}
	return out
}

// ABIWord is one static ABI argument: an address (hex string) or an
// unsigned integer (int or *big.Int). Anything else panics.
func ABIWord(a any) []byte {
	w := make([]byte, 32)
	switch v := a.(type) {
	case string: // an address
		b, err := hex.DecodeString(strings.TrimPrefix(v, "0x"))
		if err != nil || len(b) != 20 {
			panic("ABIWord: bad address " + v)
		}
		copy(w[12:], b)
	case *big.Int:
		v.FillBytes(w)
	case int:
		big.NewInt(int64(v)).FillBytes(w)
	default:
		panic(fmt.Sprintf("ABIWord: %T", a))
	}
	return w
}

// FreshAddress returns a random account nobody has used, in lower case.
func FreshAddress(t testing.TB) string {
	t.Helper()
	var a [20]byte
	if _, err := rand.Read(a[:]); err != nil {
		t.Fatal(err)
	}
	return "0x" + hex.EncodeToString(a[:])
}

// Keccak256 is Ethereum's hash (the pre-standard Keccak, not SHA3-256).
func Keccak256(b ...[]byte) []byte {
	h := sha3.NewLegacyKeccak256()
	for _, p := range b {
		h.Write(p)
	}
	return h.Sum(nil)
}

// PubKeyAddress is the account of an uncompressed secp256k1 public key
// (65 bytes, 0x04 || X || Y): the last 20 bytes of Keccak-256(X || Y), in
// EIP-55 form.
func PubKeyAddress(uncompressed []byte) string {
	if len(uncompressed) != 65 || uncompressed[0] != 4 {
		panic(fmt.Sprintf("PubKeyAddress: not an uncompressed public key (%d bytes)", len(uncompressed)))
	}
	return evm.ChecksumAddress([20]byte(Keccak256(uncompressed[1:])[12:]))
}

// Checksum returns the EIP-55 mixed-case form of a 0x-prefixed hex address
// in any case. A malformed address panics.
func Checksum(addr string) string {
	b, err := hex.DecodeString(strings.TrimPrefix(addr, "0x"))
	if err != nil || len(b) != 20 {
		panic("Checksum: bad address " + addr)
	}
	return evm.ChecksumAddress([20]byte(b))
}
