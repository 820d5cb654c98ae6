package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invoiced/invoiced/view"
)

func TestCreateInvoice_FiatAndCrypto(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")

	fiat := e.invoice(key, `{"order_id":"o-1","fiat_amount":100,"fiat_currency":"EUR","currency":"BTC","order_name":"Shoes","callback_url":"https://shop.example/hook"}`)
	for field, want := range map[string]string{
		"crypto_amount": "0.00166667", "crypto_amount_in_units": "166667", "fiat_amount": "100",
		"actual_crypto_amount_paid_in_units": "0", "status": "new", "expire_min": "30", "order_name": "Shoes",
	} {
		if got := fmt.Sprint(fiat[field]); got != want {
			t.Errorf("fiat invoice %s = %s, want %s", field, got, want)
		}
	}
	bd := fiat["blockchain_details"].(map[string]any)
	addr, _ := bd["blockchainAddress"].(string)
	if !strings.HasPrefix(addr, "bcrt1q") || bd["payment_uri"] != "bitcoin:"+addr+"?amount=0.00166667" || fmt.Sprint(bd["required_confirmations"]) != "2" {
		t.Errorf("blockchain_details = %v", bd)
	}
	if rate := fiat["exchange_rate"].(map[string]any); rate["rate"] != "60000.00" || rate["source"] != "static" {
		t.Errorf("exchange_rate = %v", rate)
	}
	created, _ := time.Parse(time.RFC3339Nano, fiat["created_at"].(string))
	expires, _ := time.Parse(time.RFC3339Nano, fiat["expires_at"].(string))
	if expires.Sub(created) != 30*time.Minute {
		t.Errorf("expires_at - created_at = %s", expires.Sub(created))
	}

	eth := e.invoice(key, `{"order_id":"o-2","crypto_amount":"1.000000000000000001","currency":"ETH","expire_min":5,"allowed_error_percent":1}`)
	if eth["crypto_amount_in_units"].(json.Number) != "1000000000000000001" || eth["crypto_amount"].(json.Number) != "1.000000000000000001" {
		t.Errorf("eth amounts lost precision: %v %v", eth["crypto_amount"], eth["crypto_amount_in_units"])
	}
	if eth["fiat_amount"] != nil || fmt.Sprint(eth["expire_min"]) != "5" {
		t.Errorf("eth invoice = %v", eth)
	}
	otherAddr := eth["blockchain_details"].(map[string]any)["blockchainAddress"].(string)
	if !strings.HasPrefix(otherAddr, "0x") || otherAddr == addr {
		t.Errorf("eth address %q", otherAddr)
	}

	// Every create gets its own address.
	seen := map[string]bool{}
	for i := range 10 {
		inv := e.invoice(key, fmt.Sprintf(`{"order_id":"addr-%d","crypto_amount":"0.001","currency":"BTC"}`, i))
		a := inv["blockchain_details"].(map[string]any)["blockchainAddress"].(string)
		if seen[a] || a == addr {
			t.Fatalf("address %s handed out twice", a)
		}
		seen[a] = true
	}

	got := e.do("GET", "/api/v1/invoices/"+fiat["invoice_id"].(string), key, "")
	if got.status != http.StatusOK || got.json(t)["order_id"] != "o-1" {
		t.Fatalf("get: %d %s", got.status, got.body)
	}
}

func TestCreateInvoice_SameOrderIDSameBodyIsIdempotent(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")
	body := `{"order_id":"o-1","crypto_amount":"0.01","currency":"BTC"}`
	first := e.invoice(key, body)
	again := e.do("POST", "/api/v1/invoices", key, `{"currency":"BTC","crypto_amount":0.010,"order_id":"o-1"}`)
	if again.status != http.StatusOK || again.json(t)["invoice_id"] != first["invoice_id"] {
		t.Fatalf("retry: %d %s, want 200 with %s", again.status, again.body, first["invoice_id"])
	}
	diff := e.do("POST", "/api/v1/invoices", key, `{"order_id":"o-1","crypto_amount":"0.02","currency":"BTC"}`)
	if code, field := diff.errorField(t); diff.status != http.StatusConflict || code != "order_id_conflict" || field != "order_id" {
		t.Fatalf("different body: %d %s", diff.status, diff.body)
	}
	if n := e.total(key, ""); n != 1 {
		t.Fatalf("total = %d, want 1", n)
	}
}

func TestCreateInvoice_IdempotencyKey(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")
	first := e.do("POST", "/api/v1/invoices", key, `{"order_id":"a","crypto_amount":"0.01","currency":"BTC"}`, "Idempotency-Key", "req-1")
	again := e.do("POST", "/api/v1/invoices", key, `{"order_id":"a","crypto_amount":"0.01","currency":"BTC"}`, "Idempotency-Key", "req-1")
	if first.status != 201 || again.status != 200 || first.json(t)["invoice_id"] != again.json(t)["invoice_id"] {
		t.Fatalf("replay: %d then %d", first.status, again.status)
	}
	other := e.do("POST", "/api/v1/invoices", key, `{"order_id":"b","crypto_amount":"0.01","currency":"BTC"}`, "Idempotency-Key", "req-1")
	if code, _ := other.errorField(t); other.status != http.StatusConflict || code != "idempotency_conflict" {
		t.Fatalf("reused key, other body: %d %s", other.status, other.body)
	}
	bad := e.do("POST", "/api/v1/invoices", key, `{"order_id":"c","crypto_amount":"0.01","currency":"BTC"}`, "Idempotency-Key", "has space")
	if _, field := bad.errorField(t); bad.status != 422 || field != "Idempotency-Key" {
		t.Fatalf("bad key: %d %s", bad.status, bad.body)
	}
}

func TestCreateInvoice_ConcurrentSameOrderID(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")
	for _, sameBody := range []bool{true, false} {
		orderID := fmt.Sprintf("race-%v", sameBody)
		var wg sync.WaitGroup
		statuses := make([]int, 20)
		ids := make([]string, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				amount := "0.01"
				if !sameBody {
					amount = fmt.Sprintf("0.%d", 100+i) // distinct values
				}
				r := e.do("POST", "/api/v1/invoices", key, fmt.Sprintf(`{"order_id":%q,"crypto_amount":%q,"currency":"BTC"}`, orderID, amount))
				statuses[i] = r.status
				if r.status < 300 {
					ids[i] = r.json(t)["invoice_id"].(string)
				}
			}()
		}
		wg.Wait()
		created, other := 0, 0
		var id string
		for i, s := range statuses {
			switch {
			case s == http.StatusCreated:
				created++
				id = ids[i]
			case sameBody && s == http.StatusOK, !sameBody && s == http.StatusConflict:
				other++
			default:
				t.Errorf("sameBody=%v: unexpected status %d", sameBody, s)
			}
		}
		if created != 1 || other != 19 {
			t.Fatalf("sameBody=%v: %d created, %d others; want exactly one invoice", sameBody, created, other)
		}
		for i, s := range statuses {
			if s == http.StatusOK && ids[i] != id {
				t.Fatalf("retry returned %s, the invoice is %s", ids[i], id)
			}
		}
	}
	if n := e.total(key, ""); n != 2 {
		t.Fatalf("total = %d, want 2", n)
	}
}

func TestPatchInvoice_Transitions(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")
	inv := e.invoice(key, `{"order_id":"o","crypto_amount":"0.01","currency":"BTC"}`)
	path := "/api/v1/invoices/" + inv["invoice_id"].(string)

	bad := e.do("PATCH", path, key, `{"status":"completed"}`)
	if bad.status != http.StatusConflict {
		t.Fatalf("new -> completed: %d %s", bad.status, bad.body)
	}
	if allowed := bad.json(t)["allowed"].([]any); len(allowed) != 1 || allowed[0] != "cancelled" {
		t.Fatalf("allowed targets = %v, want [cancelled]", allowed)
	}
	ok := e.do("PATCH", path, key, `{"status":"cancelled","comment":"customer left"}`)
	if ok.status != http.StatusOK || ok.json(t)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", ok.status, ok.body)
	}
	arch := e.do("PATCH", path, key, `{"status":"archived"}`)
	if arch.status != http.StatusOK || arch.json(t)["status"] != "archived" {
		t.Fatalf("archive: %d %s", arch.status, arch.body)
	}
	final := e.do("PATCH", path, key, `{"status":"cancelled"}`)
	if final.status != http.StatusConflict {
		t.Fatalf("archived -> cancelled: %d", final.status)
	}
	unknown := e.do("PATCH", path, key, `{"status":"paid"}`)
	if _, field := unknown.errorField(t); unknown.status != 422 || field != "status" {
		t.Fatalf("unknown status: %d %s", unknown.status, unknown.body)
	}
	missing := e.do("PATCH", path, key, `{"comment":"x"}`)
	if _, field := missing.errorField(t); missing.status != 422 || field != "status" {
		t.Fatalf("missing status: %d %s", missing.status, missing.body)
	}
	if e.total(key, "status=archived") != 1 || e.total(key, "status=new") != 0 || e.total(key, "status=cancelled") != 0 {
		t.Fatal("status indexes did not follow the transitions")
	}
}

func TestCreateArchived(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")
	r := e.do("POST", "/api/v1/archived", key, `{"order_id":"historical-order-123","fiat_amount":100,"fiat_currency":"EUR","currency":"BTC","order_name":"Historical Order","created_at":"2023-01-01T10:00:00Z"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("archived: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if m["status"] != "archived" || m["created_at"] != "2023-01-01T10:00:00Z" || m["expires_at"] != "2023-01-01T10:00:00Z" || len(m["blockchain_details"].(map[string]any)) != 0 {
		t.Fatalf("archived invoice = %s", r.body)
	}
	for _, tc := range []struct{ body, field string }{
		{`{"order_id":"f","crypto_amount":1,"currency":"BTC","created_at":"2999-01-01"}`, "created_at"},
		{`{"order_id":"g","crypto_amount":1,"currency":"BTC","created_at":"yesterday"}`, "created_at"},
	} {
		if r := e.do("POST", "/api/v1/archived", key, tc.body); r.status != 422 {
			t.Errorf("%s: %d", tc.body, r.status)
		} else if _, f := r.errorField(t); f != tc.field {
			t.Errorf("%s: field %s", tc.body, f)
		}
	}
	if r := e.do("POST", "/api/v1/archived", key, `{"order_id":"h","crypto_amount":1,"currency":"BTC","expire_min":5}`); r.status != 400 {
		t.Errorf("expire_min on archived: %d", r.status)
	}
}

func TestListInvoices_FiltersSortsAndPages(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")
	amounts := []string{"0.003", "0.001", "0.004", "0.002", "0.005"}
	var ids []string
	for i, a := range amounts {
		ids = append(ids, e.invoice(key, fmt.Sprintf(`{"order_id":"b-%d","crypto_amount":%q,"currency":"BTC"}`, i, a))["invoice_id"].(string))
	}
	e.invoice(key, `{"order_id":"e-1","crypto_amount":"0.0035","currency":"ETH"}`)
	e.do("PATCH", "/api/v1/invoices/"+ids[0], key, `{"status":"cancelled"}`)

	list := func(q string) ([]string, map[string]any) {
		r := e.do("GET", "/api/v1/invoices?"+q, key, "")
		if r.status != 200 {
			t.Fatalf("list %s: %d %s", q, r.status, r.body)
		}
		m := r.json(t)
		var got []string
		for _, it := range m["items"].([]any) {
			got = append(got, it.(map[string]any)["order_id"].(string))
		}
		return got, m["pagination"].(map[string]any)
	}
	tests := []struct {
		query string
		want  string
		total string
	}{
		{"", "e-1 b-4 b-3 b-2 b-1 b-0", "6"}, // default: created_at desc
		{"sort_order=asc", "b-0 b-1 b-2 b-3 b-4 e-1", "6"},
		{"sort_by=crypto_amount&sort_order=asc", "b-1 b-3 b-0 e-1 b-2 b-4", "6"},
		{"currency=BTC&sort_by=crypto_amount&sort_order=desc", "b-4 b-2 b-0 b-3 b-1", "5"},
		{"status=cancelled", "b-0", "1"},
		{"status=new&currency=btc&sort_by=crypto_amount&sort_order=asc&page=2&page_size=2", "b-2 b-4", "4"},
		{"sort_by=updated_at&page_size=1", "b-0", "6"},
		{"page=9", "", "6"},
	}
	for _, tt := range tests {
		got, pg := list(tt.query)
		if strings.Join(got, " ") != tt.want || fmt.Sprint(pg["total_records"]) != tt.total {
			t.Errorf("list %q = %v (total %v), want %s (total %s)", tt.query, got, pg["total_records"], tt.want, tt.total)
		}
	}
	// The pagination on every kind of page: first, middle, last, past the
	// end, an empty list, and page_size at its bounds.
	pages := []struct {
		query string
		items int
		want  string // current_page page_size total_pages total_records has_next has_previous
	}{
		{"page_size=1", 1, "1 1 6 6 true false"},
		{"page_size=1&page=3", 1, "3 1 6 6 true true"},
		{"page_size=1&page=6", 1, "6 1 6 6 false true"},
		{"page_size=1&page=7", 0, "7 1 6 6 false true"},
		{"page_size=4&page=2", 2, "2 4 2 6 false true"},
		{"page_size=100", 6, "1 100 1 6 false false"},
		{"page=9", 0, "9 20 1 6 false true"},
		{"status=archived", 0, "1 20 0 0 false false"},
		{"status=archived&page=3", 0, "3 20 0 0 false false"},
		{"page_size=6", 6, "1 6 1 6 false false"},
		{"page_size=5&page=2", 1, "2 5 2 6 false true"},
	}
	for _, tt := range pages {
		got, pg := list(tt.query)
		desc := strings.TrimSpace(fmt.Sprintln(pg["current_page"], pg["page_size"], pg["total_pages"], pg["total_records"], pg["has_next"], pg["has_previous"]))
		if len(got) != tt.items || desc != tt.want || len(pg) != 6 {
			t.Errorf("list %q: %d items, pagination %v; want %d items, %s", tt.query, len(got), pg, tt.items, tt.want)
		}
	}
	// The hand-built list body is exactly what json.Marshal writes for the
	// documented shape.
	r := e.do("GET", "/api/v1/invoices?page_size=4", key, "")
	var doc struct {
		Items      []view.Invoice `json:"items"`
		Pagination struct {
			CurrentPage  int  `json:"current_page"`
			PageSize     int  `json:"page_size"`
			TotalPages   int  `json:"total_pages"`
			TotalRecords int  `json:"total_records"`
			HasNext      bool `json:"has_next"`
			HasPrevious  bool `json:"has_previous"`
		} `json:"pagination"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if want, _ := json.Marshal(doc); !bytes.Equal(r.body, append(want, '\n')) || len(doc.Items) != 4 {
		t.Errorf("list body is not json.Marshal's encoding of its shape:\n got %s\nwant %s", r.body, want)
	}

	created := func(id string) string {
		return e.do("GET", "/api/v1/invoices/"+id, key, "").json(t)["created_at"].(string)
	}
	got, _ := list("created_after=" + created(ids[1]) + "&created_before=" + created(ids[4]) + "&sort_order=asc")
	if strings.Join(got, " ") != "b-2 b-3" {
		t.Errorf("created range = %v, want b-2 b-3", got)
	}

	for _, q := range []string{"status=paid", "currency=DOGE", "page=0", "page=x", "page_size=0", "page_size=101", "sort_by=name", "sort_order=up", "created_after=yesterday"} {
		r := e.do("GET", "/api/v1/invoices?"+q, key, "")
		param := strings.SplitN(q, "=", 2)[0]
		if _, field := r.errorField(t); r.status != 422 || field != param {
			t.Errorf("list %s: %d %s, want 422 naming %s", q, r.status, r.body, param)
		}
	}
}
