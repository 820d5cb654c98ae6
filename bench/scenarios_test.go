package bench

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestLookupScenarios(t *testing.T) {
	tests := []struct {
		spec    string
		want    []string
		wantErr string
	}{
		{"requests", []string{"create", "get", "list", "mixed"}, ""},
		{"", []string{"create", "get", "list", "mixed"}, ""},
		{"events", []string{"restart", "payments", "expiry", "webhooks"}, ""},
		{"all", []string{"create", "get", "list", "mixed", "restart", "payments", "expiry", "webhooks"}, ""},
		{"get, create,get", []string{"create", "get"}, ""},
		{"mixed", []string{"mixed"}, ""},
		{"webhooks,get,events", []string{"get", "restart", "payments", "expiry", "webhooks"}, ""},
		{"restart,create", []string{"create", "restart"}, ""},
		{"delete", nil, "unknown scenario"},
		{",", nil, "no scenario"},
	}
	for _, tt := range tests {
		got, err := LookupScenarios(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LookupScenarios(%q) error %v, want one containing %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(scenarioNames(got), tt.want) {
			t.Errorf("LookupScenarios(%q) = %v, %v; want %v", tt.spec, scenarioNames(got), err, tt.want)
		}
	}
}

func TestInvoiceBody_IsValidJSONWithEveryPricing(t *testing.T) {
	for n := range uint64(20) {
		b := invoiceBody("run-c0-"+string(rune('a'+n)), n)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("n=%d: %s: %v", n, b, err)
		}
		_, fiat := v["fiat_amount"]
		_, crypto := v["crypto_amount"]
		if fiat == crypto || v["currency"] == "" || v["order_id"] == "" {
			t.Fatalf("n=%d: %s: want exactly one of fiat_amount and crypto_amount", n, b)
		}
	}
}
