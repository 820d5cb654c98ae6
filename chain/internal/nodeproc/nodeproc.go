// Package nodeproc runs a real node binary (btcd, geth) for one test, for
// the harnesses chain/bitcoin/btcdtest and chain/ethereum/gethtest: it
// finds the binary where the .ci/install-* scripts put it, starts it with
// its output in a log file, waits until it answers, retries when a port
// picked free was taken meanwhile, and kills it when the test ends.
package nodeproc

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
	"syscall"
	"testing"
	"time"
)

// Binary finds name where .ci/install-<name> puts it (GOBIN, else the
// first GOPATH's bin), then on PATH.
func Binary(name string) (string, error) {
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
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is in none of %v nor on PATH", name, dirs)
	}
	return p, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
// Another process can take it before the node binds it: Start retries.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Launch is one attempt at starting a node.
type Launch struct {
	// Args are the binary's arguments.
	Args []string
	// Ready reports whether the node answers. Start calls it, with a
	// deadline of a second, until it returns nil or Within has passed.
	Ready  func(ctx context.Context) error
	Within time.Duration
}

// errPortTaken is a node exiting because a port it was given was taken.
var errPortTaken = errors.New("port taken")

// Proc is a node started by Run.
type Proc struct {
	// Log is the path of the node's output.
	Log  string
	stop func()
}

// Stop ends the node now, gracefully (SIGTERM, then SIGKILL after 20 s),
// and waits for it to exit: a test restarting a node on the same data
// directory. t.Cleanup's kill is then a no-op.
func (p *Proc) Stop() { p.stop() }

// Start starts the binary name and waits until it is ready. For each
// attempt, launch gets a fresh directory (for the node's data; its output
// goes to name.out there) and returns the command line and readiness
// check. Start returns the log's path. Without the binary the test is
// skipped, pointing at .ci/install-<name>. t.Cleanup kills the node and,
// if the test failed, logs the tail of its output.
func Start(t testing.TB, name string, launch func(dir string) Launch) (logPath string) {
	t.Helper()
	return Run(t, name, launch).Log
}

// Run is Start returning the process, so the test can stop it early.
func Run(t testing.TB, name string, launch func(dir string) Launch) *Proc {
	t.Helper()
	bin, err := Binary(name)
	if err != nil {
		t.Skipf("skipping: needs a %s node: %v; run .ci/install-%s to install it", name, err, name)
	}
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		logPath := filepath.Join(dir, name+".out")
		stop, err := start(t, name, bin, logPath, launch(dir))
		if err == nil {
			return &Proc{Log: logPath, stop: stop}
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			t.Fatalf("start %s: %v\n%s", name, err, Tail(logPath))
		}
	}
}

func start(t testing.TB, name, bin, logPath string, l Launch) (graceful func(), err error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, l.Args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
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
	graceful = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			stop()
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", name, Tail(logPath))
		}
	})

	deadline := time.Now().Add(l.Within)
	for {
		select {
		case <-exited:
			// btcd says "address already in use", litecoind "Address ...".
			if b, _ := os.ReadFile(logPath); bytes.Contains(bytes.ToLower(b), []byte("address already in use")) {
				return nil, errPortTaken
			}
			return nil, fmt.Errorf("%s exited during startup", name)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := l.Ready(ctx)
		cancel()
		if err == nil {
			return graceful, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s not ready after %v: %w", name, l.Within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Tail returns the last 4000 bytes of the log at path.
func Tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Tip returns the best block's height and hash, by getblockchaininfo
// through rpc (a harness's RPC method): btcd and litecoind answer it alike.
func Tip(t testing.TB, rpc func(t testing.TB, method string, out any, params ...any)) (int64, string) {
	t.Helper()
	var info struct {
		Blocks        int64  `json:"blocks"`
		BestBlockHash string `json:"bestblockhash"`
	}
	rpc(t, "getblockchaininfo", &info)
	return info.Blocks, info.BestBlockHash
}
