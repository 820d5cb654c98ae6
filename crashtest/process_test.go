package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the invoiced executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "invoiced-crashtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binary = filepath.Join(dir, "invoiced")
	build := exec.Command("go", "build", "-o", binary, "github.com/invoiced/invoiced/cmd/invoiced")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build invoiced:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// accountKey is the bootstrap account of every crash test server.
const accountKey = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f"

// confirmations is the servers' INVOICED_CONFIRMATIONS: BTC needs two
// blocks, the other dev chains one.
const confirmations = "BTC=2"

// proc is one run of the invoiced binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	client *http.Client
	stderr *bytes.Buffer
	// exited is closed when the process has exited, with exitErr set:
	// kill may run twice (a failed check after a kill, then the test's
	// deferred kill), and each must return.
	exited  chan struct{}
	exitErr error
}

var listening = regexp.MustCompile(`listening on http://(\S+)`)

// startProc runs the binary on dataDir on a free loopback port and waits
// until it answers /healthz.
func startProc(t *testing.T, dataDir string) *proc {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(),
		"INVOICED_DATA_DIR="+dataDir,
		"INVOICED_LISTEN=127.0.0.1:0",
		"INVOICED_BOOTSTRAP_ACCOUNT_KEY="+accountKey,
		"INVOICED_LOG_LEVEL=error",
		"INVOICED_CONFIRMATIONS="+confirmations,
		"INVOICED_CURRENCIES=BTC,LTC,ETH",
		"INVOICED_RATE_LIMIT=0",                 // the load is one API key at full speed
		"INVOICED_ALLOW_PRIVATE_CALLBACKS=true", // the webhook sink is on loopback
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	go func() { p.exitErr = cmd.Wait(); close(p.exited) }()
	select {
	case p.addr = <-addr:
	case <-p.exited:
		t.Fatalf("invoiced exited at start: %v\n%s", p.exitErr, p.stderr)
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatalf("invoiced did not start within 30 s\n%s", p.stderr)
	}
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, err := p.do(context.Background(), "GET", "/healthz", "", "")
		if err == nil && code == 200 {
			return p
		}
		if time.Now().After(deadline) {
			p.kill()
			t.Fatalf("invoiced not healthy: %d %v\n%s", code, err, p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL, the crash: no shutdown code runs.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.client.CloseIdleConnections()
}

// stop shuts the process down gracefully and reports how it exited.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		p.client.CloseIdleConnections()
		return p.exitErr
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("no exit 30 s after SIGTERM")
	}
}

// do sends one request; body, when not empty, is JSON.
func (p *proc) do(ctx context.Context, method, path, key, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+p.addr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if key != "" {
		req.Header.Set("Api-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// mustDo sends a request the test needs to succeed with want.
func (p *proc) mustDo(method, path, key, body string, want int, out any) {
	p.t.Helper()
	code, b, err := p.do(context.Background(), method, path, key, body)
	if err != nil || code != want {
		p.t.Fatalf("%s %s: %d %v %s (want %d)\n%s", method, path, code, err, b, want, p.stderr)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}
