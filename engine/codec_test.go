package engine

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestEventCodec_RoundTrip(t *testing.T) {
	inv := created(t, DefaultRules(), CreateRequest{OrderID: "o", Currency: "ETH", FiatAmount: ptr("12.34"), CallbackURL: ptr("https://shop.example/hook")})
	events := []Event{
		Created{Invoice: inv},
		StatusChanged{From: StatusNew, To: StatusCancelled, Reason: ReasonManual, Comment: "customer left", At: t0.Add(time.Hour)},
		PaymentSeen{Tx: Transaction{TxID: "ab", Index: 3, Amount: NewUnits(5), Height: 7, BlockHash: "h7", Confirmations: 1, RBF: true, SeenAt: t0, Late: true}},
		PaymentUpdated{TxID: "ab", Index: 3, Height: 8, BlockHash: "h8", Confirmations: 2, At: t0},
		PaymentReverted{TxID: "ab", Index: 3, Reason: "reorg", At: t0},
	}
	for _, e := range events {
		b, err := EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeEvent(b)
		if err != nil {
			t.Fatalf("decode %T: %v", e, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip %T:\n got %+v\nwant %+v", e, got, e)
		}
	}
}

func TestSnapshotCodec_RoundTrip(t *testing.T) {
	inv := created(t, DefaultRules(), CreateRequest{OrderID: "o", Currency: "USDT", CryptoAmount: ptr("15.5"), OrderName: ptr("Shoes")})
	b, err := EncodeSnapshot(inv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSnapshot(b)
	if err != nil || !reflect.DeepEqual(got, inv) {
		t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, inv)
	}
}

func TestDecode_Corrupt(t *testing.T) {
	for _, b := range [][]byte{nil, {9}, {1}, {1, 99, '{', '}'}, {1, 1, '{'}, {2, 1, '{', '}'}} {
		if _, err := DecodeEvent(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeEvent(%v) = %v, want ErrCorrupt", b, err)
		}
	}
	if _, err := DecodeSnapshot([]byte{1, '['}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeSnapshot: %v", err)
	}
}
