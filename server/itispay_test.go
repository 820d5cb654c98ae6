package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/apitest"
)

// The official ItisPay Go client's types (github ItIsPay/go-client,
// types.go, December 2025), written from issue 12: the same JSON tags and
// Go types, so a response that decodes here decodes in the client.
type (
	itispayAPIError struct {
		StatusCode int    `json:"-"` // the client fills it from the HTTP status
		Error      string `json:"error"`
		Message    string `json:"message"`
	}
	itispayBlockchainNetwork struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	itispayBlockchainDetails struct {
		Currency              string                   `json:"currency"`
		BlockchainAddress     string                   `json:"blockchainAddress"`
		BlockchainNetwork     itispayBlockchainNetwork `json:"blockchainNetwork"`
		PaymentURI            string                   `json:"payment_uri"`
		QRCode                string                   `json:"qrcode"`
		RequiredConfirmations int                      `json:"required_confirmations"`
	}
	itispayInvoice struct {
		InvoiceID              string                   `json:"invoice_id"`
		UserID                 string                   `json:"user_id"`
		ProjectID              string                   `json:"project_id"`
		OrderID                string                   `json:"order_id"`
		OrderName              string                   `json:"order_name"`
		FiatAmount             float64                  `json:"fiat_amount"`
		FiatCurrency           string                   `json:"fiat_currency"`
		Currency               string                   `json:"currency"`
		CryptoAmount           float64                  `json:"crypto_amount"`
		ActualCryptoAmountPaid float64                  `json:"actual_crypto_amount_paid"`
		AllowedErrorPercent    float64                  `json:"allowed_error_percent"`
		ExpireMin              int                      `json:"expire_min"`
		CallbackURL            string                   `json:"callback_url"`
		Status                 string                   `json:"status"`
		CreatedAt              time.Time                `json:"created_at"`
		UpdatedAt              time.Time                `json:"updated_at"`
		ExpiresAt              time.Time                `json:"expires_at"`
		BlockchainDetails      itispayBlockchainDetails `json:"blockchain_details"`
	}
	itispayPagination struct {
		CurrentPage  int  `json:"current_page"`
		PageSize     int  `json:"page_size"`
		TotalPages   int  `json:"total_pages"`
		TotalRecords int  `json:"total_records"`
		HasNext      bool `json:"has_next"`
		HasPrevious  bool `json:"has_previous"`
	}
	itispayInvoiceList struct {
		Items      []itispayInvoice  `json:"items"`
		Pagination itispayPagination `json:"pagination"`
	}
	itispayCurrency struct {
		CurrencyCode  string    `json:"currency_code"`
		IsCrypto      bool      `json:"is_crypto"`
		Precision     int       `json:"precision"`
		IsActive      bool      `json:"is_active"`
		WalletPattern string    `json:"wallet_pattern"`
		Network       string    `json:"network"`
		CreatedAt     time.Time `json:"created_at"`
	}
	itispayCurrencies struct {
		Currencies []itispayCurrency `json:"currencies"`
	}
	itispayRates struct {
		Rates map[string]float64 `json:"rates"`
	}
	itispaySimulateResponse struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
)

// clientNullable are the fields the API answers null when they do not
// apply (a crypto-priced invoice has no fiat price); the client reads null
// as the zero value, as encoding/json does.
var clientNullable = map[string]bool{"fiat_amount": true, "fiat_currency": true, "callback_url": true}

// decodeAsClient decodes body into out as the client does (encoding/json,
// unknown fields ignored: our extras are invisible to it) and then checks
// that every field out declares is in the body and not null (but for
// clientNullable), at every depth, so a renamed or dropped field fails
// here instead of reading as a silent zero in the client.
func decodeAsClient(t *testing.T, what string, body []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: the client could not decode %s: %v", what, body, err)
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, problem := range missingFields(reflect.TypeOf(out).Elem(), raw, what) {
		t.Errorf("%s: %s\n%s", what, problem, body)
	}
}

// missingFields lists the fields of type typ (a struct, slice or map of
// them) that the decoded JSON v lacks or has null.
func missingFields(typ reflect.Type, v any, path string) []string {
	var out []string
	switch typ.Kind() {
	case reflect.Struct:
		if typ == reflect.TypeOf(time.Time{}) {
			return nil
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{path + " is not an object"}
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if name == "-" {
				continue
			}
			val, present := obj[name]
			switch {
			case !present:
				out = append(out, path+"."+name+" is missing")
			case val == nil && !clientNullable[name]:
				out = append(out, path+"."+name+" is null")
			case val != nil:
				out = append(out, missingFields(f.Type, val, path+"."+name)...)
			}
		}
	case reflect.Slice:
		arr, _ := v.([]any)
		for i, e := range arr {
			out = append(out, missingFields(typ.Elem(), e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		obj, _ := v.(map[string]any)
		for k, e := range obj {
			out = append(out, missingFields(typ.Elem(), e, path+"."+k)...)
		}
	}
	return out
}

// TestItisPayClient_DecodesEveryCall runs a real server and makes every
// call of the official client's example flow, decoding each live response
// into the client's types: create, get, list, status update, simulate,
// rates, currencies, and the errors it turns into its typed APIError.
func TestItisPayClient_DecodesEveryCall(t *testing.T) {
	hooks := make(chan []byte, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hooks <- b
	}))
	defer receiver.Close()
	srv, err := Start(Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: accountKey,
		AllowPrivateCallbacks: true, ChainPoll: 10 * time.Millisecond, ExpiryInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(t.Context())
	base := "http://" + srv.Addr
	call := func(method, path, key, body string, want int, what string, out any) {
		t.Helper()
		status, b := apitest.Call(t, base, method, path, key, body)
		if status != want {
			t.Fatalf("%s: %d %s, want %d", what, status, b, want)
		}
		decodeAsClient(t, what, b, out)
	}
	var project struct {
		ID     string `json:"project_id"`
		APIKey string `json:"api_key"`
	}
	call("POST", "/api/v1/projects", accountKey, `{"name":"itispay"}`, 201, "create project", &project)
	key := project.APIKey

	var created itispayInvoice
	call("POST", "/api/v1/invoices", key, fmt.Sprintf(`{"order_id":"o-1","order_name":"Shoes","fiat_amount":100,"fiat_currency":"EUR","currency":"BTC","callback_url":%q}`, receiver.URL), 201, "create", &created)
	if created.FiatAmount != 100 || created.CryptoAmount <= 0 || created.Status != "new" || created.ProjectID != project.ID ||
		created.UserID == "" || created.BlockchainDetails.BlockchainAddress == "" || created.BlockchainDetails.BlockchainNetwork.Name != "bitcoin" {
		t.Errorf("created = %+v", created)
	}
	var crypto itispayInvoice
	call("POST", "/api/v1/invoices", key, `{"order_id":"o-2","crypto_amount":0.5,"currency":"ETH"}`, 201, "create in crypto", &crypto)
	if crypto.CryptoAmount != 0.5 || crypto.FiatAmount != 0 || crypto.UserID != created.UserID {
		t.Errorf("crypto-priced = %+v", crypto)
	}

	var got itispayInvoice
	call("GET", "/api/v1/invoices/"+created.InvoiceID, key, "", 200, "get", &got)
	if got.InvoiceID != created.InvoiceID || got.OrderID != "o-1" || got.OrderName != "Shoes" || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("get = %+v", got)
	}

	var list itispayInvoiceList
	call("GET", "/api/v1/invoices?page=1&page_size=1", key, "", 200, "list", &list)
	want := itispayPagination{CurrentPage: 1, PageSize: 1, TotalPages: 2, TotalRecords: 2, HasNext: true}
	if len(list.Items) != 1 || list.Pagination != want {
		t.Errorf("list = %d items, %+v; want 1, %+v", len(list.Items), list.Pagination, want)
	}
	call("GET", "/api/v1/invoices?page=3&page_size=1", key, "", 200, "list past the end", &list)
	want = itispayPagination{CurrentPage: 3, PageSize: 1, TotalPages: 2, TotalRecords: 2, HasPrevious: true}
	if len(list.Items) != 0 || list.Pagination != want {
		t.Errorf("list past the end = %d items, %+v; want 0, %+v", len(list.Items), list.Pagination, want)
	}

	var patched itispayInvoice
	call("PATCH", "/api/v1/invoices/"+crypto.InvoiceID, key, `{"status":"cancelled","comment":"customer left"}`, 200, "status update", &patched)
	if patched.Status != "cancelled" {
		t.Errorf("status update = %+v", patched)
	}

	var sim itispaySimulateResponse
	call("POST", "/api/v1/webhooks/simulate", key, fmt.Sprintf(`{"invoice_id":%q,"status":"completed"}`, created.InvoiceID), 200, "simulate", &sim)
	if sim.Status != "success" || sim.Message == "" {
		t.Errorf("simulate = %+v", sim)
	}
	var hook itispayInvoice
	decodeAsClient(t, "simulated webhook", <-hooks, &hook)
	if hook.InvoiceID != created.InvoiceID || hook.Status != "completed" || hook.UserID != created.UserID {
		t.Errorf("webhook = %+v", hook)
	}

	var rates itispayRates
	call("GET", "/api/v1/rates", "", "", 200, "rates", &rates)
	for _, code := range []string{"BTC", "ETH", "LTC", "USDT"} {
		if rates.Rates[code] <= 0 {
			t.Errorf("rates[%s] = %v", code, rates.Rates[code])
		}
	}

	var currencies itispayCurrencies
	call("GET", "/api/v1/currencies", "", "", 200, "currencies", &currencies)
	byCode := map[string]itispayCurrency{}
	for _, c := range currencies.Currencies {
		byCode[c.CurrencyCode] = c
		if !c.IsActive || c.CreatedAt.IsZero() {
			t.Errorf("currency %+v", c)
		}
	}
	if eur := byCode["EUR"]; eur.IsCrypto || eur.Precision != 2 {
		t.Errorf("EUR = %+v, want fiat with precision 2", eur)
	}
	if btc := byCode["BTC"]; !btc.IsCrypto || btc.Precision != 8 || btc.Network != "bitcoin" {
		t.Errorf("BTC = %+v", btc)
	}
	// Every deposit address matches its currency's wallet_pattern, and
	// not another currency's (BTC and LTC share the format, not the HRP).
	for _, code := range []string{"BTC", "LTC", "ETH", "USDT"} {
		re, err := regexp.Compile(byCode[code].WalletPattern)
		if err != nil || byCode[code].WalletPattern == "" {
			t.Fatalf("%s wallet_pattern %q: %v", code, byCode[code].WalletPattern, err)
		}
		for i := range 5 {
			var inv itispayInvoice
			call("POST", "/api/v1/invoices", key, fmt.Sprintf(`{"order_id":"addr-%s-%d","fiat_amount":10,"currency":%q}`, code, i, code), 201, "create "+code, &inv)
			if addr := inv.BlockchainDetails.BlockchainAddress; !re.MatchString(addr) {
				t.Errorf("%s deposit address %s does not match wallet_pattern %s", code, addr, re)
			}
			other := map[string]string{"BTC": "LTC", "LTC": "BTC"}[code]
			if other != "" && regexp.MustCompile(byCode[other].WalletPattern).MatchString(inv.BlockchainDetails.BlockchainAddress) {
				t.Errorf("%s address %s matches the %s pattern", code, inv.BlockchainDetails.BlockchainAddress, other)
			}
		}
	}

	// Errors: the client decodes {"error","message"} into its APIError and
	// sets StatusCode; merchant code switches on it.
	for _, tc := range []struct {
		what, method, path, key, body string
		status                        int
		code                          string
	}{
		{"401", "GET", "/api/v1/invoices/" + created.InvoiceID, strings.Repeat("ab", 32), "", 401, "unauthorized"},
		{"404", "GET", "/api/v1/invoices/0190b6c2-7c1a-7d3e-9f00-a1b2c3d4e5f6", key, "", 404, "not_found"},
		{"422", "POST", "/api/v1/invoices", key, `{"order_id":"o-3","crypto_amount":-1,"currency":"BTC"}`, 422, "validation_failed"},
		{"409", "PATCH", "/api/v1/invoices/" + crypto.InvoiceID, key, `{"status":"completed"}`, 409, "invalid_transition"},
		{"405", "PUT", "/api/v1/invoices", key, "", 405, "method_not_allowed"},
	} {
		var apiErr itispayAPIError
		status, b := apitest.Call(t, base, tc.method, tc.path, tc.key, tc.body)
		apiErr.StatusCode = status
		decodeAsClient(t, tc.what, b, &apiErr)
		if apiErr.StatusCode != tc.status || apiErr.Error != tc.code || apiErr.Message == "" {
			t.Errorf("%s: %+v, want status %d code %s", tc.what, apiErr, tc.status, tc.code)
		}
	}
}
