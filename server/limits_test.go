package server

import (
	"strings"
	"testing"

	"github.com/invoiced/invoiced/engine"
)

// TestMaxAmounts_OperatorCapRefusesAboveIt: an operator's lower cap is the
// bound a create is refused against, for crypto amounts and for fiat
// amounts once converted, naming the field and the bound; nothing is
// stored.
func TestMaxAmounts_OperatorCapRefusesAboveIt(t *testing.T) {
	w := newWebhookHarness(t, func(c *Config) { c.MaxAmounts = map[string]string{"BTC": "10"} })
	var refused struct {
		Code    string `json:"error"`
		Message string `json:"message"`
	}
	w.call("POST", "/api/v1/invoices", w.key, `{"order_id":"a","crypto_amount":"10.00000001","currency":"BTC"}`, 422, &refused)
	if refused.Message != "crypto_amount: must be at most 10 BTC" {
		t.Errorf("above the cap: %+v", refused)
	}
	// 1,000,000 EUR at the dev rate of 60,000 EUR is 16.7 BTC.
	w.call("POST", "/api/v1/invoices", w.key, `{"order_id":"b","fiat_amount":1000000,"currency":"BTC"}`, 422, &refused)
	if !strings.HasPrefix(refused.Message, "fiat_amount: converts to ") || !strings.HasSuffix(refused.Message, "above the maximum of 10 BTC") {
		t.Errorf("fiat above the cap: %+v", refused)
	}
	if n := w.total(); n != 0 {
		t.Fatalf("%d invoices stored after the refusals", n)
	}
	w.create(`{"order_id":"c","crypto_amount":"10","currency":"BTC"}`)  // the cap itself
	w.create(`{"order_id":"d","crypto_amount":"100","currency":"ETH"}`) // ETH keeps its own bound
}

func TestBuildRules_MaxAmounts(t *testing.T) {
	pattern := func(string) (string, error) { return "", nil }
	for _, tc := range []struct {
		caps map[string]string
		err  string // "" = accepted
	}{
		{map[string]string{"BTC": "0.5", "ETH": "1000"}, ""},
		{map[string]string{"BTC": "21000000"}, ""},
		{map[string]string{"BTC": "21000001"}, "maximum amount for BTC"}, // above the supply
		{map[string]string{"BTC": "0.000001"}, "maximum amount for BTC"}, // below the minimum
		{map[string]string{"BTC": "ten"}, "maximum amount for BTC"},      // not a number
		{map[string]string{"DOGE": "1"}, "not an enabled currency"},      // unknown
		{map[string]string{"LTC": "1"}, "not an enabled currency"},       // not enabled
	} {
		rules, err := buildRules(Config{MaxAmounts: tc.caps}, []string{"BTC", "ETH"}, pattern)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.caps, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want %q", tc.caps, err, tc.err)
		case err == nil:
			for code, text := range tc.caps {
				c, _ := rules.Currencies.Lookup(code)
				if got := engine.FormatDecimal(c.MaxAmount, c.Decimals); got != text {
					t.Errorf("%s max = %s, want %s", code, got, text)
				}
			}
		}
	}
}

// TestDevRoutes_RefuseDuplicateKeys: the dev faucet reads its body like
// every other route.
func TestDevRoutes_RefuseDuplicateKeys(t *testing.T) {
	h := newHarness(t, nil)
	var refused struct {
		Code    string `json:"error"`
		Message string `json:"message"`
	}
	h.call("POST", "/dev/pay", "", `{"currency":"BTC","address":"x","amount":"1","amount":"2"}`, 400, &refused)
	if refused.Code != "duplicate_key" || !strings.HasPrefix(refused.Message, "amount: ") {
		t.Errorf("/dev/pay: %+v", refused)
	}
	h.call("POST", "/dev/mine", "", `{"currency":"BTC","blocks":1,"Blocks":100}`, 400, &refused)
	if refused.Code != "duplicate_key" || !strings.HasPrefix(refused.Message, "Blocks: ") {
		t.Errorf("/dev/mine: %+v", refused)
	}
}
