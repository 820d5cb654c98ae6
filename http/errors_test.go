package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestErrors_BadInputChangesNothing is the table of every refusal of a
// create: each answers its status and code, names its field (and, where
// there is one, the bound: want is part of the message), and stores
// nothing. env.do checks each message's grammar.
func TestErrors_BadInputChangesNothing(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{refusePrivateCallbacks: true})
	_, key := e.project("shop", "")
	valid := `"order_id":"o","currency":"BTC"`
	tests := []struct {
		name, body string
		status     int
		code       string
		field      string
		want       string // in the message, when set
	}{
		{"malformed json", `{"order_id":`, 400, "invalid_json", "", ""},
		{"not an object", `[1,2]`, 400, "invalid_json", "", ""},
		{"trailing data", `{` + valid + `,"crypto_amount":1}{}`, 400, "invalid_json", "", ""},
		{"unknown field", `{` + valid + `,"crypto_amount":1,"amount":5}`, 400, "unknown_field", "amount", ""},
		{"wrong type string", `{"order_id":7,"currency":"BTC","crypto_amount":1}`, 400, "invalid_type", "order_id", ""},
		{"wrong type amount", `{` + valid + `,"crypto_amount":true}`, 400, "invalid_type", "crypto_amount", ""},
		{"wrong type int", `{` + valid + `,"crypto_amount":1,"expire_min":"5"}`, 400, "invalid_type", "expire_min", ""},
		{"invalid utf-8", "{\"order_id\":\"\xff\",\"currency\":\"BTC\",\"crypto_amount\":1}", 400, "invalid_json", "", ""},
		{"missing order id", `{"currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", ""},
		{"missing currency", `{"order_id":"o","crypto_amount":1}`, 422, "validation_failed", "currency", ""},
		{"unsupported currency", `{"order_id":"o","currency":"DOGE","crypto_amount":1}`, 422, "validation_failed", "currency", ""},
		{"no amount", `{` + valid + `}`, 422, "validation_failed", "crypto_amount", ""},
		{"both amounts", `{` + valid + `,"crypto_amount":1,"fiat_amount":1}`, 422, "validation_failed", "fiat_amount", ""},
		{"negative", `{` + valid + `,"crypto_amount":-1}`, 422, "validation_failed", "crypto_amount", ""},
		{"too precise", `{` + valid + `,"crypto_amount":0.123456789}`, 422, "validation_failed", "crypto_amount", ""},
		{"exponent overflow", `{` + valid + `,"crypto_amount":1e999}`, 422, "validation_failed", "crypto_amount", ""},
		{"decimal string junk", `{` + valid + `,"crypto_amount":"1.2.3"}`, 422, "validation_failed", "crypto_amount", ""},
		{"fiat cents", `{` + valid + `,"fiat_amount":1.005}`, 422, "validation_failed", "fiat_amount", ""},
		{"fiat currency", `{` + valid + `,"fiat_amount":10,"fiat_currency":"USD"}`, 422, "validation_failed", "fiat_currency", ""},
		{"error percent range", `{` + valid + `,"crypto_amount":1,"allowed_error_percent":101}`, 422, "validation_failed", "allowed_error_percent", ""},
		{"error percent fraction", `{` + valid + `,"crypto_amount":1,"allowed_error_percent":1.5}`, 422, "validation_failed", "allowed_error_percent", ""},
		{"expire min", `{` + valid + `,"crypto_amount":1,"expire_min":0}`, 422, "validation_failed", "expire_min", ""},
		{"callback url", `{` + valid + `,"crypto_amount":1,"callback_url":"javascript:alert(1)"}`, 422, "validation_failed", "callback_url", ""},
		{"order id too long", `{"order_id":"` + strings.Repeat("x", 129) + `","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", ""},
		// Issue 19's probes.
		{"duplicate key", `{"order_id":"d1","crypto_amount":1,"crypto_amount":1000000,"currency":"BTC"}`, 400, "duplicate_key", "crypto_amount", "crypto_amount: appears more than once"},
		{"duplicate key escaped", `{"order_id":"d1","crypto_amount":1,"crypto\u005famount":1000000,"currency":"BTC"}`, 400, "duplicate_key", "crypto_amount", ""},
		{"duplicate key by case", `{"order_id":"d1","ORDER_ID":"d2","crypto_amount":1,"currency":"BTC"}`, 400, "duplicate_key", "ORDER_ID", ""},
		{"duplicate empty key", `{` + valid + `,"crypto_amount":1,"":1,"":2}`, 400, "duplicate_key", `""`, `"": appears more than once`},
		{"duplicate key nested", `{"order_id":"d1","crypto_amount":1,"currency":"BTC","order_name":{"a":1,"a":2}}`, 400, "duplicate_key", "a", ""},
		{"above the supply", `{` + valid + `,"crypto_amount":99999999999999999999999}`, 422, "validation_failed", "crypto_amount", "crypto_amount: must be at most 21000000 BTC"},
		{"just above the supply", `{` + valid + `,"crypto_amount":"21000000.00000001"}`, 422, "validation_failed", "crypto_amount", "at most 21000000 BTC"},
		{"above the ETH bound", `{"order_id":"o","currency":"ETH","crypto_amount":"1000000000.000000000000000001"}`, 422, "validation_failed", "crypto_amount", "at most 1000000000 ETH"},
		{"fiat above the supply", `{` + valid + `,"fiat_amount":1e20}`, 422, "validation_failed", "fiat_amount", "above the maximum of 21000000 BTC"},
		{"blank order id", `{"order_id":"  ","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "order_id: must contain a character other than spaces"},
		{"leading space", `{"order_id":" o","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "must not begin or end with a space"},
		{"trailing space", `{"order_id":"o ","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "must not begin or end with a space"},
		{"no-break space", `{"order_id":"\u00a0o","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "must not begin or end with a space"},
		{"C1 control in id", `{"order_id":"o\u0085","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "control characters"},
		{"bidi override in id", `{"order_id":"o\u202e1","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "format characters"},
		{"zero-width space in id", `{"order_id":"o\u200b1","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "format characters"},
		{"zero-width joiner in id", `{"order_id":"o\u200d1","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "format characters"},
		{"BOM in id", `{"order_id":"\ufeffo","currency":"BTC","crypto_amount":1}`, 422, "validation_failed", "order_id", "format characters"},
		{"bidi override in name", `{` + valid + `,"crypto_amount":1,"order_name":"invoice \u202egnp.exe"}`, 422, "validation_failed", "order_name", "bidirectional controls"},
		{"bidi isolate in name", `{` + valid + `,"crypto_amount":1,"order_name":"a\u2067b\u2069"}`, 422, "validation_failed", "order_name", "bidirectional controls"},
		{"tag character in name", `{` + valid + `,"crypto_amount":1,"order_name":"a\udb40\udc41"}`, 422, "validation_failed", "order_name", "format characters"},
		{"control in name", `{` + valid + `,"crypto_amount":1,"order_name":"a\u0007"}`, 422, "validation_failed", "order_name", "control characters"},
		{"metadata callback", `{` + valid + `,"crypto_amount":1,"callback_url":"http://169.254.169.254/latest"}`, 422, "validation_failed", "callback_url", "callback_url: host 169.254.169.254 is the cloud metadata address"},
		{"metadata callback IPv6", `{` + valid + `,"crypto_amount":1,"callback_url":"http://[fd00:ec2::254]/latest"}`, 422, "validation_failed", "callback_url", "cloud metadata"},
		{"loopback callback", `{` + valid + `,"crypto_amount":1,"callback_url":"https://127.0.0.1:8443/h"}`, 422, "validation_failed", "callback_url", "loopback"},
		{"legacy loopback callback", `{` + valid + `,"crypto_amount":1,"callback_url":"http://2130706433/h"}`, 422, "validation_failed", "callback_url", "host 2130706433 is a loopback address"},
		{"private callback", `{` + valid + `,"crypto_amount":1,"callback_url":"http://10.0.0.7/h"}`, 422, "validation_failed", "callback_url", "private"},
		{"link-local callback", `{` + valid + `,"crypto_amount":1,"callback_url":"http://[fe80::1]/h"}`, 422, "validation_failed", "callback_url", "link-local"},
		{"reserved callback", `{` + valid + `,"crypto_amount":1,"callback_url":"http://100.64.1.1/h"}`, 422, "validation_failed", "callback_url", "reserved"},
		{"both amounts grammar", `{` + valid + `,"crypto_amount":1,"fiat_amount":1}`, 422, "validation_failed", "fiat_amount", "fiat_amount: give either fiat_amount or crypto_amount, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/invoices", key, tt.body)
			code, field := r.errorField(t)
			if r.status != tt.status || code != tt.code || field != tt.field {
				t.Fatalf("got %d %s field %q (%s); want %d %s field %q", r.status, code, field, r.body, tt.status, tt.code, tt.field)
			}
			if msg, _ := r.json(t)["message"].(string); !strings.Contains(msg, tt.want) {
				t.Fatalf("message %q does not say %q", msg, tt.want)
			}
		})
	}
	if n := e.total(key, ""); n != 0 {
		t.Fatalf("bad requests wrote %d invoices", n)
	}
	// Refused creates spend no address: the first good invoice gets index 0.
	e.invoice(key, `{"order_id":"good","crypto_amount":1,"currency":"BTC"}`)
	if got, ok, err := e.store.MaxAddressIndex("BTC"); err != nil || !ok || got != 0 {
		t.Fatalf("max BTC address index = %d, %v, %v; want 0 after refusals", got, ok, err)
	}
}

func TestErrors_TransportLevel(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, key := e.project("shop", "")

	big := `{"order_id":"o","currency":"BTC","crypto_amount":1,"order_name":"` + strings.Repeat("x", 70<<10) + `"}`
	if r := e.do("POST", "/api/v1/invoices", key, big); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("65+ KiB body: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/invoices", key, `{"order_id":"o"}`, "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/invoices", key, ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", r.status)
	} else if code, _ := r.errorField(t); code != "method_not_allowed" {
		t.Errorf("405 code %s", code)
	}
	if r := e.do("GET", "/api/v1/nope", key, ""); r.status != http.StatusNotFound {
		t.Errorf("unknown route: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/invoices", key, "", "X-Request-Id", "trace-42"); r.header.Get("X-Request-Id") != "trace-42" {
		t.Errorf("request id not echoed: %q", r.header.Get("X-Request-Id"))
	}
	if r := e.do("GET", "/api/v1/invoices", key, "", "X-Request-Id", "bad id\twith tab"); r.header.Get("X-Request-Id") == "bad id\twith tab" {
		t.Error("unsafe request id echoed")
	}
}

func TestErrors_NoRateIs503(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{rates: map[string]string{"ETH": "3000"}})
	_, key := e.project("shop", "")
	r := e.do("POST", "/api/v1/invoices", key, `{"order_id":"o","fiat_amount":10,"currency":"BTC"}`)
	if code, field := r.errorField(t); r.status != http.StatusServiceUnavailable || code != "rate_unavailable" || field != "fiat_amount" {
		t.Fatalf("fiat without rate: %d %s", r.status, r.body)
	}
	// Crypto-priced invoices keep working without a rate.
	inv := e.invoice(key, `{"order_id":"o","crypto_amount":"0.01","currency":"BTC"}`)
	if inv["exchange_rate"] != nil {
		t.Fatalf("exchange_rate = %v, want null", inv["exchange_rate"])
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	_, keyA := e.project("a", "")
	_, keyB := e.project("b", "")
	inv := e.invoice(keyA, `{"order_id":"o","crypto_amount":1,"currency":"BTC"}`)
	path := "/api/v1/invoices/" + inv["invoice_id"].(string)

	tests := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"no key", "GET", path, "", "", 401},
		{"wrong key", "GET", path, strings.Repeat("0", 64), "", 401},
		{"malformed key", "GET", path, "short", "", 401},
		{"upper-case key", "GET", path, strings.ToUpper(keyA), "", 401},
		{"account key on invoices", "GET", path, e.accountKey, "", 401},
		{"project key on projects", "POST", "/api/v1/projects", keyA, `{"name":"x"}`, 401},
		{"no key on projects", "POST", "/api/v1/projects", "", `{"name":"x"}`, 401},
		{"other project's invoice", "GET", path, keyB, "", 404},
		{"other project's patch", "PATCH", path, keyB, `{"status":"cancelled"}`, 404},
		{"malformed invoice id", "GET", "/api/v1/invoices/not-a-uuid", keyA, "", 404},
		{"unknown invoice", "GET", "/api/v1/invoices/0199d4a8-0000-7000-8000-000000000000", keyA, "", 404},
		{"own invoice", "GET", path, keyA, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.key, tt.body)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
		})
	}
	// Project B's key never sees A's invoice in a list either.
	if n := e.total(keyB, ""); n != 0 {
		t.Fatalf("project b lists %d invoices", n)
	}
	// The refused cross-project patch changed nothing.
	if st := e.do("GET", path, keyA, "").json(t)["status"]; st != "new" {
		t.Fatalf("status after cross-project patch = %v", st)
	}
}

func TestAuth_IPAllowList(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	tests := []struct {
		allowed string
		status  int
	}{
		{"", 200},
		{"127.0.0.1", 200},
		{"10.0.0.0/8, 127.0.0.0/8", 200},
		{"10.0.0.0/8", 403},
		{"192.168.1.1,2001:db8::/32", 403},
		{"::1", 403}, // the test client connects over IPv4
	}
	for i, tt := range tests {
		_, key := e.project(fmt.Sprintf("p%d", i), tt.allowed)
		r := e.do("GET", "/api/v1/invoices", key, "")
		if r.status != tt.status {
			t.Errorf("api_allowed_ips %q: %d, want %d", tt.allowed, r.status, tt.status)
		}
		if tt.status == 403 {
			if code, _ := r.errorField(t); code != "forbidden" {
				t.Errorf("403 code %s", code)
			}
		}
	}
}

func TestCreateProject(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	r := e.do("POST", "/api/v1/projects", e.accountKey, `{"name":"My API Project","description":"Created via API"}`)
	if r.status != 201 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if k, _ := m["api_key"].(string); len(k) != 64 || strings.ToLower(k) != k || len(m) != 3 || m["key_id"] == nil {
		t.Fatalf("response = %s", r.body)
	}
	tests := []struct {
		body   string
		status int
		field  string
	}{
		{`{"name":"My API Project"}`, 409, "name"},
		{`{"description":"x"}`, 422, "name"},
		{`{"name":"` + strings.Repeat("n", 101) + `"}`, 422, "name"},
		{`{"name":"d","description":"` + strings.Repeat("d", 1025) + `"}`, 422, "description"},
		{`{"name":"ips","api_allowed_ips":"10.0.0.0/33"}`, 422, "api_allowed_ips"},
		{`{"name":"ips","api_allowed_ips":"not-an-ip"}`, 422, "api_allowed_ips"},
		{`{"name":"x","owner":"me"}`, 400, "owner"},
	}
	for _, tt := range tests {
		r := e.do("POST", "/api/v1/projects", e.accountKey, tt.body)
		if _, field := r.errorField(t); r.status != tt.status || field != tt.field {
			t.Errorf("%s: %d %s, want %d naming %s", tt.body, r.status, r.body, tt.status, tt.field)
		}
	}
}

func TestPublicEndpoints(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{})
	cur := e.do("GET", "/api/v1/currencies", "", "")
	codes := []string{}
	for _, c := range cur.json(t)["currencies"].([]any) {
		cm := c.(map[string]any)
		codes = append(codes, fmt.Sprintf("%s/%v/%v/%v/%v/%v-%v", cm["currency_code"], cm["is_crypto"], cm["precision"], cm["network"], cm["network_type"], cm["min_amount"], cm["max_amount"]))
	}
	if want := "BTC/true/8/bitcoin/utxo/0.00000546-21000000 ETH/true/18/ethereum/evm/0.000001-1000000000 LTC/true/8/litecoin/utxo/0.0000546-84000000 USDT/true/6/ethereum/erc20/0.01-1000000000000 EUR/false/2//fiat/0.01-<nil>"; strings.Join(codes, " ") != want {
		t.Errorf("currencies = %v\nwant %s", codes, want)
	}
	// Each rate twice: a JSON number whose text is the exact decimal, and
	// the details with the same text as a string.
	r := e.do("GET", "/api/v1/rates", "", "")
	if !strings.Contains(string(r.body), `"BTC":60000.00`) {
		t.Errorf("rates: BTC is not the number 60000.00 written exactly: %s", r.body)
	}
	m := r.json(t)
	rates, details := m["rates"].(map[string]any), m["rate_details"].(map[string]any)
	if btc := details["BTC"].(map[string]any); rates["BTC"] != json.Number("60000.00") || btc["rate"] != "60000.00" || btc["fiat"] != "EUR" || len(rates) != len(details) {
		t.Errorf("rates = %v, details %v", rates, details)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.do("GET", p, "", ""); r.status != 200 || r.json(t)["status"] != "ok" {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
}

func TestDevRoutes_AbsentWithoutDevChain(t *testing.T) {
	e := newEnv(t, t.TempDir(), envOpts{}) // no dev chain, as in prod mode
	for _, p := range []string{"/dev/pay", "/dev/mine"} {
		if r := e.do("POST", p, "", `{"currency":"BTC","address":"x","amount":"1"}`); r.status != http.StatusNotFound {
			t.Errorf("%s without a dev chain: %d, want 404", p, r.status)
		}
	}
}
