package chainwatch

import (
	"fmt"
	"math/big"
	"reflect"
	"testing"
)

func stateSample() monitorState {
	hash := "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054"
	return monitorState{
		Height: 840_000, Hash: hash, Recent: []string{"aa", hash},
		Pay: []*tracked{
			{Currency: "BTC", TxID: "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", Index: 3, Address: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
				Amount: big.NewInt(100_000), Height: 840_000, Hash: hash, SentHeight: 840_000, SentHash: hash, SentConf: 1, Sent: true},
			{Currency: "BTC", TxID: "not-hex", Index: 1<<32 - 1, Address: "bc1q", Amount: new(big.Int).Lsh(big.NewInt(1), 100), RBF: true, Missing: 1},
			{Currency: "ETH", TxID: "0xABCDEF", Address: "0x52908400098527886E0F7030069857D2E4169EE7", Amount: big.NewInt(0), Missing: -1},
			{Currency: "BTC", TxID: "ABCD", Amount: big.NewInt(-5), Height: 840_000, Hash: hash},
			{Currency: "LTC", TxID: "00ff", Amount: new(big.Int).SetUint64(1<<64 - 1), Hash: "aa", SentHash: hash},
		},
	}
}

func TestStateRoundTrip(t *testing.T) {
	for name, st := range map[string]monitorState{
		"empty":                    {},
		"payments, repeated names": stateSample(),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decodeState(encodeState(st))
			if err != nil {
				t.Fatal(err)
			}
			want := st
			if want.Recent == nil {
				want.Recent = []string{}
			}
			if want.Pay == nil {
				want.Pay = []*tracked{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

// A JSON record (what monitors wrote before the binary form) still reads.
func TestStateReadsJSON(t *testing.T) {
	rec := `{"height":7,"hash":"h7","recent":["h6","h7"],"payments":[{"currency":"BTC","txid":"t","index":2,"address":"a","amount":5000,"height":7,"hash":"h7","sent_height":7,"sent_hash":"h7","sent_conf":1,"sent":true}]}`
	st, err := decodeState([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	want := monitorState{Height: 7, Hash: "h7", Recent: []string{"h6", "h7"}, Pay: []*tracked{
		{Currency: "BTC", TxID: "t", Index: 2, Address: "a", Amount: big.NewInt(5000), Height: 7, Hash: "h7", SentHeight: 7, SentHash: "h7", SentConf: 1, Sent: true},
	}}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("got %+v, want %+v", st, want)
	}
	if c, err := CursorOf([]byte(rec)); err != nil || c.Height != 7 || c.Hash != "h7" {
		t.Fatalf("CursorOf = %+v, %v", c, err)
	}
}

// Every cut of a record, and records that name what they never wrote, are
// errors.
func TestStateCorrupt(t *testing.T) {
	rec := encodeState(stateSample())
	for n := range len(rec) {
		if _, err := decodeState(rec[:n]); err == nil {
			t.Fatalf("record cut to %d of %d bytes decoded", n, len(rec))
		}
	}
	for name, b := range map[string][]byte{
		"unknown format":  {9},
		"trailing bytes":  append(encodeState(monitorState{}), 0),
		"unknown name":    {stateFormat, 0, 5},
		"huge count":      {stateFormat, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"zero signed one": minimalPayment(1),
	} {
		if _, err := decodeState(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// minimalPayment is a record of one payment whose amount is the empty
// magnitude with sign byte sign.
func minimalPayment(sign byte) []byte {
	return []byte{stateFormat, 0, 0, 0, 0, 1, // height, hash "", no recent, one payment
		0, 0, 0, 1, 'a', 0, 1, 'b', // currency "", txid "a", index, address "b"
		sign, 0, 0, 0, 1, 0, 1, 0, 0} // amount, flags, height, hash, sent height and hash, conf, missing
}

func TestStateMinimal(t *testing.T) {
	st, err := decodeState(minimalPayment(0))
	if err != nil || len(st.Pay) != 1 || st.Pay[0].Amount.Sign() != 0 || st.Pay[0].Address != "b" {
		t.Fatalf("%+v, %v", st, err)
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(stateSample()))
	f.Add(encodeState(monitorState{}))
	f.Add([]byte(`{"height":1,"hash":"h","recent":["h"],"payments":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil || len(b) == 0 || b[0] != stateFormat {
			return
		}
		// A binary record that decodes encodes back to a record that
		// decodes to the same state.
		again, err := decodeState(encodeState(st))
		if err != nil || !reflect.DeepEqual(again, st) {
			t.Fatalf("re-encoded state %+v: %+v, %v", st, again, err)
		}
	})
}

// BenchmarkEncodeState encodes the state a 10,000-output block leaves:
// the monitor writes it twice per round on the round's critical path
// (write-ahead, then with the new cursor).
func BenchmarkEncodeState(b *testing.B) {
	hash := "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054"
	st := monitorState{Height: 840_000, Hash: hash, Recent: []string{hash}}
	for i := range 10_000 {
		st.Pay = append(st.Pay, &tracked{Currency: "BTC", TxID: fmt.Sprintf("%064x", i*7919), Index: uint32(i % 3),
			Address: fmt.Sprintf("bcrt1qpaid%031d", i), Amount: big.NewInt(100_000), Height: 840_000, Hash: hash,
			SentHeight: 840_000, SentHash: hash, SentConf: 1, Sent: true})
	}
	b.ReportAllocs()
	for b.Loop() {
		encodeState(st)
	}
}
