package bitcoin

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/jsonrpc/jsonrpctest"
)

func TestNew_RejectsBadConfig(t *testing.T) {
	good := Config{URL: "http://127.0.0.1:18443", Currency: "BTC", Net: "bitcoin-regtest",
		Params: &chaincfg.RegressionNetParams}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no URL", func(c *Config) { c.URL = "" }, "URL is empty"},
		{"unparsable URL", func(c *Config) { c.URL = "http://u:secret@[::1" }, "does not parse"},
		{"websocket", func(c *Config) { c.URL = "ws://127.0.0.1:18443/ws" }, "scheme"},
		{"no scheme", func(c *Config) { c.URL = "localhost:18443" }, "scheme"},
		{"no host", func(c *Config) { c.URL = "http:///x" }, "no host"},
		{"currency", func(c *Config) { c.Currency = "ETH" }, "currency"},
		{"lower-case currency", func(c *Config) { c.Currency = "btc" }, "currency"},
		{"no network name", func(c *Config) { c.Net = "" }, "Net"},
		{"no params", func(c *Config) { c.Params = nil }, "Params"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !errors.Is(err, errConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want a config error about %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
	n, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if n.Network() != "bitcoin-regtest" || len(n.Currencies()) != 1 || n.Currencies()[0] != "BTC" {
		t.Fatalf("Network/Currencies = %q %q", n.Network(), n.Currencies())
	}
	if n.rpc.Timeout != DefaultTimeout {
		t.Fatalf("zero Timeout gave %v, want DefaultTimeout", n.rpc.Timeout)
	}
	good.Timeout = 5 * time.Second
	n, err = New(good)
	if err != nil || n.rpc.Timeout != good.Timeout {
		t.Fatalf("Timeout 5s gave %+v, %v", n, err)
	}
}

// testNode returns a Node for url with a short timeout.
func testNode(t *testing.T, url string, timeout time.Duration) *Node {
	t.Helper()
	n, err := New(Config{
		URL: url, User: "user", Password: "pass", Currency: "BTC",
		Net: "bitcoin-regtest", Params: &chaincfg.RegressionNetParams, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNew_URLCredentialsBecomeBasicAuth: credentials in the URL reach the
// node as basic auth and never appear in an error.
func TestNew_URLCredentialsBecomeBasicAuth(t *testing.T) {
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://alice:s3cr3t@", 1)
	n, err := New(Config{URL: url, Currency: "BTC", Net: "bitcoin-regtest", Params: &chaincfg.RegressionNetParams})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Tip(context.Background())
	if err == nil {
		t.Fatal("Tip succeeded against a 500 without JSON")
	}
	if gotUser != "alice" || gotPass != "s3cr3t" {
		t.Fatalf("basic auth = %q/%q, want alice/s3cr3t", gotUser, gotPass)
	}
	srv.Close() // now the dial fails, and net/http quotes the URL
	_, err = n.BlockAt(context.Background(), 1)
	if err == nil {
		t.Fatal("BlockAt succeeded against a closed server")
	}
	for _, leak := range []string{"s3cr3t", "alice"} {
		if strings.Contains(err.Error(), leak) {
			t.Fatalf("error contains %q: %v", leak, err)
		}
	}
}

func TestNode_UnauthorizedSaysCheckCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	_, err := testNode(t, srv.URL, time.Second).Tip(context.Background())
	if err == nil || !strings.Contains(err.Error(), "user and password") || strings.Contains(err.Error(), "pass\"") {
		t.Fatalf("Tip = %v, want an error pointing at the credentials", err)
	}
}

// TestNode_GarbageIsAnErrorNotAPanic: whatever the endpoint answers, Tip,
// BlockAt and Mempool return an error.
func TestNode_GarbageIsAnErrorNotAPanic(t *testing.T) {
	raw := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	results := func(byMethod map[string]string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Method string `json:"method"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			res, ok := byMethod[req.Method]
			if !ok {
				res = "null"
			}
			_, _ = w.Write([]byte(`{"id":1,"error":null,"result":` + res + `}`))
		}
	}
	hash := `"` + strings.Repeat("ab", 32) + `"`
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"not json", raw(200, "garbage{")},
		{"empty body", raw(200, "")},
		{"html error page", raw(502, "<html>bad gateway</html>")},
		{"json array", raw(200, "[1,2,3]")},
		{"json string", raw(200, `"hello"`)},
		{"truncated json", raw(200, `{"result": {"blocks": 1`)},
		{"result and error null", raw(200, `{"id":1,"result":null,"error":null}`)},
		{"error of wrong shape", raw(200, `{"id":1,"result":null,"error":"bad"}`)},
		{"wrong result types", results(map[string]string{
			"getblockchaininfo": `{"blocks":"ten","bestblockhash":7}`,
			"getblockhash":      `12`,
			"getrawmempool":     `{"a":1}`,
		})},
		{"negative height, short hashes", results(map[string]string{
			"getblockchaininfo": `{"blocks":-1,"bestblockhash":"ab"}`,
			"getblockhash":      `"abcd"`,
			"getrawmempool":     `["abcd"]`,
		})},
		{"block not hex", results(map[string]string{
			"getblockchaininfo": `{"blocks":5,"bestblockhash":"zz` + strings.Repeat("0", 62) + `"}`,
			"getblockhash":      hash,
			"getblock":          `"not hex at all"`,
			"getrawmempool":     `[` + hash + `]`,
		})},
		{"hex that is no block", results(map[string]string{
			"getblockhash":  hash,
			"getblock":      `"00112233"`,
			"getrawmempool": `[` + hash + `]`,
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			n := testNode(t, srv.URL, 2*time.Second)
			ctx := context.Background()
			if c, err := n.Tip(ctx); err == nil {
				t.Errorf("Tip = %+v, want an error", c)
			}
			if b, err := n.BlockAt(ctx, 1); err == nil || errors.Is(err, chain.ErrNotFound) {
				t.Errorf("BlockAt = %+v, %v; want an error other than ErrNotFound", b, err)
			}
			if outs, err := n.Mempool(ctx); err == nil {
				t.Errorf("Mempool = %+v, want an error", outs)
			}
		})
	}
}

func TestBlockAt_BlockOtherThanAskedIsAnError(t *testing.T) {
	block, _ := testBlock(t)
	f := jsonrpctest.NewServer(t, func(method string, _ []json.RawMessage) (any, *jsonrpc.Error) {
		switch method {
		case "getblockhash":
			return strings.Repeat("00", 32), nil
		case "getblock":
			return json.RawMessage(rawHex(t, block)), nil
		}
		return nil, &jsonrpc.Error{Code: -32601, Message: "Method not found"}
	})
	_, err := testNode(t, f.URL, time.Second).BlockAt(context.Background(), 3)
	if err == nil || !strings.Contains(err.Error(), "node sent") {
		t.Fatalf("BlockAt = %v, want a hash mismatch error", err)
	}
}

// TestBlockAt_AboveTipIsNotFound covers both dialects: bitcoind's -8 and
// btcd's -1 (btcd's is also checked against a real btcd).
func TestBlockAt_AboveTipIsNotFound(t *testing.T) {
	tests := []struct {
		name         string
		err          jsonrpc.Error
		wantNotFound bool
	}{
		{"bitcoind", jsonrpc.Error{Code: -8, Message: "Block height out of range"}, true},
		{"btcd", jsonrpc.Error{Code: -1, Message: "Block number out of range"}, true},
		{"other -1", jsonrpc.Error{Code: -1, Message: "database is corrupt"}, false},
		{"warming up", jsonrpc.Error{Code: -28, Message: "Loading block index..."}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := jsonrpctest.NewServer(t, func(string, []json.RawMessage) (any, *jsonrpc.Error) { return nil, &tt.err })
			_, err := testNode(t, f.URL, time.Second).BlockAt(context.Background(), 7)
			if err == nil || errors.Is(err, chain.ErrNotFound) != tt.wantNotFound {
				t.Fatalf("BlockAt = %v, want ErrNotFound: %v", err, tt.wantNotFound)
			}
		})
	}
	f := jsonrpctest.NewServer(t, func(string, []json.RawMessage) (any, *jsonrpc.Error) { return strings.Repeat("00", 32), nil })
	_, err := testNode(t, f.URL, time.Second).BlockAt(context.Background(), math.MaxInt32+1)
	if !errors.Is(err, chain.ErrNotFound) || f.Posts() != 0 {
		t.Fatalf("BlockAt(2^31) = %v after %d calls; want ErrNotFound without asking (btcd truncates to int32)", err, f.Posts())
	}
}
