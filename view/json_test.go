package view

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
)

// sample builds a view exercising every field; opts choose which optional
// parts are present.
func sample(text string, n int64, at time.Time, full bool) Invoice {
	num := json.Number("0.00166667")
	v := Invoice{
		InvoiceID: uuid.MustParse("0190b6c2-7c1a-7d3e-9f00-a1b2c3d4e5f6"), UserID: uuid.New(), ProjectID: uuid.New(),
		OrderID: text, OrderName: text + "<name>", Currency: "BTC",
		CryptoAmount: num, CryptoAmountInUnits: "166667", ActualCryptoAmountPaid: "0", ActualCryptoAmountPaidInUnits: "",
		AllowedErrorPercent: int(n % 100), ExpireMin: int(n), Status: engine.Status(text),
		CreatedAt: at, UpdatedAt: at.Add(time.Duration(n)), ExpiresAt: at.In(time.FixedZone("x", 3600)),
		Transactions: []Transaction{},
	}
	if !full {
		v.Transactions = nil
		return v
	}
	fiat, cur, cb := json.Number("12.50"), "EUR"+text, "https://shop.example/cb?a=1&b="+text
	h := uint64(n)
	net := engine.Network{Name: text, Type: "mainnet"}
	v.FiatAmount, v.FiatCurrency, v.CallbackURL = &fiat, &cur, &cb
	v.ExchangeRate = &ExchangeRate{Rate: "60000.5", Fiat: "EUR", Source: text, At: at}
	v.CheckoutURL = "https://pay.example/i/" + text
	v.BlockchainDetails = BlockchainDetails{Currency: "BTC", BlockchainAddress: text, BlockchainNetwork: &net,
		PaymentURI: "bitcoin:" + text + "?amount=0.001", QRCode: text, RequiredConfirmations: int(n)}
	v.Transactions = []Transaction{
		{TxID: text, OutputIndex: uint32(n), Amount: num, AmountInUnits: "1", Confirmations: int(n), BlockHeight: &h, Status: "confirmed", Late: true, SeenAt: at},
		{TxID: "b", Amount: "1", AmountInUnits: "100000000", Status: "unconfirmed", SeenAt: at.Add(time.Nanosecond)},
	}
	return v
}

func checkSame(t *testing.T, v Invoice) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Skipf("encoding/json refuses this view: %v", err)
	}
	if got := v.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
	w := Webhook{Invoice: v, Event: "invoice." + v.OrderID, Simulated: v.ExpireMin%2 == 0}
	want, _ = json.Marshal(w)
	if got := w.AppendJSON([]byte("prefix")); !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("webhook AppendJSON differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
}

func TestAppendJSON_MatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 3, 4, 5, 123456000, time.UTC)
	for name, tc := range map[string]struct {
		text string
		full bool
	}{
		"minimal":            {"o-1", false},
		"every field":        {"o-1", true},
		"escapes":            {"q\"b\\s/\b\f\n\r\t\x00\x1f\x7f<>&", true},
		"unicode":            {"é漢字🙂\u2028\u2029\u00a0", true},
		"invalid utf-8":      {"a\xffb\xc3(\xed\xa0\x80", true},
		"empty strings":      {"", true},
		"archived (no addr)": {"", false},
	} {
		t.Run(name, func(t *testing.T) {
			checkSame(t, sample(tc.text, 7, at, tc.full))
			checkSame(t, sample(tc.text, 0, at.Truncate(time.Second), tc.full))
		})
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("o-1", int64(3), int64(1_700_000_000_123_456_789), true)
	f.Add("<\u2028\xff\"", int64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, text string, n, nanos int64, full bool) {
		checkSame(t, sample(text, n, time.Unix(0, nanos).UTC(), full))
	})
}

func BenchmarkEncode(b *testing.B) {
	v := sample("order-12345", 7, time.Now(), true)
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = v.AppendJSON(make([]byte, 0, 1024))
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, _ = json.Marshal(v)
		}
	})
}

func BenchmarkFromInvoice(b *testing.B) {
	reg, _ := engine.NewRegistry(engine.DefaultCurrencies())
	inv := engine.Invoice{
		ID: uuid.New(), ProjectID: uuid.New(), Version: 3, OrderID: "order-12345", Currency: "BTC",
		Amount: engine.NewUnits(166667), Paid: engine.NewUnits(166667), Status: engine.StatusCompleted,
		Address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", CreatedAt: time.Now(),
		Transactions: []engine.Transaction{{TxID: "ab", Amount: engine.NewUnits(166667), Height: 100, Confirmations: 2}},
	}
	b.ReportAllocs()
	for range b.N {
		v := FromInvoice(inv, uuid.New(), reg, "https://pay.example")
		_ = v.AppendJSON(make([]byte, 0, 1024))
	}
}

func TestFromInvoice_CheckoutLinks(t *testing.T) {
	reg, _ := engine.NewRegistry(engine.DefaultCurrencies())
	id := uuid.MustParse("0190b6c2-7c1a-7d3e-9f00-a1b2c3d4e5f6")
	inv := engine.Invoice{ID: id, Version: 1, Currency: "BTC", Amount: engine.NewUnits(166667), Paid: engine.NewUnits(0),
		Address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"}
	v := FromInvoice(inv, uuid.Nil, reg, "https://pay.example/shop")
	base := "https://pay.example/shop/i/" + id.String()
	if v.CheckoutURL != base || v.BlockchainDetails.QRCode != base+"/qr.png" {
		t.Errorf("checkout_url %q, qrcode %q; want %q and its /qr.png", v.CheckoutURL, v.BlockchainDetails.QRCode, base)
	}
	if want := "bitcoin:" + inv.Address + "?amount=0.00166667"; v.BlockchainDetails.PaymentURI != want {
		t.Errorf("payment_uri %q, want %q", v.BlockchainDetails.PaymentURI, want)
	}
	inv.Address = "" // archived: nothing to pay, no page
	if v := FromInvoice(inv, uuid.Nil, reg, "https://pay.example"); v.CheckoutURL != "" || v.BlockchainDetails.QRCode != "" {
		t.Errorf("archived invoice got checkout_url %q, qrcode %q", v.CheckoutURL, v.BlockchainDetails.QRCode)
	}
}
