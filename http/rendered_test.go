package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/view"
)

// TestReads_NeverShowAnOlderVersion: after each kind of commit, a GET and
// every list page holding the invoice answer exactly the JSON of the state
// the store holds, although the reads before the commit left the previous
// version's JSON in the render cache.
func TestReads_NeverShowAnOlderVersion(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	projectID, key := e.project("shop", "")
	owner := e.accounts.Owner(uuid.MustParse(projectID))
	ctx := context.Background()
	at := time.Now()
	var id uuid.UUID
	apply := func(cmd engine.Command) func(t *testing.T) {
		return func(t *testing.T) {
			if _, err := e.registry.Apply(ctx, id, cmd); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, step := range []struct {
		name   string
		change func(t *testing.T)
	}{
		{"create", func(t *testing.T) {
			id = uuid.MustParse(e.invoice(key, `{"order_id":"o-1","crypto_amount":"0.01","currency":"BTC"}`)["invoice_id"].(string))
		}},
		{"payment seen", apply(engine.ObservePayment{TxID: "t1", Amount: engine.NewUnits(400_000), At: at})},
		{"payment confirmed", apply(engine.ObservePayment{TxID: "t1", Amount: engine.NewUnits(400_000), At: at, Height: 100, BlockHash: "b100", Confirmations: 1})},
		{"status change (expiry)", apply(engine.Expire{At: at.Add(48 * time.Hour)})},
		{"PATCH", func(t *testing.T) {
			if r := e.do("PATCH", "/api/v1/invoices/"+id.String(), key, `{"status":"archived"}`); r.status != http.StatusOK {
				t.Fatalf("PATCH: %d %s", r.status, r.body)
			}
		}},
	} {
		var before uint64
		if id != uuid.Nil {
			prev, err := invoice.Load(e.store, id)
			if err != nil {
				t.Fatal(err)
			}
			before = prev.Version
		}
		step.change(t)
		inv, err := invoice.Load(e.store, id)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Version <= before {
			t.Fatalf("%s committed nothing (version %d)", step.name, inv.Version)
		}
		v := view.FromInvoice(inv, owner, engine.DefaultRules().Currencies, "")
		want := v.AppendJSON(nil)
		for range 2 { // the second read of each is served from the render cache
			if r := e.do("GET", "/api/v1/invoices/"+id.String(), key, ""); r.status != http.StatusOK || !bytes.Equal(bytes.TrimSpace(r.body), want) {
				t.Fatalf("after %s (version %d), GET: %d\n%s\nwant\n%s", step.name, inv.Version, r.status, r.body, want)
			}
			for _, q := range []string{"", "sort_by=updated_at&sort_order=asc", "status=" + string(inv.Status), "currency=BTC&sort_by=crypto_amount"} {
				r := e.do("GET", "/api/v1/invoices?"+q, key, "")
				var page struct{ Items []json.RawMessage }
				if err := json.Unmarshal(r.body, &page); err != nil || r.status != http.StatusOK || len(page.Items) != 1 || !bytes.Equal(page.Items[0], want) {
					t.Fatalf("after %s (version %d), list %q: %d %s\nwant the item\n%s", step.name, inv.Version, q, r.status, r.body, want)
				}
			}
		}
	}
}
