package checkout_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestPage_SmokeAndHeaders(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o-1","currency":"BTC","fiat_amount":"100","order_name":"<script>alert(1)</script> Shoes","redirect_url":"https://shop.example/thanks"}`)
	if inv.CheckoutURL != h.base+"/i/"+inv.ID || inv.Details.QRCode != inv.CheckoutURL+"/qr.png" {
		t.Fatalf("checkout_url %q, qrcode %q", inv.CheckoutURL, inv.Details.QRCode)
	}
	resp, body := h.get("/i/" + inv.ID)
	t.Log(body)
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Errorf("order_name not escaped")
	}
	var st struct{ State, HTML string }
	_, b := h.get("/i/" + inv.ID + "/status")
	if err := json.Unmarshal([]byte(b), &st); err != nil || st.State != "waiting" {
		t.Fatalf("status: %v %s", err, b)
	}
	_ = http.StatusOK
}
