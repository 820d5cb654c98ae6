// Package gethtest starts a real geth --dev node for a test and drives it
// the way a wallet would: send ether and ERC-20 transfers from geth's
// funded, unlocked developer account (eth_sendTransaction, so no signing
// code here), deploy the TestToken fixture, wait for receipts. It is used
// only by tests (the server's end-to-end tests); nothing in the server
// imports it.
//
// It speaks JSON-RPC itself rather than through chain/ethereum, so that
// package's own tests could import it without an import cycle.
//
// Without a geth binary (in GOBIN, GOPATH/bin or on PATH) Start skips the
// test with a message: .ci/install-geth installs the pinned version.
package gethtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/sha3"
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

	logPath string
	http    *http.Client
	nextID  atomic.Uint64
}

// Binary finds geth where .ci/install-geth puts it (GOBIN, else the first
// GOPATH's bin), then on PATH.
func Binary() (string, error) {
	var dirs []string
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n"); err == nil && len(lines) == 2 {
		if lines[0] != "" {
			dirs = append(dirs, lines[0])
		}
		for _, p := range filepath.SplitList(lines[1]) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	} else {
		dirs = append(dirs, filepath.Join(build.Default.GOPATH, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "geth")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("geth")
	if err != nil {
		return "", fmt.Errorf("geth is in none of %v nor on PATH", dirs)
	}
	return p, nil
}

// Start starts geth --dev on loopback ports and waits until its RPC
// answers with the developer account. period 0 mines a block as soon as a
// transaction arrives (one block per transaction); a period of seconds
// leaves transactions pending that long. t.Cleanup kills it. Without a
// geth binary the test is skipped.
func Start(t testing.TB, period int) *Node {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Skipf("skipping: %v; run .ci/install-geth to install it", err)
	}
	n := &Node{http: &http.Client{Timeout: 20 * time.Second}}
	// A port picked free can be taken before geth binds it: try again.
	for attempt := 1; ; attempt++ {
		err := n.launch(t, bin, period)
		if err == nil {
			return n
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			t.Fatalf("start geth: %v\n%s", err, logTail(n.logPath))
		}
	}
}

var errPortTaken = errors.New("port taken")

func (n *Node) launch(t testing.TB, bin string, period int) error {
	dir := t.TempDir()
	httpPort, authPort := freePort(t), freePort(t)
	n.logPath = filepath.Join(dir, "geth.out")
	logFile, err := os.Create(n.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--dev", "--dev.period", strconv.Itoa(period),
		"--datadir", filepath.Join(dir, "data"),
		"--http", "--http.addr", "127.0.0.1", "--http.port", strconv.Itoa(httpPort),
		"--http.api", "eth,net,web3,txpool",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", strconv.Itoa(authPort),
		"--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable",
		"--cache", "128", // of the 2-4 GB default: a dev chain of a few blocks
		"--verbosity", "3",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	logPath := n.logPath
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("geth output (tail):\n%s", logTail(logPath))
		}
	})

	n.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			if bytes.Contains(readFile(n.logPath), []byte("address already in use")) {
				return errPortTaken
			}
			return errors.New("geth exited during startup")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var accounts []string
		err := n.rpc(ctx, "eth_accounts", nil, &accounts)
		cancel()
		if err == nil && len(accounts) > 0 {
			n.Dev = accounts[0]
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("geth RPC not ready after 30s: accounts %v, %v", accounts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

func logTail(path string) string {
	b := readFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// errNull is a call's result being JSON null (e.g. the receipt of a
// transaction not mined yet).
var errNull = errors.New("result is null")

// rpc is one JSON-RPC call; out receives the result.
func (n *Node) rpc(ctx context.Context, method string, params []any, out any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": n.nextID.Add(1), "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", n.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", method, resp.StatusCode, b)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: error %d: %s", method, r.Error.Code, r.Error.Message)
	}
	if len(r.Result) == 0 || string(r.Result) == "null" {
		return errNull
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Result, out)
}

// Call invokes method with params and decodes its result into out (nil:
// discard); an error or a null result fails the test.
func (n *Node) Call(t testing.TB, method string, out any, params ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.rpc(ctx, method, params, out); err != nil {
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
// transaction.
func (n *Node) WaitReceipt(t testing.TB, txid string) Receipt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var r Receipt
		err := n.rpc(ctx, "eth_getTransactionReceipt", []any{txid}, &r)
		cancel()
		if err == nil {
			return r
		}
		// null: not mined yet. Just after startup geth may still be
		// indexing transactions and says so.
		if !errors.Is(err, errNull) && !strings.Contains(err.Error(), "indexing is in progress") {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not mined after 20s", txid)
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
	return Checksum("0x" + hex.EncodeToString(Keccak256(uncompressed[1:])[12:]))
}

// Checksum returns the EIP-55 mixed-case form of a 0x-prefixed hex address
// in any case: a letter is upper case when the matching nibble of
// Keccak-256 of the lower-case hex is 8 or more. A malformed address panics.
func Checksum(addr string) string {
	lower := strings.ToLower(strings.TrimPrefix(addr, "0x"))
	if _, err := hex.DecodeString(lower); err != nil || len(lower) != 40 {
		panic("Checksum: bad address " + addr)
	}
	digest := Keccak256([]byte(lower))
	out := []byte("0x" + lower)
	for i := range 40 {
		nibble := digest[i/2] >> 4
		if i%2 == 1 {
			nibble = digest[i/2] & 0x0f
		}
		if c := out[2+i]; c >= 'a' && nibble >= 8 {
			out[2+i] = c - ('a' - 'A')
		}
	}
	return string(out)
}
