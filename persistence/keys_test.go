package persistence

import (
	"bytes"
	"context"
	"fmt"
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

// TestIndexEntries_OneBuffer checks that a row's keys in every family are
// cut from one buffer sized exactly for them (indexKeysLen), that no key
// reaches into the next, and that each equals the key familyEntry builds
// on its own.
func TestIndexEntries_OneBuffer(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(1), 8*200) // 201 bytes
	tests := []struct {
		name string
		row  *IndexRow
	}{
		{"fiat absent", row(uuid.New(), uuid.New(), "new", "BTC", 5, -1)},
		{"small amounts", row(uuid.New(), uuid.New(), "paid_partial", "USDT", 1e18, 12)},
		{"huge crypto amount", func() *IndexRow {
			r := row(uuid.New(), uuid.New(), "completed", "ETH", 7, 0)
			r.Crypto = huge
			return r
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := indexEntries(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for f, e := range entries {
				if !hasFamily(byte(f)) {
					if e.key != nil {
						t.Errorf("family %d does not exist but has a key", f)
					}
					continue
				}
				if cap(e.key) != len(e.key) {
					t.Errorf("family %d: key capacity %d beyond its length %d", f, cap(e.key), len(e.key))
				}
				alone, err := familyEntry(tt.row, byte(f))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(e.key, alone.key) || !bytes.Equal(e.value, alone.value) {
					t.Errorf("family %d: entry %x=%x, alone %x=%x", f, e.key, e.value, alone.key, alone.value)
				}
				total += len(e.key)
			}
			if want := indexKeysLen(tt.row); total != want {
				t.Errorf("keys take %d bytes, indexKeysLen says %d", total, want)
			}
		})
	}
}

func TestFamilyEnd(t *testing.T) {
	inv := uuid.New()
	for _, tc := range []struct {
		name string
		key  []byte
		want []byte
	}{
		{"stream event", eventKey(inv, 1), []byte{prefixStream + 1}},
		{"order_id claim", claimKey(ClaimOrderID, inv[:], "o-1"), []byte{prefixClaim, byte(ClaimOrderID) + 1}},
		{"address claim", AddressClaim("BTC", 7, "bc1q", inv).key, []byte{prefixClaim, byte(ClaimAddress) + 1}},
		{"claim prefix alone", []byte{prefixClaim}, []byte{prefixClaim + 1}},
		{"list index", indexPrefix(SortUpdatedAt, maskStatus, inv, "new", ""), []byte{prefixIndex, family(SortUpdatedAt, maskStatus) + 1}},
		{"created counter", createdKey(inv, maskCurrency, "", "BTC", 28, 5), []byte{prefixCreated + 1}},
		{"empty key", nil, nil},
		{"last prefix", []byte{0xff, 0x01}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := familyEnd(tc.key)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("familyEnd(%x) = %x, want %x", tc.key, got, tc.want)
			}
			if got != nil && bytes.Compare(got, tc.key) <= 0 {
				t.Fatalf("familyEnd(%x) = %x, not after the key", tc.key, got)
			}
		})
	}
}

// Every table the store writes, flushed or compacted, holds one key family:
// its last key is before the family end of its first (see familySpans).
func TestStore_TablesHoldOneFamily(t *testing.T) {
	s := newStore(t)
	project := uuid.New()
	for i := range 300 {
		inv := uuid.Must(uuid.NewV7())
		create(t, s, row(project, inv, "new", "BTC", int64(i+1), int64(i)),
			OrderIDClaim(project, fmt.Sprint("order-", i), inv[:]), AddressClaim("BTC", uint64(i), fmt.Sprint("addr-", i), inv))
		if i%100 == 99 {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	levels, err := s.db.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	tables := 0
	for level, ts := range levels {
		for _, tab := range ts {
			tables++
			first, last := tab.Smallest.UserKey, tab.Largest.UserKey
			// A range deletion's end is the table's exclusive last key:
			// the upgrade deletes a whole family (index layout 3).
			end := familyEnd(first)
			if c := bytes.Compare(last, end); end != nil && (c > 0 || c == 0 && !tab.Largest.IsExclusiveSentinel()) {
				t.Errorf("L%d table %s spans families: %x .. %x", level, tab.FileNum, first, last)
			}
		}
	}
	if tables < 10 {
		t.Fatalf("%d tables, want one per family written (more than 10)", tables)
	}
}
