package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func eurRate() *Rate { return &Rate{Fiat: "EUR", Value: "60000", Source: "static", At: t0} }

func newCreate(req CreateRequest) CreateInvoice {
	return CreateInvoice{ID: uuid.New(), ProjectID: uuid.New(), Request: req, Rate: eurRate(), Address: "bcrt1qexample", AddressIndex: 7, At: t0}
}

func created(t testing.TB, r *Rules, req CreateRequest) Invoice {
	t.Helper()
	evs, err := r.Decide(Invoice{}, newCreate(req))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return ApplyAll(Invoice{}, evs)
}

func TestDecideCreate_FiatAndCrypto(t *testing.T) {
	r := DefaultRules()
	fiat := created(t, r, CreateRequest{OrderID: "o-1", Currency: "btc", FiatAmount: ptr("100.00")})
	if fiat.Currency != "BTC" || fiat.Amount.String() != "166667" || fiat.FiatAmount.String() != "10000" || fiat.FiatCurrency != "EUR" {
		t.Fatalf("fiat invoice = %+v", fiat)
	}
	if fiat.Status != StatusNew || fiat.Version != 1 || !fiat.ExpiresAt.Equal(t0.Add(30*time.Minute)) || fiat.Rate.Value != "60000" {
		t.Fatalf("fiat invoice defaults = status %s version %d expires %s rate %+v", fiat.Status, fiat.Version, fiat.ExpiresAt, fiat.Rate)
	}
	crypto := created(t, r, CreateRequest{OrderID: "o-2", Currency: "ETH", CryptoAmount: ptr("0.05"), ExpireMin: ptr[int64](5), AllowedErrorPercent: ptr[int64](2)})
	if crypto.Amount.String() != "50000000000000000" || crypto.FiatAmount != nil || crypto.ExpireMin != 5 || crypto.AllowedErrorPercent != 2 {
		t.Fatalf("crypto invoice = %+v", crypto)
	}
}

func TestDecideCreate_Invalid(t *testing.T) {
	r := DefaultRules()
	tests := []struct {
		name  string
		req   CreateRequest
		field string
	}{
		{"missing order id", CreateRequest{Currency: "BTC", CryptoAmount: ptr("0.1")}, "order_id"},
		{"long order id", CreateRequest{OrderID: strings.Repeat("x", 129), Currency: "BTC", CryptoAmount: ptr("0.1")}, "order_id"},
		{"control char", CreateRequest{OrderID: "a\nb", Currency: "BTC", CryptoAmount: ptr("0.1")}, "order_id"},
		{"missing currency", CreateRequest{OrderID: "o", CryptoAmount: ptr("0.1")}, "currency"},
		{"unknown currency", CreateRequest{OrderID: "o", Currency: "DOGE", CryptoAmount: ptr("0.1")}, "currency"},
		{"no amount", CreateRequest{OrderID: "o", Currency: "BTC"}, "crypto_amount"},
		{"both amounts", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), FiatAmount: ptr("1")}, "fiat_amount"},
		{"too precise", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.000000001")}, "crypto_amount"},
		{"negative", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("-1")}, "crypto_amount"},
		{"zero", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0")}, "crypto_amount"},
		{"dust", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.00000545")}, "crypto_amount"},
		{"fiat cents", CreateRequest{OrderID: "o", Currency: "BTC", FiatAmount: ptr("1.001")}, "fiat_amount"},
		{"fiat dust", CreateRequest{OrderID: "o", Currency: "BTC", FiatAmount: ptr("0.01")}, "fiat_amount"},
		{"fiat currency", CreateRequest{OrderID: "o", Currency: "BTC", FiatAmount: ptr("10"), FiatCurrency: ptr("USD")}, "fiat_currency"},
		{"error percent", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), AllowedErrorPercent: ptr[int64](101)}, "allowed_error_percent"},
		{"expire zero", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), ExpireMin: ptr[int64](0)}, "expire_min"},
		{"callback scheme", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), CallbackURL: ptr("ftp://x.example/")}, "callback_url"},
		{"callback relative", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), CallbackURL: ptr("/hook")}, "callback_url"},
		{"redirect scheme", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), RedirectURL: ptr("javascript:alert(1)")}, "redirect_url"},
		{"redirect relative", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), RedirectURL: ptr("/thanks")}, "redirect_url"},
		{"created_at on live invoice", CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1"), CreatedAt: ptr("2024-01-01")}, "created_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := r.Decide(Invoice{}, newCreate(tt.req))
			var ve *ValidationError
			if !errors.As(err, &ve) || len(evs) != 0 {
				t.Fatalf("Decide = %v, %v; want a validation error", evs, err)
			}
			if !slices.ContainsFunc(ve.Fields, func(f FieldError) bool { return f.Field == tt.field }) {
				t.Fatalf("fields %+v do not name %s", ve.Fields, tt.field)
			}
		})
	}
}

func TestDecideCreate_NoRateForFiat(t *testing.T) {
	c := newCreate(CreateRequest{OrderID: "o", Currency: "BTC", FiatAmount: ptr("10")})
	c.Rate = nil
	if _, err := DefaultRules().Decide(Invoice{}, c); !errors.Is(err, ErrNoRate) {
		t.Fatalf("err = %v, want ErrNoRate", err)
	}
}

func TestDecideCreate_ExistingRefused(t *testing.T) {
	r := DefaultRules()
	inv := created(t, r, CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1")})
	if _, err := r.Decide(inv, newCreate(CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1")})); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
}

func TestFingerprint_SameMeaningSameFingerprint(t *testing.T) {
	r := DefaultRules()
	a := created(t, r, CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.10")})
	b := created(t, r, CreateRequest{OrderID: "o", Currency: "btc", CryptoAmount: ptr("0.1"), ExpireMin: ptr[int64](30)})
	c := created(t, r, CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.11")})
	if a.Fingerprint != b.Fingerprint {
		t.Fatalf("same request spelled differently: %s != %s", a.Fingerprint, b.Fingerprint)
	}
	if a.Fingerprint == c.Fingerprint {
		t.Fatal("different amounts share a fingerprint")
	}
}

func TestDecideArchived(t *testing.T) {
	r := DefaultRules()
	evs, err := r.Decide(Invoice{}, CreateArchived{ID: uuid.New(), ProjectID: uuid.New(), At: t0, Rate: eurRate(),
		Request: CreateRequest{OrderID: "h-1", Currency: "BTC", FiatAmount: ptr("100"), CreatedAt: ptr("2023-01-01T10:00:00Z")}})
	if err != nil {
		t.Fatal(err)
	}
	inv := ApplyAll(Invoice{}, evs)
	want := time.Date(2023, 1, 1, 10, 0, 0, 0, time.UTC)
	if inv.Status != StatusArchived || !inv.CreatedAt.Equal(want) || !inv.ExpiresAt.Equal(want) || inv.Address != "" || inv.Amount.String() != "166667" {
		t.Fatalf("archived = %+v", inv)
	}
	for _, layout := range []string{"2023-01-01", "2023-01-01 10:00:00", "01/02/2023 10:00:00", "2023-01-01T10:00:00.123456789+02:00"} {
		if _, err := ParseArchivedTime(layout); err != nil {
			t.Errorf("ParseArchivedTime(%q): %v", layout, err)
		}
	}
	_, err = r.Decide(Invoice{}, CreateArchived{ID: uuid.New(), At: t0, Request: CreateRequest{OrderID: "h", Currency: "BTC", CryptoAmount: ptr("1"), CreatedAt: ptr("2027-01-01")}})
	if !errors.Is(err, ErrValidation) {
		t.Fatalf("future created_at: err = %v", err)
	}
}

func TestDecideChangeStatus_Table(t *testing.T) {
	r := DefaultRules()
	base := created(t, r, CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1")})
	for _, from := range Statuses {
		for _, to := range Statuses {
			inv := base
			inv.Status = from
			evs, err := r.Decide(inv, ChangeStatus{Target: to, Comment: "why", At: t0.Add(time.Minute)})
			want := slices.Contains(manualTargets[from], to)
			if want {
				if err != nil || len(evs) != 1 {
					t.Errorf("%s -> %s: %v, want allowed", from, to, err)
					continue
				}
				after := Apply(inv, evs[0])
				if after.Status != to || !after.UpdatedAt.Equal(t0.Add(time.Minute)) || evs[0].(StatusChanged).Comment != "why" {
					t.Errorf("%s -> %s applied = %+v", from, to, after)
				}
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || !slices.Equal(te.Allowed, manualTargets[from]) {
				t.Errorf("%s -> %s: err = %v, want TransitionError listing %v", from, to, err, manualTargets[from])
			}
		}
	}
}

func TestDecideChangeStatus_BadInput(t *testing.T) {
	r := DefaultRules()
	inv := created(t, r, CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1")})
	if _, err := r.Decide(Invoice{}, ChangeStatus{Target: StatusCancelled}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing invoice: %v", err)
	}
	if _, err := r.Decide(inv, ChangeStatus{Target: "paid"}); !errors.Is(err, ErrValidation) {
		t.Errorf("unknown status: %v", err)
	}
	if _, err := r.Decide(inv, ChangeStatus{Target: StatusCancelled, Comment: strings.Repeat("x", MaxCommentLen+1)}); !errors.Is(err, ErrValidation) {
		t.Errorf("long comment: %v", err)
	}
}

func TestPaymentURI(t *testing.T) {
	reg, _ := NewRegistry(DefaultCurrencies())
	btc, _ := reg.Lookup("BTC")
	eth, _ := reg.Lookup("ETH")
	usdt, _ := reg.Lookup("USDT")
	tests := []struct {
		c    Currency
		amt  Units
		want string
	}{
		{btc, NewUnits(150000), "bitcoin:bc1qaddr?amount=0.0015"},
		{eth, NewUnits(2_014_000_000_000_000_000), "ethereum:0xabc?value=2014000000000000000"},
		{eth, NewUnits(9_000_000_000_000_000_000).Add(NewUnits(9_000_000_000_000_000_000).Add(NewUnits(2_000_000_000_000_000_000))), "ethereum:0xabc?value=20000000000000000000"}, // over 2^64 wei
		{usdt, NewUnits(1_500_000), "ethereum:0xdAC17F958D2ee523a2206206994597C13D831ec7/transfer?address=0xabc&uint256=1500000"},
	}
	addr := map[string]string{"BTC": "bc1qaddr", "ETH": "0xabc", "USDT": "0xabc"}
	for _, tt := range tests {
		if got := tt.c.PaymentURI(addr[tt.c.Code], tt.amt); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.c.Code, got, tt.want)
		}
	}
}

func TestCheckedCreate_ZeroValueIsRefused(t *testing.T) {
	if _, err := (CheckedCreate{}).Event(uuid.New(), uuid.New(), "addr", 1); err == nil {
		t.Fatal("a zero CheckedCreate made an event")
	}
}

// Order_id claims store fingerprints, so a request that existed before must
// keep its fingerprint across releases: these are pinned.
func TestFingerprint_Pinned(t *testing.T) {
	r := DefaultRules()
	for _, tc := range []struct {
		req  CreateRequest
		want string
	}{
		{CreateRequest{OrderID: "o-1", Currency: "BTC", CryptoAmount: ptr("0.001")}, "f2dc451b594a57f11505e1623f68655d5582bc67aecc8ee55a43b7122c29729e"},
		{CreateRequest{OrderID: "o-2", OrderName: ptr("Shoes"), Currency: "ETH", FiatAmount: ptr("29.99"), FiatCurrency: ptr("EUR"),
			AllowedErrorPercent: ptr[int64](2), ExpireMin: ptr[int64](15), CallbackURL: ptr("https://shop.example/cb"), RedirectURL: ptr("https://shop.example/thanks")}, "6f8586a046b9a52bf0b19d2a1951bf1efa8c4f2afb4ac093446f6b8dc4e204d0"},
	} {
		if got := created(t, r, tc.req).Fingerprint; got != tc.want {
			t.Errorf("%s: fingerprint %s, want %s", tc.req.OrderID, got, tc.want)
		}
	}
}
