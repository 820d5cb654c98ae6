package httpapi_test

import (
	"strings"
	"testing"
)

// TestMetrics_CountedByRouteAndCode checks the series each request lands
// in: the route's pattern, never the raw path, with one counter per status
// code the route answered, and "unmatched" for paths no route serves.
func TestMetrics_CountedByRouteAndCode(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{metrics: true})
	_, key := e.project("a", "")
	inv := e.invoice(key, `{"order_id":"m-1","crypto_amount":"0.001","currency":"BTC"}`)
	path := "/api/v1/invoices/" + inv["invoice_id"].(string)
	for range 2 {
		if r := e.do("GET", path, key, ""); r.status != 200 {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/invoices/00000000-0000-4000-8000-000000000000", key, ""); r.status != 404 {
		t.Fatalf("unknown invoice: %d", r.status)
	}
	if r := e.do("GET", "/nowhere", key, ""); r.status != 404 {
		t.Fatalf("unknown path: %d", r.status)
	}
	body := string(e.do("GET", "/metrics", "", "").body)
	for _, want := range []string{
		`invoiced_http_requests_total{code="201",method="POST",route="/api/v1/invoices"} 1`,
		`invoiced_http_requests_total{code="200",method="GET",route="/api/v1/invoices/:invoice_id"} 2`,
		`invoiced_http_requests_total{code="404",method="GET",route="/api/v1/invoices/:invoice_id"} 1`,
		`invoiced_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`invoiced_http_request_duration_seconds_count{method="GET",route="/api/v1/invoices/:invoice_id"} 3`,
		`invoiced_http_request_duration_seconds_count{method="GET",route="unmatched"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}
