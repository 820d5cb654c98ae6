package main

import (
	"io"
	"maps"
	"testing"

	"github.com/invoiced/invoiced/http/checkout"
)

func TestParseConfig_Checkout(t *testing.T) {
	env := map[string]string{
		"INVOICED_PUBLIC_URL":               "https://pay.example.com/shop/",
		"INVOICED_CHECKOUT_FRAME_ANCESTORS": "https://shop.example  https://*.shop.example",
		"INVOICED_EXPLORERS":                "btc=https://mempool.space/tx/{txid}",
	}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL != "https://pay.example.com/shop" || cfg.CheckoutFrameAncestors != "https://shop.example https://*.shop.example" ||
		!maps.Equal(cfg.Explorers, map[string]string{"BTC": "https://mempool.space/tx/{txid}"}) {
		t.Fatalf("public URL %q, frame ancestors %q, explorers %v", cfg.PublicURL, cfg.CheckoutFrameAncestors, cfg.Explorers)
	}
	sc, err := serverConfig(cfg, nil, io.Discard)
	if err != nil || sc.PublicURL != cfg.PublicURL || sc.CheckoutFrameAncestors != cfg.CheckoutFrameAncestors || sc.Explorers["BTC"] == "" {
		t.Fatalf("server config: %+v, %v", sc, err)
	}
	if cfg, _ := parseConfig(nil, func(string) string { return "" }); cfg.PublicURL != "" || cfg.CheckoutFrameAncestors != "*" {
		t.Fatalf("defaults: public URL %q (want empty: the listen address), frame ancestors %q", cfg.PublicURL, cfg.CheckoutFrameAncestors)
	}
	for _, bad := range []map[string]string{
		{"INVOICED_PUBLIC_URL": "pay.example.com"},
		{"INVOICED_PUBLIC_URL": "ftp://pay.example.com"},
		{"INVOICED_PUBLIC_URL": "https://pay.example.com/?a=1"},
		{"INVOICED_PUBLIC_URL": "https://user:pw@pay.example.com"},
		{"INVOICED_PUBLIC_URL": "https://pay.example.com/#x"},
		{"INVOICED_CHECKOUT_FRAME_ANCESTORS": "https://shop.example; script-src *"},
		{"INVOICED_CHECKOUT_FRAME_ANCESTORS": "'none' https://shop.example"},
		{"INVOICED_CHECKOUT_FRAME_ANCESTORS": "javascript:alert(1)"},
		{"INVOICED_EXPLORERS": "BTC=https://mempool.space/tx/"},
		{"INVOICED_EXPLORERS": "BTC=javascript:{txid}"},
		{"INVOICED_EXPLORERS": "https://mempool.space/tx/{txid}"},
	} {
		if _, err := parseConfig(nil, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
}

// The checkout page's stream caps default to checkout's and reach the
// server's config from the environment or a flag.
func TestParseConfig_CheckoutStreams(t *testing.T) {
	for _, tc := range []struct {
		env          map[string]string
		args         []string
		total, perIP int
	}{
		{nil, nil, checkout.DefaultMaxStreams, checkout.DefaultMaxStreamsPerIP},
		{map[string]string{"INVOICED_CHECKOUT_MAX_STREAMS": "100", "INVOICED_CHECKOUT_MAX_STREAMS_PER_IP": "50"}, nil, 100, 50},
		{map[string]string{"INVOICED_CHECKOUT_MAX_STREAMS_PER_IP": "50"}, []string{"-checkout-max-streams-per-ip", "64"}, checkout.DefaultMaxStreams, 64},
	} {
		cfg, err := parseConfig(tc.args, func(k string) string { return tc.env[k] })
		if err != nil || cfg.CheckoutMaxStreams != tc.total || cfg.CheckoutMaxStreamsPerIP != tc.perIP {
			t.Errorf("%v %v: %d in total, %d per IP (%v); want %d, %d", tc.env, tc.args, cfg.CheckoutMaxStreams, cfg.CheckoutMaxStreamsPerIP, err, tc.total, tc.perIP)
		}
	}
	for _, bad := range []map[string]string{
		{"INVOICED_CHECKOUT_MAX_STREAMS": "0"},
		{"INVOICED_CHECKOUT_MAX_STREAMS_PER_IP": "-1"},
		{"INVOICED_CHECKOUT_MAX_STREAMS_PER_IP": "many"},
	} {
		if _, err := parseConfig(nil, func(k string) string { return bad[k] }); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
}
