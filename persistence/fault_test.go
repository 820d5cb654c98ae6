package persistence

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/google/uuid"
)

// faultAt is an errorfs injector that fails the n-th write operation (file
// writes, syncs, creates, renames...) counted from when it is armed.
type faultAt struct {
	armed atomic.Bool
	// flushing spares the WAL and directories (see faultRun); MANIFEST
	// files are always spared (see manifest).
	flushing atomic.Bool
	seen     atomic.Int64
	target   int64
	fired    atomic.Bool
}

func (f *faultAt) String() string { return fmt.Sprintf("fail write op %d", f.target) }

func (f *faultAt) MaybeError(op errorfs.Op) error {
	if !f.armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite || f.flushing.Load() && isWALOrDir(op.Path) || isManifest(op.Path) {
		return nil
	}
	if f.seen.Add(1)-1 == f.target {
		f.fired.Store(true)
		return errorfs.ErrInjected
	}
	return nil
}

// isWALOrDir reports whether path is a WAL file or a directory (whose sync
// makes a new WAL's name durable).
func isWALOrDir(path string) bool {
	return strings.HasSuffix(path, ".log") || !strings.Contains(filepath.Base(path), ".")
}

// isManifest reports whether path is a MANIFEST file. A failed MANIFEST sync
// is fatal to Pebble too (Logger.Fatalf), and happens in background
// flushes and compactions, where no caller can recover it: the process
// stops, as for the WAL.
func isManifest(path string) bool {
	return strings.HasPrefix(filepath.Base(path), "MANIFEST")
}

// callRecovering runs fn and turns a panic into an error: Pebble treats a failed
// WAL write or sync as fatal (its Logger.Fatalf, or a panic in the commit),
// which the store hands to OnFatal: in the server that ends the process;
// here panicOnFatal turns it into a panic the test can observe.
func callRecovering(fn func() error) (err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			err, panicked = fmt.Errorf("panic: %v", p), true
		}
	}()
	return fn(), false
}

// TestCommit_WriteFaultAtEveryOp fails the i-th filesystem write of a
// workload of commits, for every i, then simulates power loss (only synced
// data survives) and reopens without faults. Every commit that returned
// success must be there; the commit that failed may or may not be (its
// outcome is unknown to the caller, as with any crash), but nothing may be
// half there: the integrity check passes on every recovered store.
func TestCommit_WriteFaultAtEveryOp(t *testing.T) {
	const commits = 40
	var errorsSeen, panicsSeen, ops int
	for target := int64(0); ; target++ {
		fired, errored, panicked := faultRun(t, target, commits)
		if !fired {
			ops = int(target)
			break
		}
		if panicked {
			panicsSeen++
		} else if errored {
			errorsSeen++
		}
		if target > 10_000 {
			t.Fatal("workload never ran out of write ops")
		}
	}
	t.Logf("%d write ops in the workload; a fault at each: %d commits failed with an error, %d stopped Pebble (fatal), %d were absorbed", ops, errorsSeen, panicsSeen, ops-errorsSeen-panicsSeen)
}

// faultRun runs the workload with a fault at write op target and checks the
// recovered store; it reports whether the fault was reached and what the
// caller saw.
func faultRun(t *testing.T, target int64, commits int) (fired, errored, panicked bool) {
	t.Helper()
	mem := vfs.NewCrashableMem()
	inj := &faultAt{target: target}
	s, err := Open("db", Options{FS: errorfs.Wrap(mem, inj), OnFatal: panicOnFatal})
	if err != nil {
		t.Fatal(err)
	}
	inj.armed.Store(true)
	w := newCkWorld(t, s)
	rng := rand.New(rand.NewPCG(uint64(target), 3))
	var ids []uuid.UUID
	var failed uuid.UUID
	for i := range commits {
		var r *IndexRow
		if i%3 == 2 && len(ids) > 0 {
			prev := w.rows[ids[rng.IntN(len(ids))]]
			r = ckRandomRow(rng, prev.ProjectID, prev.InvoiceID, prev.Watch.Address)
			r.Currency, r.CreatedAt, r.Watch.Currency = prev.Currency, prev.CreatedAt, prev.Currency
		} else {
			id := uuid.New()
			r = ckRandomRow(rng, uuid.UUID{1}, id, fmt.Sprintf("a%d", i))
			ids = append(ids, id)
		}
		var claims []Claim
		if w.ver[r.InvoiceID] == 0 {
			claims = append(claims, AddressClaim(r.Currency, uint64(i), r.Watch.Address, r.InvoiceID))
		}
		err, p := callRecovering(func() error { return w.put(r, claims...) })
		if err == nil && i%10 == 9 {
			// A flush now and then puts sstable and manifest writes
			// (and their faults) into the workload too.
			// A flush first rotates the WAL; Pebble cannot survive a
			// fault there (rotateWAL panics with its mutex held, a fatal
			// runtime error that no recover catches), so the WAL is spared
			// during flushes here and that case runs in a child process:
			// TestCommit_WALRotationFaultStopsProcess.
			inj.flushing.Store(true)
			err, p = callRecovering(s.DB().Flush)
			inj.flushing.Store(false)
			r = &IndexRow{} // a failed flush concerns no stream
		}
		if err != nil {
			// The process would stop here (fatal) or report a 5xx; either
			// way nothing more is acknowledged in this run.
			failed, errored, panicked = r.InvoiceID, true, p
			break
		}
	}
	fired = inj.fired.Load()
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	abandonStore(s)

	c, err := Open("db", Options{FS: crashed})
	if err != nil {
		t.Fatalf("fault at write op %d: reopen after crash: %v", target, err)
	}
	defer c.Close()
	for id, v := range w.ver {
		_, got, _, err := c.Load(id)
		if err == nil && got != v {
			// Load reports the snapshot's version; every commit here
			// writes one, so it is the head.
			if !(id == failed && got == v+1) {
				err = fmt.Errorf("version %d, acknowledged %d", got, v)
			}
		}
		if err != nil {
			t.Fatalf("fault at write op %d: acknowledged invoice %s: %v", target, id, err)
		}
	}
	rep, err := c.Check(ckRows, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("fault at write op %d: recovered store is inconsistent: %v", target, rep.Problems)
	}
	return fired, errored, panicked
}

// abandonStore closes a store whose filesystem failed, as far as Pebble lets
// it: a store whose commit pipeline failed may panic or hang on Close,
// which a crashed process never calls anyway.
func abandonStore(s *Store) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		_ = s.Close()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// faultChildEnv makes the test binary run the child side of
// TestCommit_WALRotationFaultStopsProcess.
const faultChildEnv = "INVOICED_PERSISTENCE_FAULT_CHILD"

// TestCommit_WALRotationFaultStopsProcess covers the fault Pebble cannot
// survive in-process: a failed write or sync while it switches to a new WAL
// (every flush and every full memtable does) panics with its mutex held,
// which the Go runtime turns into a fatal error. The process stops: the
// safe outcome, since nothing unacknowledged was reported as written. A
// child process commits, reports each acknowledged commit, and dies on the
// fault; the parent reopens the directory and finds every acknowledged
// commit and a consistent store that accepts writes again.
func TestCommit_WALRotationFaultStopsProcess(t *testing.T) {
	if dir := os.Getenv(faultChildEnv); dir != "" {
		walRotationChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommit_WALRotationFaultStopsProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), faultChildEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child survived the WAL fault:\n%s", out)
	}
	acked := map[uuid.UUID]uint64{}
	for _, line := range strings.Split(string(out), "\n") {
		var id string
		var v uint64
		if n, _ := fmt.Sscanf(line, "ACK %s %d", &id, &v); n == 2 {
			acked[uuid.MustParse(id)] = v
		}
	}
	if len(acked) == 0 || !strings.Contains(string(out), "rotateWAL") {
		t.Fatalf("child acknowledged %d commits and did not die of the injected fault (%v):\n%s", len(acked), err, out)
	}
	s := openStore(t, dir)
	for id, v := range acked {
		if _, got, _, err := s.Load(id); err != nil || got != v {
			t.Fatalf("acknowledged commit of %s at version %d lost: %d %v", id, v, got, err)
		}
	}
	if rep, err := s.Check(ckRows, CheckOptions{}); err != nil || !rep.OK() {
		t.Fatalf("store after the fatal fault: %v %v", err, rep.Problems)
	}
	newCkWorld(t, s).mustPut(row(uuid.New(), uuid.New(), "new", "BTC", 1, 1))
	t.Logf("child died on the fault (%v) after %d acknowledged commits; all recovered", err, len(acked))
}

// walRotationChild commits, printing each acknowledged commit, then flushes
// with the WAL switch failing. It is expected never to return.
func walRotationChild(dir string) {
	var flushing atomic.Bool
	s, err := Open(dir, Options{FS: errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if flushing.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && isWALOrDir(op.Path) {
			return errorfs.ErrInjected
		}
		return nil
	}))})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	w := newCkWorld(&testing.T{}, s)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10 {
		r := ckRandomRow(rng, uuid.UUID{2}, uuid.New(), fmt.Sprintf("c%d", i))
		if err := w.put(r); err != nil {
			fmt.Println("commit:", err)
			os.Exit(3)
		}
		fmt.Printf("ACK %s %d\n", r.InvoiceID, w.ver[r.InvoiceID])
	}
	flushing.Store(true)
	err = s.DB().Flush()
	fmt.Println("flush returned:", err)
	os.Exit(0)
}

// panicOnFatal stands in for the process exit in tests that observe what
// happens up to a storage failure.
func panicOnFatal(msg string) { panic(msg) }
