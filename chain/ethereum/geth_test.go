package ethereum

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"go/build"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gethHarness is a geth --dev node started for one test: its developer
// account is funded and unlocked, so transactions are sent with
// eth_sendTransaction and need no signing code here.
type gethHarness struct {
	url     string
	rpc     *rpcClient // for the methods the adapter does not use
	dev     string     // eth_accounts[0]
	logPath string
}

// gethBinary finds geth where .ci/install-geth puts it (GOBIN, else the
// first GOPATH's bin), then on PATH.
func gethBinary() (string, error) {
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

// startGeth starts geth --dev on loopback ports and waits until its RPC
// answers. period 0 mines a block as soon as a transaction arrives; a
// period of seconds leaves transactions pending that long. t.Cleanup
// kills it. Without a geth binary the test is skipped.
func startGeth(t *testing.T, period int) *gethHarness {
	t.Helper()
	bin, err := gethBinary()
	if err != nil {
		t.Skipf("skipping: %v; run .ci/install-geth to install it", err)
	}
	h := &gethHarness{}
	// A port picked free can be taken before geth binds it: try again.
	for attempt := 1; ; attempt++ {
		err := h.launch(t, bin, period)
		if err == nil {
			return h
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			t.Fatalf("start geth: %v\n%s", err, logTail(h.logPath))
		}
	}
}

var errPortTaken = errors.New("port taken")

func (h *gethHarness) launch(t *testing.T, bin string, period int) error {
	dir := t.TempDir()
	httpPort, authPort := freePort(t), freePort(t)
	h.logPath = filepath.Join(dir, "geth.out")
	logFile, err := os.Create(h.logPath)
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
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("geth output (tail):\n%s", logTail(h.logPath))
		}
	})

	h.url = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	h.rpc = &rpcClient{endpoint: h.url, name: h.url, timeout: 20 * time.Second, http: &http.Client{}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			if bytes.Contains(readFile(h.logPath), []byte("address already in use")) {
				return errPortTaken
			}
			return errors.New("geth exited during startup")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var accounts []string
		err := h.rpc.call(ctx, "eth_accounts", nil, &accounts)
		cancel()
		if err == nil && len(accounts) > 0 {
			h.dev = accounts[0]
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("geth RPC not ready after 30s: accounts %v, %v", accounts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// node returns an adapter for the harness's geth reporting ETH and tokens.
func (h *gethHarness) node(t *testing.T, tokens ...Token) *Node {
	t.Helper()
	n, err := New(Config{URL: h.url, Net: "ethereum-dev", Native: "ETH", Tokens: tokens, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func freePort(t *testing.T) int {
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

// call invokes a node method the adapter does not use.
func (h *gethHarness) call(t *testing.T, method string, out any, params ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.rpc.call(ctx, method, params, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// sendTx is an eth_sendTransaction from the developer account. Gas, when
// set, skips geth's estimate, which refuses a transaction that reverts.
type sendTx struct {
	To    string
	Value *big.Int
	Data  []byte
	Gas   uint64
}

// send submits tx and returns its hash.
func (h *gethHarness) send(t *testing.T, tx sendTx) string {
	t.Helper()
	args := map[string]any{"from": h.dev}
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
		args["gas"] = hexUint(tx.Gas)
	}
	var hash string
	h.call(t, "eth_sendTransaction", &hash, args)
	return hash
}

// receipt is what the tests read of a transaction receipt.
type receipt struct {
	BlockNumber     quantity `json:"blockNumber"`
	BlockHash       string   `json:"blockHash"`
	Status          quantity `json:"status"`
	ContractAddress *string  `json:"contractAddress"`
	Logs            []struct {
		LogIndex quantity `json:"logIndex"`
	} `json:"logs"`
}

// waitReceipt polls for the receipt of a mined transaction.
func (h *gethHarness) waitReceipt(t *testing.T, txid string) receipt {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var r receipt
		err := h.rpc.call(ctx, "eth_getTransactionReceipt", []any{txid}, &r)
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

// freshAddress returns a random account nobody has used, in lower case
// (geth answers in lower case; the adapter must give EIP-55).
func freshAddress(t *testing.T) string {
	t.Helper()
	var a address
	if _, err := rand.Read(a[:]); err != nil {
		t.Fatal(err)
	}
	return "0x" + hex.EncodeToString(a[:])
}

// abiCall encodes a call of selector with static arguments (addresses and
// integers, each one 32-byte word).
func abiCall(selector [4]byte, args ...any) []byte {
	out := append([]byte(nil), selector[:]...)
	for _, a := range args {
		out = append(out, abiWord(a)...)
	}
	return out
}

func abiWord(a any) []byte {
	w := make([]byte, 32)
	switch v := a.(type) {
	case string: // an address
		b, err := hex.DecodeString(strings.TrimPrefix(v, "0x"))
		if err != nil || len(b) != 20 {
			panic("abiWord: bad address " + v)
		}
		copy(w[12:], b)
	case *big.Int:
		v.FillBytes(w)
	case int:
		big.NewInt(int64(v)).FillBytes(w)
	default:
		panic(fmt.Sprintf("abiWord: %T", a))
	}
	return w
}

// tokenBytecode is TestToken's creation code (testdata/TestToken.bin)
// followed by its constructor argument, the supply minted to the deployer.
func tokenBytecode(t *testing.T, supply *big.Int) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "TestToken.bin"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatalf("testdata/TestToken.bin: %v", err)
	}
	return append(code, abiWord(supply)...)
}

// deployToken deploys TestToken from the developer account and returns its
// address and the deployment's receipt.
func (h *gethHarness) deployToken(t *testing.T, supply *big.Int) (string, receipt) {
	t.Helper()
	r := h.waitReceipt(t, h.send(t, sendTx{Data: tokenBytecode(t, supply)}))
	if r.Status != 1 || r.ContractAddress == nil {
		t.Fatalf("token deployment failed: status %d, contract %v", r.Status, r.ContractAddress)
	}
	return *r.ContractAddress, r
}
