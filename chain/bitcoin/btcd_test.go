package bitcoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// btcdHarness is a btcd --regtest node started for one test, with the
// adapter under test pointed at it and a key that receives every coinbase.
type btcdHarness struct {
	node        *Node
	minerKey    *btcec.PrivateKey
	minerAddr   string
	minerScript []byte
	logPath     string
}

// btcdBinary finds btcd where .ci/install-btcd puts it (GOBIN, else the
// first GOPATH's bin), then on PATH.
func btcdBinary() (string, error) {
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
		p := filepath.Join(d, "btcd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("btcd")
	if err != nil {
		return "", fmt.Errorf("btcd is in none of %v nor on PATH", dirs)
	}
	return p, nil
}

// startBtcd starts btcd --regtest on loopback ports and waits until its RPC
// answers. t.Cleanup kills it. Without a btcd binary the test is skipped.
func startBtcd(t *testing.T) *btcdHarness {
	t.Helper()
	bin, err := btcdBinary()
	if err != nil {
		t.Skipf("skipping: %v; run .ci/install-btcd to install it", err)
	}
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := address.NewAddressWitnessPubKeyHash(
		address.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &btcdHarness{minerKey: key, minerAddr: addr.EncodeAddress(), minerScript: script}

	// A port picked free can be taken before btcd binds it: try again.
	for attempt := 1; ; attempt++ {
		err := h.launch(t, bin)
		if err == nil {
			return h
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			t.Fatalf("start btcd: %v\n%s", err, logTail(h.logPath))
		}
	}
}

var errPortTaken = errors.New("port taken")

func (h *btcdHarness) launch(t *testing.T, bin string) error {
	dir := t.TempDir()
	rpcAddr, p2pAddr := freeAddr(t), freeAddr(t)
	const user, pass = "invoiced", "regtest-password"
	h.logPath = filepath.Join(dir, "btcd.out")
	logFile, err := os.Create(h.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--regtest",
		"--datadir="+filepath.Join(dir, "data"),
		"--logdir="+filepath.Join(dir, "logs"),
		"--listen="+p2pAddr,
		"--rpclisten="+rpcAddr,
		"--notls", // allowed on loopback only
		"--rpcuser="+user,
		"--rpcpass="+pass,
		"--miningaddr="+h.minerAddr,
		"--nocfilters",
		"--debuglevel=info",
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
			t.Logf("btcd output (tail):\n%s", logTail(h.logPath))
		}
	})

	h.node, err = New(Config{
		URL: "http://" + rpcAddr, User: user, Password: pass, Currency: "BTC",
		Net: "bitcoin-regtest", Params: &chaincfg.RegressionNetParams, Timeout: 20 * time.Second,
	})
	if err != nil {
		stop()
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			if bytes.Contains(readFile(h.logPath), []byte("address already in use")) {
				return errPortTaken
			}
			return errors.New("btcd exited during startup")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := h.node.Tip(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("btcd RPC not ready after 20s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
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

// rpc calls a node method the adapter does not use (generate,
// sendrawtransaction, invalidateblock...).
func (h *btcdHarness) rpc(t *testing.T, method string, out any, params ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.node.rpc.call(ctx, method, params, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// generate mines n blocks paying the miner key and returns their hashes.
func (h *btcdHarness) generate(t *testing.T, n int) []string {
	t.Helper()
	var hashes []string
	h.rpc(t, "generate", &hashes, n)
	if len(hashes) != n {
		t.Fatalf("generate %d returned %d hashes", n, len(hashes))
	}
	return hashes
}
