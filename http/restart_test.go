package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestRestart_KeepsInvoicesIndexesAndCounters(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, envOpts{})
	_, key := e.project("shop", "")
	addresses := map[string]bool{}
	var ids []string
	for i := range 6 {
		cur := []string{"BTC", "ETH"}[i%2]
		inv := e.invoice(key, fmt.Sprintf(`{"order_id":"o-%d","crypto_amount":"0.0%d","currency":%q}`, i, i+1, cur))
		ids = append(ids, inv["invoice_id"].(string))
		addresses[inv["blockchain_details"].(map[string]any)["blockchainAddress"].(string)] = true
	}
	for _, id := range ids[:2] {
		if r := e.do("PATCH", "/api/v1/invoices/"+id, key, `{"status":"cancelled"}`); r.status != 200 {
			t.Fatalf("cancel: %d", r.status)
		}
	}
	before := e.do("GET", "/api/v1/invoices/"+ids[0], key, "").body
	e.close()

	e2 := newEnv(t, dir, envOpts{})
	if got := e2.do("GET", "/api/v1/invoices/"+ids[0], key, ""); got.status != 200 || string(got.body) != string(before) {
		t.Fatalf("after restart: %d\n%s\nwant\n%s", got.status, got.body, before)
	}
	for query, want := range map[string]int{"": 6, "status=cancelled": 2, "status=new": 4, "currency=ETH": 3, "status=new&currency=BTC": 2} {
		if n := e2.total(key, query); n != want {
			t.Errorf("after restart total(%q) = %d, want %d", query, n, want)
		}
	}
	// order_id uniqueness survives the restart.
	if r := e2.do("POST", "/api/v1/invoices", key, `{"order_id":"o-0","crypto_amount":"0.01","currency":"BTC"}`); r.status != http.StatusOK {
		t.Errorf("same order_id, same body after restart: %d", r.status)
	}
	if r := e2.do("POST", "/api/v1/invoices", key, `{"order_id":"o-0","crypto_amount":"0.5","currency":"BTC"}`); r.status != http.StatusConflict {
		t.Errorf("same order_id, other body after restart: %d", r.status)
	}
	// No address is handed out again after a restart.
	for i := range 4 {
		cur := []string{"BTC", "ETH"}[i%2]
		inv := e2.invoice(key, fmt.Sprintf(`{"order_id":"n-%d","crypto_amount":"0.01","currency":%q}`, i, cur))
		a := inv["blockchain_details"].(map[string]any)["blockchainAddress"].(string)
		if addresses[a] {
			t.Fatalf("address %s reused after restart", a)
		}
		addresses[a] = true
	}
	// A restarted invoice accepts further changes (its actor reactivates from the snapshot).
	if r := e2.do("PATCH", "/api/v1/invoices/"+ids[0], key, `{"status":"archived"}`); r.status != 200 {
		t.Fatalf("patch after restart: %d %s", r.status, r.body)
	}
}

func TestActors_PassivateAndReactivate(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{idleTimeout: 20 * time.Millisecond})
	_, key := e.project("shop", "")
	inv := e.invoice(key, `{"order_id":"o","crypto_amount":"0.01","currency":"BTC"}`)
	path := "/api/v1/invoices/" + inv["invoice_id"].(string)

	waitPassivated := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for e.registry.LiveActors() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d invoice actors still live after the idle timeout", e.registry.LiveActors())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitPassivated()
	if r := e.do("PATCH", path, key, `{"status":"cancelled","comment":"first"}`); r.status != 200 {
		t.Fatalf("patch after passivation: %d %s", r.status, r.body)
	}
	waitPassivated()
	// The reactivated actor must know the cancel: cancelled -> cancelled is refused, -> archived allowed.
	if r := e.do("PATCH", path, key, `{"status":"cancelled"}`); r.status != http.StatusConflict {
		t.Fatalf("second cancel: %d, want 409 from the restored state", r.status)
	}
	if r := e.do("PATCH", path, key, `{"status":"archived"}`); r.status != 200 || r.json(t)["status"] != "archived" {
		t.Fatalf("archive: %d %s", r.status, r.body)
	}
}
