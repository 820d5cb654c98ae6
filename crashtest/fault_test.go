package crashtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	httpapi "github.com/invoiced/invoiced/http"
	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/rates"
)

// walFault fails the target-th write or sync of a WAL file, counted from
// when it is armed. Faults elsewhere (sstables, MANIFEST) need flushes and
// compactions, which this small workload does not reach; a fault while
// Pebble switches WALs kills the process outright and is covered by
// persistence's TestCommit_WALRotationFaultStopsProcess.
type walFault struct {
	armed  atomic.Bool
	target int64
	seen   atomic.Int64
	fired  atomic.Bool
}

func (f *walFault) String() string { return fmt.Sprintf("fail WAL write %d", f.target) }

func (f *walFault) MaybeError(op errorfs.Op) error {
	if !f.armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite || !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	if f.seen.Add(1)-1 == f.target {
		f.fired.Store(true)
		return errorfs.ErrInjected
	}
	return nil
}

// faultEnv is the HTTP API over a store on an error-injecting, crashable
// in-memory filesystem.
type faultEnv struct {
	t     *testing.T
	mem   *vfs.MemFS
	store *persistence.Store
	reg   *invoice.Service
	srv   *httptest.Server
	fault *walFault
	// fatal records that the store called OnFatal: in production the
	// process exits there; here the hook panics instead, which the actor
	// turns into a 5xx, so the test can look at what was answered.
	fatal atomic.Bool
}

func newFaultEnv(t *testing.T, target int64) *faultEnv {
	e := &faultEnv{t: t, mem: vfs.NewCrashableMem(), fault: &walFault{target: target}}
	var err error
	onFatal := func(msg string) { e.fatal.Store(true); panic(msg) }
	if e.store, err = persistence.Open("db", persistence.Options{FS: errorfs.Wrap(e.mem, e.fault), OnFatal: onFatal}); err != nil {
		t.Fatal(err)
	}
	accts, err := accounts.New(e.store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accts.EnsureAccount(accountKey); err != nil {
		t.Fatal(err)
	}
	src, err := rates.NewStatic(rates.DefaultStaticRates(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rules := engine.DefaultRules()
	if e.reg, err = invoice.New(invoice.Config{Store: e.store, Rules: rules, Deriver: devchain.NewDeriver(devchain.DevSeed()), Rates: src, StateCacheBytes: invoice.DefaultStateCacheBytes}); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(httpapi.New(httpapi.Config{Invoices: e.reg, Accounts: accts, Rules: rules, Rates: src}))
	return e
}

func (e *faultEnv) do(method, path, key, body string) (int, []byte) {
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Api-Key", key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil // connection cut: not an acknowledgement
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// crash simulates power loss: only synced data survives. A store whose
// WAL failed is abandoned, as a dead process's would be: Pebble's commit
// pipeline is wedged then (see TestFaults_WriteAfterWALFailure) and Close
// would block.
func (e *faultEnv) crash() vfs.FS {
	clone := e.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	e.srv.Close()
	e.reg.Shutdown()
	if e.fault.armed.Store(false); !e.fault.fired.Load() {
		if err := e.store.Close(); err != nil {
			e.t.Fatal(err)
		}
	}
	return clone
}

// faultOutcome is what one run with a fault saw.
type faultOutcome struct {
	fired       bool
	faultAnswer int // the status of the request the fault hit (0 = cut)
	acked       int
}

// TestFaults_StorageErrorsNeverAnswer2xx fails the i-th WAL write or sync
// under a sequence of API writes, for every i. The request the fault hits
// must not get a 2xx: Pebble treats a failed WAL write as fatal (its
// Logger.Fatalf, which persistence turns into a panic), and the invoice
// actor and the router's panic handler turn that into a 500. The process
// is then treated as dead (see TestFaults_WriteAfterWALFailure for why it
// must be), and after a simulated power loss every acknowledged write is
// there and the store is consistent.
func TestFaults_StorageErrorsNeverAnswer2xx(t *testing.T) {
	var runs, cut, with5xx int
	for target := int64(0); ; target++ {
		o := faultRun(t, target)
		if !o.fired {
			break
		}
		runs++
		if o.faultAnswer == 0 {
			cut++
		} else {
			with5xx++
		}
		if target > 1000 {
			t.Fatal("workload never ran out of WAL writes")
		}
	}
	if runs < 10 {
		t.Fatalf("only %d fault points reached", runs)
	}
	t.Logf("a WAL fault at each of %d write points: the request hit got a 5xx %d times and a cut connection %d times, never a 2xx; every acknowledged write survived a power loss", runs, with5xx, cut)
}

func faultRun(t *testing.T, target int64) faultOutcome {
	t.Helper()
	e := newFaultEnv(t, target)
	var proj struct {
		APIKey string `json:"api_key"`
	}
	if code, b := e.do("POST", "/api/v1/projects", accountKey, `{"name":"shop"}`); code != 201 || json.Unmarshal(b, &proj) != nil {
		t.Fatalf("project: %d %s", code, b)
	}
	e.fault.armed.Store(true)

	type ackedPatch struct{ id, status, comment string }
	ackedInvoices := map[string]string{} // id -> order id
	var ackedPatches []ackedPatch
	var ids []string               // invoices that can still be patched
	patched := map[string]string{} // id -> status patched to
	var o faultOutcome
	for i := range 24 {
		var method, path, body, key string
		switch {
		case i%8 == 7:
			method, path, key, body = "POST", "/api/v1/projects", accountKey, fmt.Sprintf(`{"name":"p%d"}`, i)
		case i%3 == 2 && len(ids) > 0:
			id := ids[len(ids)-1]
			to := "cancelled"
			if patched[id] == "cancelled" {
				to = "archived"
			}
			method, path, key = "PATCH", "/api/v1/invoices/"+id, proj.APIKey
			body = fmt.Sprintf(`{"status":%q,"comment":"c%d"}`, to, i)
		case i%5 == 4:
			method, path, key, body = "POST", "/api/v1/archived", proj.APIKey, fmt.Sprintf(`{"order_id":"o%d","crypto_amount":"1","currency":"BTC","created_at":"2025-01-01"}`, i)
		default:
			method, path, key, body = "POST", "/api/v1/invoices", proj.APIKey, fmt.Sprintf(`{"order_id":"o%d","crypto_amount":"0.01","currency":"LTC"}`, i)
		}
		code, b := e.do(method, path, key, body)
		ok := code >= 200 && code < 300
		if e.fault.fired.Load() {
			o.faultAnswer = code
			if ok || (code != 0 && code < 500) {
				t.Fatalf("fault at WAL write %d: %s %s hit by the fault answered %d: %s", target, method, path, code, b)
			}
			break // the process must stop here: see TestFaults_WriteAfterWALFailure
		}
		if !ok {
			t.Fatalf("no fault yet, %s %s answered %d: %s", method, path, code, b)
		}
		o.acked++
		var v struct {
			ID      string `json:"invoice_id"`
			OrderID string `json:"order_id"`
			Status  string `json:"status"`
		}
		_ = json.Unmarshal(b, &v)
		switch method {
		case "POST":
			if v.ID != "" {
				ackedInvoices[v.ID] = v.OrderID
				if v.Status == "new" {
					ids = append(ids, v.ID)
				}
			}
		case "PATCH":
			ackedPatches = append(ackedPatches, ackedPatch{v.ID, v.Status, fmt.Sprintf("c%d", i)})
			if patched[v.ID] = v.Status; v.Status == "archived" {
				ids = ids[:len(ids)-1]
			}
		}
	}
	o.fired = e.fault.fired.Load()
	clone := e.crash()

	s, err := persistence.Open("db", persistence.Options{FS: clone})
	if err != nil {
		t.Fatalf("fault at WAL write %d: reopen after power loss: %v", target, err)
	}
	defer s.Close()
	for id, order := range ackedInvoices {
		snap, _, events, err := s.Load(uuid.MustParse(id))
		inv, derr := engine.Replay(snap, events)
		if err != nil || derr != nil || inv.OrderID != order {
			t.Fatalf("fault at WAL write %d: acknowledged invoice %s (%s) lost: %v %v", target, id, order, err, derr)
		}
	}
	for _, p := range ackedPatches {
		raw, err := s.Events(uuid.MustParse(p.id), 0)
		if err != nil {
			t.Fatal(err)
		}
		found := slices.ContainsFunc(raw, func(b []byte) bool {
			e, err := engine.DecodeEvent(b)
			sc, ok := e.(engine.StatusChanged)
			return err == nil && ok && string(sc.To) == p.status && sc.Comment == p.comment
		})
		if !found {
			t.Fatalf("fault at WAL write %d: acknowledged PATCH of %s to %s lost", target, p.id, p.status)
		}
	}
	rep, err := maintenance.Check(s, maintenance.CheckConfig{})
	if err != nil || !rep.OK() {
		t.Fatalf("fault at WAL write %d: store after power loss: %v %v", target, err, rep.Problems)
	}
	return o
}

// TestFaults_WriteAfterWALFailure: once a WAL write failed, the process
// must not answer any further write except with a 5xx, or stop. Pebble
// expects to die here (Logger.Fatalf, panics in its commit path, some with
// its commit pipeline's mutex held); the invoice actors and the router's
// panic handler recover those panics instead, and the store goes on in an
// undefined state: the failed batch is applied in memory though it is not
// durable, so the next create can get a 409 (the deposit address the
// failed create released is claimed in memory), and in some interleavings
// later commits block forever on the commit pipeline's mutex.
//
// The store therefore hands a WAL failure to OnFatal, which in production
// ends the process (a supervisor restarts it from the durable WAL): this
// test checks that the failure is answered with a 5xx and reaches OnFatal.
func TestFaults_WriteAfterWALFailure(t *testing.T) {
	e := newFaultEnv(t, 0)
	var proj struct {
		APIKey string `json:"api_key"`
	}
	if code, b := e.do("POST", "/api/v1/projects", accountKey, `{"name":"shop"}`); code != 201 || json.Unmarshal(b, &proj) != nil {
		t.Fatalf("project: %d %s", code, b)
	}
	e.fault.armed.Store(true)
	client := &http.Client{Timeout: 3 * time.Second}
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/invoices", strings.NewReader(`{"order_id":"a","crypto_amount":"0.01","currency":"LTC"}`))
	req.Header.Set("Api-Key", proj.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("write on the WAL failure: %v (hung?)", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 500 {
		t.Fatalf("write on the WAL failure answered %d: %s", resp.StatusCode, b)
	}
	if !e.fatal.Load() {
		t.Fatal("the WAL failure did not reach OnFatal: the process would have kept serving")
	}
}
