package ethereum

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/jsonrpc"
)

func TestNew_RejectsBadConfig(t *testing.T) {
	const usdt = "0xdAC17F958D2ee523a2206206994597C13D831ec7" // mainnet USDT, EIP-55
	good := Config{URL: "http://127.0.0.1:8545", Net: "ethereum-dev", Native: "ETH",
		Tokens: []Token{{Currency: "USDT", Contract: usdt}}}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no URL", func(c *Config) { c.URL = "" }, "URL is empty"},
		{"unparsable URL", func(c *Config) { c.URL = "http://u:secret@[::1" }, "does not parse"},
		{"websocket", func(c *Config) { c.URL = "ws://127.0.0.1:8546" }, "scheme"},
		{"no scheme", func(c *Config) { c.URL = "localhost:8545" }, "scheme"},
		{"no host", func(c *Config) { c.URL = "http:///secret" }, "no host"},
		{"no network name", func(c *Config) { c.Net = "" }, "Net"},
		{"lower-case native", func(c *Config) { c.Native = "eth" }, "Native"},
		{"nothing to report", func(c *Config) { c.Native, c.Tokens = "", nil }, "neither"},
		{"token without currency", func(c *Config) { c.Tokens[0].Currency = "" }, "currency"},
		{"token named like native", func(c *Config) { c.Tokens[0].Currency = "ETH" }, "twice"},
		{"token contract short", func(c *Config) { c.Tokens[0].Contract = usdt[:41] }, "40 hex digits"},
		{"token contract checksum", func(c *Config) { c.Tokens[0].Contract = strings.Replace(usdt, "dAC", "dac", 1) }, "checksum"},
		{"same contract twice", func(c *Config) {
			c.Tokens = append(c.Tokens, Token{Currency: "USDX", Contract: strings.ToLower(usdt)})
		}, "same contract"},
		{"same token twice", func(c *Config) {
			c.Tokens = append(c.Tokens, Token{Currency: "USDT", Contract: "0x" + strings.Repeat("11", 20)})
		}, "twice"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			cfg.Tokens = append([]Token(nil), good.Tokens...)
			tt.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !errors.Is(err, errConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want a config error about %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the URL's secret: %v", err)
			}
		})
	}
	n, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if n.Network() != "ethereum-dev" || strings.Join(n.Currencies(), ",") != "ETH,USDT" {
		t.Fatalf("Network/Currencies = %q %q", n.Network(), n.Currencies())
	}
	if n.rpc.Timeout != DefaultTimeout {
		t.Fatalf("zero Timeout gave %v, want DefaultTimeout", n.rpc.Timeout)
	}
	n, err = New(Config{URL: good.URL, Net: good.Net, Native: "ETH", Timeout: 5 * time.Second})
	if err != nil || n.rpc.Timeout != 5*time.Second {
		t.Fatalf("Timeout 5s gave %+v, %v", n, err)
	}
	n.Currencies()[0] = "XXX"
	if n.Currencies()[0] != "ETH" {
		t.Fatal("Currencies returns the node's own slice")
	}
}

// TestNode_URLSecretsStayOutOfErrors: credentials in the URL reach the
// node as basic auth; neither they nor an API key in the path or query
// appear in an error.
func TestNode_URLSecretsStayOutOfErrors(t *testing.T) {
	var gotUser, gotPass, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		gotPath = r.URL.RequestURI()
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://alice:s3cr3t@", 1) + "/v3/apikey123?token=tok456"
	n, err := New(Config{URL: url, Net: "ethereum-dev", Native: "ETH"})
	if err != nil {
		t.Fatal(err)
	}
	leaks := []string{"s3cr3t", "alice", "apikey123", "tok456"}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded", what)
		}
		for _, leak := range leaks {
			if strings.Contains(err.Error(), leak) {
				t.Fatalf("%s error contains %q: %v", what, leak, err)
			}
		}
	}
	_, err = n.Tip(context.Background())
	check("Tip against a 500 without JSON", err)
	if gotUser != "alice" || gotPass != "s3cr3t" || gotPath != "/v3/apikey123?token=tok456" {
		t.Fatalf("request: basic auth %q/%q, path %q", gotUser, gotPass, gotPath)
	}
	srv.Close() // now the dial fails, and net/http would quote the URL
	_, err = n.BlockAt(context.Background(), 1)
	check("BlockAt against a closed server", err)
	_, err = n.Mempool(context.Background())
	check("Mempool against a closed server", err)
}

func TestNode_UnauthorizedSaysCheckCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	_, err := testNode(t, srv.URL, time.Second).Tip(context.Background())
	if err == nil || !strings.Contains(err.Error(), "credentials or API key") {
		t.Fatalf("Tip = %v, want an error pointing at the credentials", err)
	}
}

// TestNode_GarbageIsAnErrorNotAPanic: whatever the endpoint answers, Tip,
// BlockAt and Mempool return an error, and BlockAt never ErrNotFound for
// anything but a null block.
func TestNode_GarbageIsAnErrorNotAPanic(t *testing.T) {
	raw := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	hash := `"0x` + strings.Repeat("ab", 32) + `"`
	goodTx := `{"hash":` + hash + `,"to":"0x` + strings.Repeat("11", 20) + `","value":"0x1"}`
	block := func(fields string) string {
		return `{"number":"0x1","hash":` + hash + `,"parentHash":` + hash + `,"timestamp":"0x5"` + fields + `}`
	}
	results := func(byMethod map[string]string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			_ = json.NewDecoder(r.Body).Decode(&req)
			res, ok := byMethod[req.Method]
			if !ok {
				res = `"unexpected"`
			}
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":` + res + `}`))
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		tipOK   bool // the header is sound; the transactions are not
	}{
		{"not json", raw(200, "garbage{"), false},
		{"empty body", raw(200, ""), false},
		{"html error page", raw(502, "<html>bad gateway</html>"), false},
		{"json array", raw(200, "[1,2,3]"), false},
		{"json string", raw(200, `"hello"`), false},
		{"truncated json", raw(200, `{"jsonrpc":"2.0","id":1,"result":{"number":"0x1"`), false},
		{"no result, no error", raw(200, `{"jsonrpc":"2.0","id":1}`), false},
		{"error of wrong shape", raw(200, `{"jsonrpc":"2.0","id":1,"error":"bad"}`), false},
		{"wrong result types", results(map[string]string{
			"eth_getBlockByNumber": `{"number":1,"hash":7,"parentHash":[],"timestamp":{}}`,
			"txpool_content":       `{"pending":[1]}`,
		}), false},
		{"fields missing", results(map[string]string{
			"eth_getBlockByNumber": `{"number":"0x1","transactions":[]}`,
			"txpool_content":       `{"queued":{}}`,
		}), false},
		{"short hashes, bad quantities", results(map[string]string{
			"eth_getBlockByNumber": `{"number":"0x","hash":"0xabcd","parentHash":"0xabcd","timestamp":"0x1","transactions":[]}`,
			"txpool_content":       `{"pending":{"0x1":{"0":{"hash":"0xabcd","to":null,"value":"0x"}}}}`,
		}), false},
		{"transaction without hash or value", results(map[string]string{
			"eth_getBlockByNumber": block(`,"transactions":[{"to":null}]`),
			"txpool_content":       `{"pending":{"0x1":{"0":{"to":null,"input":"0x"}}}}`,
		}), true},
		{"block number other than asked", results(map[string]string{
			"eth_getBlockByNumber": strings.Replace(block(`,"transactions":[]`), `"0x1"`, `"0x2"`, 1),
			"txpool_content":       `null`,
		}), true},
		{"timestamp beyond int64", results(map[string]string{
			"eth_getBlockByNumber": strings.Replace(block(`,"transactions":[]`), `"0x5"`, `"0xffffffffffffffff"`, 1),
			"txpool_content":       `"x"`,
		}), false},
		{"receipts and logs garbage", results(map[string]string{
			"eth_getBlockByNumber": block(`,"transactions":[` + goodTx + `]`),
			"eth_getBlockReceipts": `{"a":1}`,
			"eth_getLogs":          `[{"address":7}]`,
			"txpool_content":       `{"pending":{"0x1":{"0":{"hash":` + hash + `,"to":"0x12","value":"0x1","input":"0x"}}}}`,
		}), true},
		{"receipts null", results(map[string]string{
			"eth_getBlockByNumber": block(`,"transactions":[` + goodTx + `]`),
			"eth_getBlockReceipts": `null`,
			"eth_getLogs":          `[]`,
			"txpool_content":       `{"pending":{"0x1":{"0":{"hash":` + hash + `,"to":null,"value":"0x1","input":"0xzz"}}}}`,
		}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			n := testNode(t, srv.URL, 2*time.Second)
			ctx := context.Background()
			if c, err := n.Tip(ctx); (err == nil) != tt.tipOK {
				t.Errorf("Tip = %+v, %v; want an error: %v", c, err, !tt.tipOK)
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

func TestIsMethodNotFound(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&jsonrpc.Error{Code: -32601, Message: "the method txpool_content does not exist/is not available"}, true},
		{&jsonrpc.Error{Code: -32601, Message: ""}, true},
		{&jsonrpc.Error{Code: -32000, Message: "Method not found"}, true},
		{&jsonrpc.Error{Code: -32004, Message: "method eth_getBlockReceipts is not supported"}, true},
		{&jsonrpc.Error{Code: -32000, Message: "historical state is not available"}, false},
		{&jsonrpc.Error{Code: -32000, Message: "header not found"}, false},
		{errors.New("the method does not exist"), false}, // not from the node
	}
	for _, tt := range tests {
		if got := isMethodNotFound(tt.err); got != tt.want {
			t.Errorf("isMethodNotFound(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
