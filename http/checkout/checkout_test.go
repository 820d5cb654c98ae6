package checkout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invoiced/invoiced/server"
)

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *"

func checkHeaders(t *testing.T, path string, resp *http.Response) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy": wantCSP,
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s: %s %q, want %q", path, name, got, want)
		}
	}
}

// TestPublicRoutes_HeadersAndNotFound: every public response carries the
// security headers, and unknown, malformed and archived invoices get the
// same 404 on every route.
func TestPublicRoutes_HeadersAndNotFound(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o-1","currency":"BTC","crypto_amount":"0.001"}`)
	cancelled := h.create(`{"order_id":"o-2","currency":"BTC","crypto_amount":"0.001"}`)
	h.call("PATCH", "/api/v1/invoices/"+cancelled.ID, h.key, `{"status":"cancelled"}`, 200, nil)
	h.call("PATCH", "/api/v1/invoices/"+cancelled.ID, h.key, `{"status":"archived"}`, 200, nil)
	var archived invoice
	h.call("POST", "/api/v1/archived", h.key, `{"order_id":"o-3","currency":"BTC","crypto_amount":"0.001"}`, 201, &archived)
	for _, path := range []string{"", "/qr.png", "/qr.svg", "/status", "/events"} {
		var first string
		for i, id := range []string{"01a23a7e-0845-7d79-bc66-bb8229546d18", "not-a-uuid", archived.ID, cancelled.ID} {
			resp, body := h.get("/i/" + id + path)
			checkHeaders(t, "/i/"+id+path, resp)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("/i/%s%s: %d, want 404", id, path, resp.StatusCode)
			}
			if i == 0 {
				first = body
			} else if body != first {
				t.Errorf("/i/%s%s answers differently from an unknown id:\n%s\n%s", id, path, body, first)
			}
		}
	}
	for _, path := range []string{"/i/" + inv.ID, "/i/" + inv.ID + "/qr.png", "/i/" + inv.ID + "/qr.svg", "/i/" + inv.ID + "/status", "/checkout/assets/checkout.css", "/checkout/assets/checkout.js"} {
		resp, _ := h.get(path)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		checkHeaders(t, path, resp)
	}
	// The page and its status name nothing a customer should not see.
	secret := h.create(`{"order_id":"o-4","currency":"BTC","crypto_amount":"0.001","callback_url":"https://shop.example/hook-secret-path"}`)
	for _, path := range []string{"/i/" + secret.ID, "/i/" + secret.ID + "/status"} {
		_, body := h.get(path)
		if strings.Contains(body, "hook-secret-path") || strings.Contains(body, h.key) {
			t.Errorf("%s shows the callback URL or the key", path)
		}
	}
}

// TestPage_EscapesMerchantText: order_name, order_id and the project name
// are HTML-escaped inside <bdi>, on the page and in the live status.
func TestPage_EscapesMerchantText(t *testing.T) {
	h := newHarness(t)
	var p struct {
		APIKey string `json:"api_key"`
	}
	h.call("POST", "/api/v1/projects", accountKey, `{"name":"<i>Shop</i>"}`, 201, &p)
	h.key = p.APIKey
	inv := h.create(`{"order_id":"<b>o</b>","currency":"BTC","crypto_amount":"0.001","order_name":"<script>alert(1)</script>\"'&"}`)
	_, page := h.get("/i/" + inv.ID)
	_, status := h.get("/i/" + inv.ID + "/status")
	var st struct{ HTML string }
	if err := json.Unmarshal([]byte(status), &st); err != nil {
		t.Fatal(err)
	}
	for what, body := range map[string]string{"page": page, "status": st.HTML} {
		for _, raw := range []string{"<script>alert", "<b>o</b>", "<i>Shop"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s contains merchant markup %q unescaped", what, raw)
			}
		}
	}
	for _, want := range []string{"<h1><bdi>&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;</bdi></h1>", "<bdi>&lt;i&gt;Shop&lt;/i&gt;</bdi>", "<bdi class=\"mono\">&lt;b&gt;o&lt;/b&gt;</bdi>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

// TestPage_Language: Accept-Language picks German, ?lang= overrides it,
// and anything else is English.
func TestPage_Language(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001"}`)
	for _, tc := range []struct{ query, accept, lang, text string }{
		{"", "de-DE,de;q=0.9,en;q=0.5", "de", "Warten auf Ihre Zahlung"},
		{"?lang=en", "de-DE", "en", "Waiting for your payment"},
		{"?lang=de", "", "de", "Warten auf Ihre Zahlung"},
		{"?lang=xx", "fr-FR", "en", "Waiting for your payment"},
		{"", "", "en", "Waiting for your payment"},
	} {
		_, body := h.get("/i/"+inv.ID+tc.query, "Accept-Language", tc.accept)
		if !strings.Contains(body, `<html lang="`+tc.lang+`">`) || !strings.Contains(body, tc.text) {
			t.Errorf("query %q, Accept-Language %q: want lang %s with %q", tc.query, tc.accept, tc.lang, tc.text)
		}
	}
}

// TestQRCode_DecodesToThePaymentURI: both image routes encode the payment
// URI; the PNG reads back to it and may be cached.
func TestQRCode_DecodesToThePaymentURI(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o","currency":"ETH","crypto_amount":"0.05"}`)
	if got := decodeQR(t, inv.Details.QRCode); got != inv.Details.PaymentURI {
		t.Fatalf("QR code reads %q, want %q", got, inv.Details.PaymentURI)
	}
	resp, body := h.get("/i/" + inv.ID + "/qr.svg")
	if resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(body, "<svg ") || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("qr.svg: %s, %s, %.40s", resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), body)
	}
}

// TestEvents_FollowsThePaymentAndCloses: the stream sends the current
// state, then each change, and ends once the invoice is final.
func TestEvents_FollowsThePaymentAndCloses(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001"}`)
	s, status := h.stream(inv.ID)
	if status != 200 || s.resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", status, s.resp.Header.Get("Content-Type"))
	}
	checkHeaders(t, "events", s.resp)
	state := func() string {
		var v struct {
			State string
			Final bool
		}
		if err := json.Unmarshal([]byte(s.next(t)), &v); err != nil {
			t.Fatal(err)
		}
		return v.State
	}
	if got := state(); got != "waiting" {
		t.Fatalf("first event %q, want waiting", got)
	}
	if _, metrics := h.get("/metrics"); !strings.Contains(metrics, "\ninvoiced_checkout_streams 1\n") {
		t.Errorf("/metrics does not count the open stream")
	}
	h.pay(inv, "0.001")
	if got := state(); got != "seen" {
		t.Fatalf("after paying: %q, want seen", got)
	}
	h.mine()
	if got := state(); got != "completed" {
		t.Fatalf("after a block: %q, want completed", got)
	}
	if rest, err := io.ReadAll(s.r); err != nil || strings.Contains(string(rest), "event:") {
		t.Fatalf("stream went on after the final state: %q, %v", rest, err)
	}
}

// TestEvents_CapsAreServerSettings: the stream caps are the server's
// CheckoutMaxStreams and CheckoutMaxStreamsPerIP (the command line's
// INVOICED_CHECKOUT_MAX_STREAMS and _PER_IP), not the defaults: with
// either at 2 a third stream is refused, past the client's cap with a 429,
// past the total with a 503, each in the API's error shape.
func TestEvents_CapsAreServerSettings(t *testing.T) {
	for _, tc := range []struct {
		name         string
		total, perIP int
		status       int
		code         string
	}{
		{"per client", 0, 2, http.StatusTooManyRequests, "too_many_streams"},
		{"in total", 2, 0, http.StatusServiceUnavailable, "streams_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, func(c *server.Config) { c.CheckoutMaxStreams, c.CheckoutMaxStreamsPerIP = tc.total, tc.perIP })
			inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001"}`)
			for i := range 2 {
				s, status := h.stream(inv.ID)
				if status != 200 {
					t.Fatalf("stream %d: %d", i+1, status)
				}
				s.next(t)
			}
			s, status := h.stream(inv.ID)
			if status == 200 {
				t.Fatalf("third stream open, want %d %s", tc.status, tc.code)
			}
			body, _ := io.ReadAll(s.r)
			var e map[string]any
			if status != tc.status || s.resp.Header.Get("Retry-After") == "" || json.Unmarshal(body, &e) != nil || e["error"] != tc.code {
				t.Fatalf("third stream: %d %s (Retry-After %q), want %d %s", status, body, s.resp.Header.Get("Retry-After"), tc.status, tc.code)
			}
		})
	}
}

// TestEvents_CapPerClient: a client IP gets at most 8 streams at once; the
// ninth is a 429 in the API's error shape, and a slot frees when a stream
// ends.
func TestEvents_CapPerClient(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001"}`)
	var open []*stream
	for i := range 8 {
		s, status := h.stream(inv.ID)
		if status != 200 {
			t.Fatalf("stream %d: %d", i+1, status)
		}
		s.next(t)
		open = append(open, s)
	}
	resp, body := h.get("/i/" + inv.ID + "/events")
	var e map[string]any
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(body, "too_many_streams") {
		t.Fatalf("ninth stream: %d %s (Retry-After %q), want 429 too_many_streams", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	open[0].resp.Body.Close()
	// The server notices the closed stream at its next write; the payment
	// makes one.
	h.pay(inv, "0.0001")
	for _, s := range open[1:] {
		s.next(t)
	}
	var again int
	for range 100 { // the server sees the closed stream's context end soon
		s, status := h.stream(inv.ID)
		if again = status; status == 200 {
			s.resp.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if again != 200 {
		t.Fatalf("after closing one stream: %d, want a free slot", again)
	}
}

// TestPublicRoutes_RateLimitedPerIP: a flood from one address gets 429
// with Retry-After.
func TestPublicRoutes_RateLimitedPerIP(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001"}`)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				resp, err := http.Get(h.base + "/i/" + inv.ID + "/status")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if codes[http.StatusTooManyRequests] == 0 || codes[200] < 60 {
		t.Fatalf("status codes of 160 quick requests: %v; want the burst served and the rest refused", codes)
	}
}

// TestCreate_RedirectURL: redirect_url is validated like callback_url,
// refused on archived invoices, and becomes the page's return link.
func TestCreate_RedirectURL(t *testing.T) {
	h := newHarness(t)
	for _, bad := range []string{"javascript:alert(1)", "/thanks", "https://user:pw@shop.example/"} {
		b := h.call("POST", "/api/v1/invoices", h.key, fmt.Sprintf(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001","redirect_url":%q}`, bad), 422, nil)
		if !strings.Contains(string(b), "redirect_url") {
			t.Errorf("redirect_url %q: %s, want the field named", bad, b)
		}
	}
	h.call("POST", "/api/v1/archived", h.key, `{"order_id":"a","currency":"BTC","crypto_amount":"0.001","redirect_url":"https://shop.example/"}`, 400, nil)
	inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001","redirect_url":"https://shop.example/thanks?o=1&x=<y>"}`)
	h.pay(inv, "0.001")
	h.mine()
	for range 100 {
		if _, body := h.get("/i/" + inv.ID); strings.Contains(body, "state-completed") {
			if !strings.Contains(body, `href="https://shop.example/thanks?o=1&amp;x=%3cy%3e"`) {
				t.Fatalf("completed page lacks the return link:\n%s", body)
			}
			return
		}
		h.mine()
	}
	t.Fatal("invoice never completed")
}

// TestEvents_ShutdownEndsStreams: a draining server ends the open streams
// instead of waiting for customers to close their pages.
func TestEvents_ShutdownEndsStreams(t *testing.T) {
	h := newHarness(t)
	inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001"}`)
	s, status := h.stream(inv.ID)
	if status != 200 {
		t.Fatalf("events: %d", status)
	}
	s.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream open: %v after %v", err, time.Since(start))
	}
	h.srv = nil
	if _, err := io.ReadAll(s.r); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
}

// TestPage_CountdownInTheLastQuarter: the countdown shows only in the last
// quarter of the invoice's life.
func TestPage_CountdownInTheLastQuarter(t *testing.T) {
	h := newHarness(t)
	start := h.clock.Now()
	inv := h.create(`{"order_id":"o","currency":"BTC","crypto_amount":"0.001","expire_min":20}`)
	for _, tc := range []struct {
		after time.Duration
		shown string // "" = hidden
	}{
		{0, ""},
		{14*time.Minute + 50*time.Second, ""},
		{15 * time.Minute, "This invoice expires in 5 min."},
		{18*time.Minute + 30*time.Second, "This invoice expires in 2 min."},
	} {
		h.clock.Set(start.Add(tc.after))
		_, body := h.get("/i/" + inv.ID)
		hidden := strings.Contains(body, `data-label="Time left: %s" hidden>`)
		if tc.shown == "" && !hidden || tc.shown != "" && (hidden || !strings.Contains(body, tc.shown)) {
			t.Errorf("%v after creation: want countdown %q, page has hidden=%v", tc.after, tc.shown, hidden)
		}
	}
}
