package persistence

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
)

func TestAppendAmount_PreservesOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var amounts []*big.Int
	amounts = append(amounts, nil, big.NewInt(0), big.NewInt(1), big.NewInt(255), big.NewInt(256))
	for range 500 {
		a := randomAmount(rng, rng.IntN(200))
		amounts = append(amounts, a)
	}
	for i, a := range amounts {
		for _, b := range amounts[i:] {
			ka, err := appendAmount(nil, a)
			if err != nil {
				t.Fatal(err)
			}
			kb, err := appendAmount(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := bytes.Compare(ka, kb), cmpNilFirst(a, b); got != want {
				t.Fatalf("amounts %v, %v: key order %d, want %d", a, b, got, want)
			}
		}
	}
}

func cmpNilFirst(a, b *big.Int) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Cmp(b)
}

func TestAppendTime_PreservesOrder(t *testing.T) {
	times := []int64{-1 << 62, -1, 0, 1, 255, 256, 1 << 40, 1<<63 - 1}
	for _, a := range times {
		for _, b := range times {
			got := bytes.Compare(appendTime(nil, a), appendTime(nil, b))
			if want := cmpInt(max(a, 0), max(b, 0)); got != want {
				t.Fatalf("times %d, %d: key order %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestIndexPrefix_StringsCannotCollide(t *testing.T) {
	p := uuid.New()
	cases := []struct{ status, currency string }{
		{"new", "BTC"}, {"new", "BTCX"}, {"newB", "TC"}, {"ne", "wBTC"}, {"", "BTC"},
	}
	var prefixes [][]byte
	for _, c := range cases {
		prefixes = append(prefixes, indexPrefix(SortCreatedAt, maskStatus|maskCurrency, p, c.status, c.currency))
	}
	for i, a := range prefixes {
		for j, b := range prefixes {
			if i != j && bytes.HasPrefix(a, b) {
				t.Fatalf("prefix of %+v contains prefix of %+v", cases[i], cases[j])
			}
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{[]byte{1, 2}, []byte{1, 3}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
	}
	for _, tc := range cases {
		if got := prefixEnd(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("prefixEnd(%x) = %x, want %x", tc.in, got, tc.want)
		}
	}
}
