package ethereum

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/invoiced/invoiced/chain/hd"
)

// TestParseAddress_AnyCase: a configured address may be all lower, all
// upper or checksummed case; all read as the same account, which String
// gives back in EIP-55 form (chain/evm tests the checksum itself).
func TestParseAddress_AnyCase(t *testing.T) {
	for _, want := range []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x52908400098527886E0F7030069857D2E4169EE7", // all caps
		"0xde709f2102306220921060314715629080e2fb77", // all lower
	} {
		for _, s := range []string{want, strings.ToLower(want), "0x" + strings.ToUpper(want[2:]), "0X" + want[2:]} {
			a, err := parseAddress(s)
			if err != nil {
				t.Fatalf("parseAddress(%s) = %v", s, err)
			}
			if a.String() != want {
				t.Errorf("parseAddress(%s) = %s, want %s", s, a, want)
			}
		}
	}
}

// TestAddress_MatchesTheDeriver: an output pays the very string chain/hd
// handed out, not merely the same account in another case; the monitor
// looks addresses up as strings.
func TestAddress_MatchesTheDeriver(t *testing.T) {
	const xpub = "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw"
	d, err := hd.NewEthereum(xpub, hd.BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(20) {
		addr, err := d.Derive("ETH", i)
		if err != nil {
			t.Fatal(err)
		}
		var a address
		if err := a.UnmarshalJSON([]byte(`"` + strings.ToLower(addr) + `"`)); err != nil {
			t.Fatal(err)
		}
		if a.String() != addr {
			t.Fatalf("index %d: adapter says %s, deriver %s", i, a, addr)
		}
	}
}

func TestParseAddress_Rejects(t *testing.T) {
	for _, s := range []string{
		"",
		"0x",
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",     // no 0x
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",    // 39 digits
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",  // 41 digits
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",   // not hex
		"0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed",   // checksum: one letter's case flipped
		"0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",   // and another
		" 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed ", // spaces
	} {
		if a, err := parseAddress(s); err == nil {
			t.Errorf("parseAddress(%q) = %s, want an error", s, a)
		}
	}
}

func TestQuantity_Decode(t *testing.T) {
	tests := []struct {
		json string
		want uint64
		ok   bool
	}{
		{`"0x0"`, 0, true},
		{`"0x1"`, 1, true},
		{`"0xff"`, 255, true},
		{`"0xFF"`, 255, true},
		{`"0x00ff"`, 255, true}, // leading zeros: not canonical, harmless
		{`"0xffffffffffffffff"`, 1<<64 - 1, true},
		{`"0x10000000000000000"`, 0, false}, // 2^64
		{`"0x"`, 0, false},
		{`"ff"`, 0, false},
		{`"0xfg"`, 0, false},
		{`"0x-1"`, 0, false},
		{`255`, 0, false},
		{`null`, 0, false},
		{`""`, 0, false},
		{`"0x 1"`, 0, false},
	}
	for _, tt := range tests {
		var q quantity
		err := json.Unmarshal([]byte(tt.json), &q)
		if (err == nil) != tt.ok || (tt.ok && uint64(q) != tt.want) {
			t.Errorf("quantity %s = %d, %v; want %d, ok %v", tt.json, q, err, tt.want, tt.ok)
		}
	}
}

func TestAmount_DecodeBeyond64Bits(t *testing.T) {
	max256 := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	tests := []struct {
		json string
		want *big.Int // nil: an error
	}{
		{`"0x0"`, big.NewInt(0)},
		{`"0x1158e460913d00000"`, wei("20000000000000000000")}, // 20 ETH > 2^64 wei
		{`"0xffffffffffffffff"`, new(big.Int).SetUint64(1<<64 - 1)},
		{`"0x10000000000000000"`, new(big.Int).Lsh(big.NewInt(1), 64)},
		{`"0x` + strings.Repeat("f", 64) + `"`, max256},
		{`"0x0` + strings.Repeat("f", 64) + `"`, max256},
		{`"0x1` + strings.Repeat("0", 64) + `"`, nil}, // 2^256
		{`"0x1g"`, nil},
		{`1`, nil},
		{`"1"`, nil},
	}
	for _, tt := range tests {
		var a amount
		err := json.Unmarshal([]byte(tt.json), &a)
		if tt.want == nil {
			if err == nil {
				t.Errorf("amount %s = %v, want an error", tt.json, a.v)
			}
			continue
		}
		got := a.v
		if got == nil {
			got = new(big.Int)
		}
		if err != nil || !a.set || got.Cmp(tt.want) != 0 {
			t.Errorf("amount %s = %v, %v; want %v", tt.json, a.v, err, tt.want)
		}
	}
}

func TestWord_AddressNeedsZeroPadding(t *testing.T) {
	var w word
	copy(w[12:], []byte{0xde, 0xad})
	if _, ok := w.address(); !ok {
		t.Fatal("padded address rejected")
	}
	w[11] = 1
	if a, ok := w.address(); ok {
		t.Fatalf("dirty high bytes read as %s", a)
	}
}

func TestCallPrefix_KeepsOnlyTheHead(t *testing.T) {
	input := "0xa9059cbb" + strings.Repeat("ab", 10_000)
	var c callPrefix
	if err := json.Unmarshal([]byte(`"`+input+`"`), &c); err != nil {
		t.Fatal(err)
	}
	if c.len != 10_004 || len(c.head) != callPrefixLen {
		t.Fatalf("len %d, head %d bytes", c.len, len(c.head))
	}
	for _, bad := range []string{`"0xa9059cbb0"`, `"0xa9059cbb` + strings.Repeat("ab", 200) + `zz"`, `"a905"`, `null`} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("callPrefix %.40s... accepted", bad)
		}
	}
}

// TestConstants_AreTheirKeccak: the Transfer topic and selectors are what
// their signatures hash to.
func TestConstants_AreTheirKeccak(t *testing.T) {
	if keccak([]byte("Transfer(address,address,uint256)")) != transferTopic {
		t.Error("transferTopic")
	}
	if selector("transfer(address,uint256)") != selectorTransfer {
		t.Error("selectorTransfer")
	}
	if selector("transferFrom(address,address,uint256)") != selectorTransferFrom {
		t.Error("selectorTransferFrom")
	}
}
