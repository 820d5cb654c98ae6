package checkout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/internal/clock"
	"github.com/invoiced/invoiced/server"
)

const accountKey = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"

// harness is a whole dev-mode invoiced on loopback: dev chain, actors,
// API and checkout pages, as `go run ./cmd/invoiced` starts it.
type harness struct {
	t     *testing.T
	clock *clock.Test // the server's clock; tests move it
	srv   *server.Server
	base  string
	key   string // project key
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith is newHarness with mod (if not nil) adjusting the
// server's config.
func newHarnessWith(t *testing.T, mod func(*server.Config)) *harness {
	t.Helper()
	clk := clock.NewTest(time.Now().UTC())
	cfg := server.Config{
		Clock:  clk,
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: accountKey,
		Currencies: []string{"BTC", "ETH"}, ChainPoll: 20 * time.Millisecond, ExpiryInterval: 20 * time.Millisecond,
		Explorers: map[string]string{"BTC": "https://explorer.example/tx/{txid}"},
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: clk, srv: srv, base: "http://" + srv.Addr}
	t.Cleanup(func() {
		if h.srv == nil {
			return // the test shut it down
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	var p struct {
		APIKey string `json:"api_key"`
	}
	h.call("POST", "/api/v1/projects", accountKey, `{"name":"Bücherstube Berlin"}`, 201, &p)
	h.key = p.APIKey
	return h
}

func (h *harness) call(method, path, key, body string, want int, out any) []byte {
	h.t.Helper()
	status, b := apitest.Call(h.t, h.base, method, path, key, body)
	if status != want {
		h.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if out != nil {
		apitest.Decode(h.t, b, out)
	}
	return b
}

type invoice struct {
	ID          string      `json:"invoice_id"`
	Status      string      `json:"status"`
	Amount      json.Number `json:"crypto_amount"`
	CheckoutURL string      `json:"checkout_url"`
	Details     struct {
		Address    string `json:"blockchainAddress"`
		PaymentURI string `json:"payment_uri"`
		QRCode     string `json:"qrcode"`
	} `json:"blockchain_details"`
}

// create makes an invoice from a JSON body.
func (h *harness) create(body string) invoice {
	h.t.Helper()
	var inv invoice
	h.call("POST", "/api/v1/invoices", h.key, body, 201, &inv)
	return inv
}

// get fetches path with headers and returns the response with its body read.
func (h *harness) get(path string, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest("GET", h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (h *harness) pay(inv invoice, amount string) {
	h.t.Helper()
	h.call("POST", "/dev/pay", "", `{"currency":"BTC","address":"`+inv.Details.Address+`","amount":"`+amount+`"}`, 200, nil)
}

func (h *harness) mine() {
	h.t.Helper()
	h.call("POST", "/dev/mine", "", `{"currency":"BTC"}`, 200, nil)
}

// stream is an open live status stream.
type stream struct {
	resp *http.Response
	r    *bufio.Reader
}

func (h *harness) stream(id string) (*stream, int) {
	h.t.Helper()
	resp, err := http.Get(h.base + "/i/" + id + "/events")
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return &stream{resp: resp, r: bufio.NewReader(resp.Body)}, resp.StatusCode
}

// next returns the data of the next "state" event.
func (s *stream) next(t *testing.T) string {
	t.Helper()
	event := ""
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "state":
			return strings.TrimPrefix(line, "data: ")
		}
	}
}
