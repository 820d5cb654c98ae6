package engine

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func BenchmarkDecideCreate(b *testing.B) {
	r := DefaultRules()
	cmd := CreateInvoice{ID: uuid.New(), ProjectID: uuid.New(), Rate: eurRate(), Address: "bcrt1qexample", At: t0,
		Request: CreateRequest{OrderID: "order-123", Currency: "BTC", FiatAmount: ptr("149.99"), CallbackURL: ptr("https://shop.example/hook")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Decide(Invoice{}, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecideApplyChangeStatus(b *testing.B) {
	r := DefaultRules()
	evs, _ := r.Decide(Invoice{}, newCreate(CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.1")}))
	inv := ApplyAll(Invoice{}, evs)
	cmd := ChangeStatus{Target: StatusCancelled, Comment: "customer left", At: t0.Add(time.Minute)}
	b.ReportAllocs()
	for b.Loop() {
		evs, err := r.Decide(inv, cmd)
		if err != nil {
			b.Fatal(err)
		}
		_ = ApplyAll(inv, evs)
	}
}

func benchInvoice() Invoice {
	r := DefaultRules()
	evs, _ := r.Decide(Invoice{}, newCreate(CreateRequest{OrderID: "order-123", Currency: "BTC", FiatAmount: ptr("149.99"), CallbackURL: ptr("https://shop.example/hook"), OrderName: ptr("Blue shoes")}))
	return ApplyAll(Invoice{}, evs)
}

func BenchmarkEncodeEvent(b *testing.B) {
	e := Created{Invoice: benchInvoice()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeEvent(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	enc, _ := EncodeEvent(Created{Invoice: benchInvoice()})
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvent(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	enc := EncodeSnapshot(benchInvoice())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeSnapshot(enc); err != nil {
			b.Fatal(err)
		}
	}
}
