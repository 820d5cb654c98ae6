package engine

import (
	"bytes"
	"encoding/json"
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
	got, err := DecodeSnapshot(EncodeSnapshot(inv))
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

// paidInvoice is an invoice with every optional field set, for codec tests.
func paidInvoice(t testing.TB) Invoice {
	t.Helper()
	inv := created(t, DefaultRules(), CreateRequest{OrderID: "o-1", Currency: "BTC", FiatAmount: ptr("1234.56"), OrderName: ptr("Bücher"), CallbackURL: ptr("https://shop.example/hook"), RedirectURL: ptr("https://shop.example/thanks")})
	inv.Version = 4
	inv.Status = StatusPaidPartial
	inv.UpdatedAt = t0.Add(90 * time.Second)
	inv.Paid = NewUnits(1)
	inv.ManualStatus = true
	inv.Transactions = []Transaction{
		{TxID: "aa", Index: 1, Amount: NewUnits(1), Height: 12, BlockHash: "bh", Confirmations: 3, SeenAt: t0.Add(time.Nanosecond)},
		{TxID: "bb", Index: 4294967295, Amount: NewUnits(70000000000000), RBF: true, Late: true, SeenAt: t0},
	}
	return inv
}

// TestSnapshotCodec_EveryField: the binary form keeps every field, and a
// snapshot stored as JSON (format 1, written before the binary form)
// decodes to the same state.
func TestSnapshotCodec_EveryField(t *testing.T) {
	inv := paidInvoice(t)
	b := EncodeSnapshot(inv)
	got, err := DecodeSnapshot(b)
	if err != nil || !reflect.DeepEqual(got, inv) {
		t.Fatalf("binary round trip: %v\n got %+v\nwant %+v", err, got, inv)
	}
	body, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	old, err := DecodeSnapshot(append([]byte{formatJSON}, body...))
	if err != nil || !reflect.DeepEqual(old, got) {
		t.Fatalf("JSON snapshot: %v\n got %+v\nwant %+v", err, old, got)
	}
	if len(b) >= len(body)/2 {
		t.Errorf("binary snapshot of %d bytes, JSON %d", len(b), len(body))
	}
}

// TestEventCodec_ReadsJSON: events stored as JSON (format 1) still decode.
func TestEventCodec_ReadsJSON(t *testing.T) {
	events := []Event{
		Created{Invoice: paidInvoice(t)},
		StatusChanged{From: StatusNew, To: StatusExpired, Reason: ReasonExpiry, At: t0},
		PaymentSeen{Tx: paidInvoice(t).Transactions[0]},
		PaymentUpdated{TxID: "aa", Index: 1, Height: 13, BlockHash: "x", Confirmations: 2, At: t0},
		PaymentReverted{TxID: "aa", Index: 1, Reason: "reorg", At: t0},
	}
	for _, e := range events {
		body, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeEvent(append([]byte{formatJSON, byte(e.Kind())}, body...))
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("JSON %T: %v\n got %+v\nwant %+v", e, err, got, e)
		}
	}
}

// TestDecode_OldRecordWithoutRedirectURL: records written before
// redirect_url existed end after manual_status, and still decode.
func TestDecode_OldRecordWithoutRedirectURL(t *testing.T) {
	inv := paidInvoice(t)
	inv.RedirectURL = ""
	snap := EncodeSnapshot(inv)
	old := snap[:len(snap)-1] // the empty redirect_url's length byte
	got, err := DecodeSnapshot(old)
	if err != nil || !reflect.DeepEqual(got, inv) {
		t.Fatalf("old snapshot: %v\n got %+v\nwant %+v", err, got, inv)
	}
	ev, _ := EncodeEvent(Created{Invoice: inv})
	e, err := DecodeEvent(ev[:len(ev)-1])
	if err != nil || !reflect.DeepEqual(e, Created{Invoice: inv}) {
		t.Fatalf("old created event: %v\n got %+v", err, e)
	}
}

// TestDecode_Truncated: every prefix of a valid record is ErrCorrupt, but
// the one that ends where records written before redirect_url ended.
func TestDecode_Truncated(t *testing.T) {
	inv := paidInvoice(t)
	snap := EncodeSnapshot(inv)
	oldEnd := len(snap) - 1 - len(inv.RedirectURL)
	for n := range len(snap) {
		if n == oldEnd {
			continue
		}
		if _, err := DecodeSnapshot(snap[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("snapshot cut at %d of %d: %v", n, len(snap), err)
		}
	}
	ev, _ := EncodeEvent(PaymentSeen{Tx: paidInvoice(t).Transactions[1]})
	for n := range len(ev) {
		if _, err := DecodeEvent(ev[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("event cut at %d of %d: %v", n, len(ev), err)
		}
	}
}

// FuzzDecodeRecord: any bytes decode to a record or ErrCorrupt, never a
// panic; whatever decodes re-encodes to the binary form, which decodes and
// re-encodes to the same bytes. (Equality is of the binary form, not of the
// decoded values: a JSON record may spell a value the binary form
// normalizes, e.g. an absent amount as zero.)
func FuzzDecodeRecord(f *testing.F) {
	inv := created(f, DefaultRules(), CreateRequest{OrderID: "o", Currency: "ETH", FiatAmount: ptr("12.34")})
	snap := EncodeSnapshot(inv)
	ev, _ := EncodeEvent(StatusChanged{From: StatusNew, To: StatusCancelled, Reason: ReasonManual, At: t0})
	f.Add(snap)
	f.Add(ev)
	f.Add([]byte{formatBinary, byte(KindPaymentSeen), 2, 'a', 'b', 1, 2, 1, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		if inv, err := DecodeSnapshot(b); err == nil {
			again := EncodeSnapshot(inv)
			back, err := DecodeSnapshot(again)
			if err != nil {
				t.Fatalf("re-encoded snapshot does not decode: %v", err)
			}
			if twice := EncodeSnapshot(back); !bytes.Equal(twice, again) {
				t.Fatalf("snapshot does not round trip:\n%x\n%x", again, twice)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("snapshot error %v is not ErrCorrupt", err)
		}
		if e, err := DecodeEvent(b); err == nil {
			again, err := EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeEvent(again)
			if err != nil {
				t.Fatalf("re-encoded event does not decode: %v", err)
			}
			if twice, _ := EncodeEvent(back); !bytes.Equal(twice, again) {
				t.Fatalf("event does not round trip:\n%x\n%x", again, twice)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("event error %v is not ErrCorrupt", err)
		}
	})
}

// TestReplay: a snapshot plus the events after it replays to the state;
// events that do not fit the state are ErrCorrupt, not a panic.
func TestReplay(t *testing.T) {
	inv := paidInvoice(t)
	snap := EncodeSnapshot(inv)
	ev, _ := EncodeEvent(StatusChanged{From: inv.Status, To: StatusCancelled, Reason: ReasonManual, At: t0})
	got, err := Replay(snap, [][]byte{ev})
	if err != nil || got.Status != StatusCancelled || got.Version != inv.Version+1 {
		t.Fatalf("replay: %v %s v%d", err, got.Status, got.Version)
	}
	created, _ := EncodeEvent(Created{Invoice: inv})
	if _, err := Replay(snap, [][]byte{created}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a second creation replayed: %v", err)
	}
}

// TestSnapshotCodec_SmallestTransactions: transactions as small as the
// encoding allows still decode (the count check must not be stricter than
// the encoding).
func TestSnapshotCodec_SmallestTransactions(t *testing.T) {
	inv := paidInvoice(t)
	inv.Transactions = nil
	for range 3 {
		inv.Transactions = append(inv.Transactions, Transaction{TxID: "a", Amount: NewUnits(1), SeenAt: time.Unix(100, 0).UTC()})
	}
	b := EncodeSnapshot(inv)
	if got, err := DecodeSnapshot(b); err != nil || !reflect.DeepEqual(got, inv) {
		t.Fatalf("round trip: %v", err)
	}
}

// TestDecode_StringsOwnTheirBytes: the strings of a decoded record share
// one copy of it, never the caller's buffer, which the store reuses.
func TestDecode_StringsOwnTheirBytes(t *testing.T) {
	inv := created(t, DefaultRules(), CreateRequest{OrderID: "order-7", Currency: "ETH", FiatAmount: ptr("12.34"), OrderName: ptr("seven")})
	snap := EncodeSnapshot(inv)
	ev, err := EncodeEvent(StatusChanged{From: StatusNew, To: StatusCancelled, Reason: ReasonManual, Comment: "why not", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	e, err := DecodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range snap {
		snap[i] = 'x'
	}
	for i := range ev {
		ev[i] = 'x'
	}
	if got.OrderID != "order-7" || got.OrderName != "seven" || got.Currency != "ETH" || got.Address != inv.Address || got.Fingerprint != inv.Fingerprint {
		t.Errorf("snapshot strings changed with the buffer: %q %q %q %q", got.OrderID, got.OrderName, got.Currency, got.Address)
	}
	if sc := e.(StatusChanged); sc.Comment != "why not" || sc.Reason != ReasonManual || sc.To != StatusCancelled {
		t.Errorf("event strings changed with the buffer: %+v", sc)
	}
}

// TestDecode_AmountsAcrossWordSizes: amounts of one to eight bytes decode
// in a single word, longer ones through math/big; both read back exact.
func TestDecode_AmountsAcrossWordSizes(t *testing.T) {
	inv := created(t, DefaultRules(), CreateRequest{OrderID: "o", Currency: "ETH", CryptoAmount: ptr("1")})
	for _, amount := range []string{"0", "1", "255", "256", "9223372036854775808", "18446744073709551615", "18446744073709551616", "1000000000000000000000000000000"} {
		u, err := ParseUnits(amount)
		if err != nil {
			t.Fatal(err)
		}
		for _, neg := range []bool{false, true} {
			want := u
			if neg {
				want = NewUnits(0).Sub(u)
			}
			inv.Amount, inv.Paid = want, want
			got, err := DecodeSnapshot(EncodeSnapshot(inv))
			if err != nil {
				t.Fatalf("%s: %v", want, err)
			}
			if got.Amount.Cmp(want) != 0 || got.Paid.Cmp(want) != 0 || got.Amount.String() != want.String() {
				t.Errorf("%s decoded as %s and %s", want, got.Amount, got.Paid)
			}
		}
	}
}
