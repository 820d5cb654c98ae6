package maintenance_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
	"github.com/invoiced/invoiced/server"
)

const accountKey = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"

func call(t *testing.T, srv *server.Server, method, path, key, body string, out any) int {
	t.Helper()
	status, b := apitest.Call(t, "http://"+srv.Addr, method, path, key, body)
	if out != nil && status < 300 {
		apitest.Decode(t, b, out)
	}
	return status
}

// poll is the server's chain poll and expiry interval.
const poll = 10 * time.Millisecond

// populate runs a real server over dir and takes invoices through every
// kind of change: created, paid in part and in full, confirmed,
// reorganised, cancelled, expired, archived.
func populate(t *testing.T, dir string) *clock.Test {
	clock := clock.NewTest(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	srv, err := server.Start(server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Mode: "dev", BootstrapAccountKey: accountKey,
		ChainPoll: poll, ExpiryInterval: poll, Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	running := true
	t.Cleanup(func() {
		if running {
			_ = srv.Shutdown(context.Background())
		}
	})
	var p struct {
		APIKey string `json:"api_key"`
	}
	if code := call(t, srv, "POST", "/api/v1/projects", accountKey, `{"name":"shop"}`, &p); code != 201 {
		t.Fatalf("project: %d", code)
	}
	type inv struct {
		ID     string `json:"invoice_id"`
		Status string `json:"status"`
		BD     struct {
			Address string `json:"blockchainAddress"`
		} `json:"blockchain_details"`
	}
	var invs []inv
	for i := range 12 {
		var v inv
		body := fmt.Sprintf(`{"order_id":"o%d","crypto_amount":"0.01","currency":"%s","expire_min":%d}`, i, []string{"BTC", "LTC", "ETH"}[i%3], 10+i)
		if i%4 == 3 {
			body = fmt.Sprintf(`{"order_id":"o%d","fiat_amount":"25.50","currency":"BTC","expire_min":12}`, i)
		}
		if code := call(t, srv, "POST", "/api/v1/invoices", p.APIKey, body, &v); code != 201 {
			t.Fatalf("create %d: %d", i, code)
		}
		invs = append(invs, v)
	}
	if code := call(t, srv, "POST", "/api/v1/archived", p.APIKey, `{"order_id":"old","crypto_amount":"1","currency":"BTC","created_at":"2024-01-02"}`, nil); code != 201 {
		t.Fatalf("archived: %d", code)
	}
	pay := func(i int, amount string) string {
		cur := []string{"BTC", "LTC", "ETH"}[i%3]
		units, _ := engine.ParseDecimal(amount, map[string]int{"BTC": 8, "LTC": 8, "ETH": 18}[cur])
		txid, err := srv.DevChain(cur).Pay(invs[i].BD.Address, units.Big(), devchain.PayOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return txid
	}
	pay(0, "0.01")
	pay(1, "0.004")
	pay(2, "0.02")
	tx := pay(4, "0.01")
	awaitStatus(t, srv, clock, 0, p.APIKey, invs[0].ID, "pending")
	awaitStatus(t, srv, clock, 0, p.APIKey, invs[1].ID, "paid_partial")
	for _, c := range []string{"BTC", "LTC", "ETH"} {
		if _, err := srv.DevChain(c).Mine(1); err != nil {
			t.Fatal(err)
		}
	}
	awaitStatus(t, srv, clock, 0, p.APIKey, invs[0].ID, "completed")
	awaitStatus(t, srv, clock, 0, p.APIKey, invs[4].ID, "completed")
	if err := srv.DevChain("LTC").Disconnect(1); err != nil {
		t.Fatal(err)
	}
	if err := srv.DevChain("LTC").Drop(tx); err != nil {
		t.Fatal(err)
	}
	// Reverted on the second poll that misses it.
	awaitStatus(t, srv, clock, time.Second, p.APIKey, invs[4].ID, "new")
	call(t, srv, "PATCH", "/api/v1/invoices/"+invs[5].ID, p.APIKey, `{"status":"cancelled","comment":"left"}`, nil)
	call(t, srv, "PATCH", "/api/v1/invoices/"+invs[0].ID, p.APIKey, `{"status":"archived"}`, nil)
	clock.Add(15 * time.Minute)
	// A scan expires at most its interval's worth; none of the rest is
	// due within the second this lets pass.
	awaitStatus(t, srv, clock, time.Second, p.APIKey, invs[3].ID, "expired")
	awaitStatus(t, srv, clock, time.Second, p.APIKey, invs[1].ID, "expired")
	running = false
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return clock
}

// awaitStatus polls the invoice until it has status, letting up to within
// of clock time pass a 10 ms poll and scan at a time (0: the change must
// come from the dev chains' wake-ups).
func awaitStatus(t *testing.T, srv *server.Server, clk *clock.Test, within time.Duration, key, id, status string) {
	t.Helper()
	err := apitest.Drive(clk, poll, within, func() error {
		var v struct {
			Status string `json:"status"`
		}
		if call(t, srv, "GET", "/api/v1/invoices/"+id, key, "", &v); v.Status != status {
			return fmt.Errorf("invoice %s is %s, want %s", id, v.Status, status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheck_StoreWrittenByTheServerIsConsistent(t *testing.T) {
	dir := t.TempDir()
	clock := populate(t, dir)
	s, err := persistence.Open(filepath.Join(dir, "store"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := maintenance.Check(s, maintenance.CheckConfig{Now: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("problems in a store the server wrote: %v", rep.Problems)
	}
	if rep.Streams != 13 || rep.IndexKeys != 10*13 || rep.Watches == 0 || rep.Expiries == 0 || rep.Claims == 0 {
		t.Fatalf("not everything was checked: %+v", rep)
	}
}

// TestCheck_RepairsDamageFromTheEventLog throws away every derived record
// (list indexes, created counters, expiry schedule, watch list) and a snapshot,
// and rebuilds them all from the events.
func TestCheck_RepairsDamageFromTheEventLog(t *testing.T) {
	dir := t.TempDir()
	clock := populate(t, dir)
	s, err := persistence.Open(filepath.Join(dir, "store"), persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	for _, prefix := range []byte{0x04, 0x0A, 0x0B, 0x12} { // indexes, expiries, watches, counters
		if err := db.DeleteRange([]byte{prefix}, []byte{prefix + 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// A snapshot that says something its events do not.
	_, total, err := s.List(persistence.Query{})
	if err != nil || total != 0 {
		t.Fatalf("indexes not gone: %d %v", total, err)
	}
	var victim uuid.UUID
	rep, err := maintenance.Check(s, maintenance.CheckConfig{Now: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Invoice != uuid.Nil {
			victim = p.Invoice
			break
		}
	}
	// Most invoices have no snapshot yet (one is written every 8
	// versions): give the victim one at its head that its events deny.
	snap, _, events, err := s.Load(victim)
	if err != nil {
		t.Fatal(err)
	}
	var inv engine.Invoice
	if snap != nil {
		if inv, err = engine.DecodeSnapshot(snap); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range events {
		e, err := engine.DecodeEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		inv = engine.Apply(inv, e)
	}
	inv.OrderName = "tampered"
	bad := engine.EncodeSnapshot(inv)
	key := append(append([]byte{0x01}, victim[:]...), 0x02)
	if err := db.Set(key, append(binaryVersion(inv.Version), bad...), nil); err != nil {
		t.Fatal(err)
	}

	rep, err = maintenance.Check(s, maintenance.CheckConfig{Now: clock.Now(), Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	if kinds["index"] == 0 || kinds["counter"] == 0 || kinds["expiry"] == 0 || kinds["watch"] == 0 || kinds["snapshot"] != 1 {
		t.Fatalf("damage not found: %v\n%v", kinds, rep.Problems)
	}
	if after, err := maintenance.Check(s, maintenance.CheckConfig{Now: clock.Now()}); err != nil || !after.OK() {
		t.Fatalf("after repair: %v %v", err, after.Problems)
	}
	snap, _, _ = s.Snapshot(victim)
	if inv, _ := engine.DecodeSnapshot(snap); inv.OrderName == "tampered" {
		t.Fatal("snapshot not rebuilt from the events")
	}
	t.Logf("repaired %d keys: %v", rep.Repaired, kinds)
}

func binaryVersion(v uint64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[7-i] = byte(v >> (8 * i))
	}
	return b
}
