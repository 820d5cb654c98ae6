package devchain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2/bech32"

	"github.com/invoiced/invoiced/chain"
)

var currencies = []string{"BTC", "LTC", "ETH", "USDT"}

// TestDerive_DevSeedGolden pins the development addresses. They end up in
// development databases, so a change here is a breaking change. The BTC/LTC
// values were cross-checked against the BIP173 reference encoder.
func TestDerive_DevSeedGolden(t *testing.T) {
	tests := []struct {
		currency string
		index    uint64
		want     string
	}{
		{"BTC", 0, "bcrt1qfemh02fh7zlvhyytatu6327kcdtmld08ndkud6"},
		{"BTC", 1, "bcrt1qvf5vkqq0leceds4kegjgjpj2upz2tx9wmyz52w"},
		{"BTC", 1<<64 - 1, "bcrt1qkwwjk02wkrml22lr7h3a3vhe4uevfm5erwwlja"},
		{"LTC", 0, "rltc1qmpck6jqvc5cruk2whdpe5sp5njsf6s8pk6jqax"},
		{"LTC", 1, "rltc1qc6hketu6yntvjtqzrufd9njgdm2hhgsvhd5f2c"},
		{"LTC", 1<<64 - 1, "rltc1qq6vtmqemyl08j97exjljtuy2yf4pj09ycrtzlp"},
		{"ETH", 0, "0x446f5A5a0Ebb94e98E6D1Cff25B98abB755677D5"},
		{"ETH", 1, "0x46048aF0C291D4Fa7F6CA4FcD4e5942a303174AB"},
		{"ETH", 1<<64 - 1, "0x9d10c92ED987d6b7912F198E6A195f101b17Dc33"},
		{"USDT", 0, "0x45dd795E3bDFdFA27abE8c2D22c8E36E6782059f"},
		{"USDT", 1, "0x63DA5469E692F1E4e88908676293C2304CA414B7"},
		{"USDT", 1<<64 - 1, "0x8d91DEE303d4eEdA0AD44a74f632299240dA4970"},
	}
	d := NewDeriver(DevSeed())
	for _, tt := range tests {
		got, err := d.Derive(tt.currency, tt.index)
		if err != nil {
			t.Fatalf("Derive(%s, %d): %v", tt.currency, tt.index, err)
		}
		if got != tt.want {
			t.Errorf("Derive(%s, %d) = %s, want %s", tt.currency, tt.index, got, tt.want)
		}
	}
}

func TestDerive_Deterministic(t *testing.T) {
	a, b := NewDeriver(DevSeed()), NewDeriver(DevSeed())
	for _, c := range currencies {
		for _, i := range []uint64{0, 1, 42, 1 << 32, 1<<64 - 1} {
			x, err := a.Derive(c, i)
			if err != nil {
				t.Fatalf("Derive(%s, %d): %v", c, i, err)
			}
			y, _ := a.Derive(c, i)
			z, _ := b.Derive(c, i)
			if x != y || x != z {
				t.Errorf("Derive(%s, %d) not deterministic: %s, %s, %s", c, i, x, y, z)
			}
		}
	}
}

// TestDerive_DistinctAcrossIndexesAndCurrencies compares case-insensitively so
// that ETH and USDT addresses differing only in checksum case would count as
// a collision.
func TestDerive_DistinctAcrossIndexesAndCurrencies(t *testing.T) {
	const n = 10000
	d := NewDeriver(DevSeed())
	seen := make(map[string]string, n*len(currencies))
	for _, c := range currencies {
		for i := uint64(0); i < n; i++ {
			addr, err := d.Derive(c, i)
			if err != nil {
				t.Fatalf("Derive(%s, %d): %v", c, i, err)
			}
			key := strings.ToLower(addr)
			if prev, dup := seen[key]; dup {
				t.Fatalf("Derive(%s, %d) = %s, already given to %s", c, i, addr, prev)
			}
			seen[key] = c
		}
	}
}

func TestDerive_SeedChangesAddresses(t *testing.T) {
	a, err := NewDeriver(DevSeed()).Derive("ETH", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDeriver([]byte("another seed")).Derive("ETH", 0)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("different seeds gave the same address %s", a)
	}
}

func TestNewDeriver_CopiesSeed(t *testing.T) {
	seed := DevSeed()
	d := NewDeriver(seed)
	before, _ := d.Derive("BTC", 7)
	seed[0] ^= 0xff
	after, _ := d.Derive("BTC", 7)
	if before != after {
		t.Errorf("mutating the caller's seed changed the address: %s -> %s", before, after)
	}
}

// TestDerive_SegwitShape decodes BTC and LTC addresses as a wallet would:
// right regtest HRP, witness version 0, a 20-byte program equal to the
// specified HMAC prefix.
func TestDerive_SegwitShape(t *testing.T) {
	tests := []struct {
		currency string
		hrp      string
	}{
		{"BTC", "bcrt"},
		{"LTC", "rltc"},
	}
	d := NewDeriver(DevSeed())
	for _, tt := range tests {
		t.Run(tt.currency, func(t *testing.T) {
			for i := uint64(0); i < 100; i++ {
				addr, err := d.Derive(tt.currency, i)
				if err != nil {
					t.Fatalf("Derive: %v", err)
				}
				hrp, data, err := bech32.Decode(addr)
				if err != nil {
					t.Fatalf("bech32.Decode(%s): %v", addr, err)
				}
				if hrp != tt.hrp {
					t.Fatalf("%s: hrp %q, want %q", addr, hrp, tt.hrp)
				}
				if len(data) == 0 || data[0] != 0 {
					t.Fatalf("%s: witness version %v, want 0", addr, data[:1])
				}
				program, err := bech32.ConvertBits(data[1:], 5, 8, false)
				if err != nil {
					t.Fatalf("%s: convert program: %v", addr, err)
				}
				want := specBytes(DevSeed(), tt.currency, i)
				if hex.EncodeToString(program) != hex.EncodeToString(want) {
					t.Fatalf("%s: program %x, want %x", addr, program, want)
				}
			}
		})
	}
}

func TestDerive_EthereumShape(t *testing.T) {
	d := NewDeriver(DevSeed())
	for _, c := range []string{"ETH", "USDT"} {
		for i := uint64(0); i < 100; i++ {
			addr, err := d.Derive(c, i)
			if err != nil {
				t.Fatalf("Derive(%s, %d): %v", c, i, err)
			}
			want := "0x" + hex.EncodeToString(specBytes(DevSeed(), c, i))
			if strings.ToLower(addr) != want {
				t.Fatalf("Derive(%s, %d) = %s, want %s up to case", c, i, addr, want)
			}
		}
	}
}

func TestDerive_UnsupportedCurrency(t *testing.T) {
	d := NewDeriver(DevSeed())
	for _, c := range []string{"", "XMR", "btc", "eth", "BTC ", "USDC"} {
		addr, err := d.Derive(c, 0)
		if !errors.Is(err, chain.ErrUnsupportedCurrency) {
			t.Errorf("Derive(%q) error = %v, want ErrUnsupportedCurrency", c, err)
		}
		if addr != "" {
			t.Errorf("Derive(%q) = %q with an error, want empty", c, addr)
		}
	}
}

// specBytes restates the derivation from the Deriver doc comment, so the tests
// hold the implementation to the documented formula.
func specBytes(seed []byte, currency string, index uint64) []byte {
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte(currency))
	mac.Write([]byte{0})
	var idx [8]byte
	binary.BigEndian.PutUint64(idx[:], index)
	mac.Write(idx[:])
	return mac.Sum(nil)[:20]
}

func BenchmarkDerive(b *testing.B) {
	d := NewDeriver(DevSeed())
	for _, c := range currencies {
		b.Run(c, func(b *testing.B) {
			b.ReportAllocs()
			var i uint64
			for b.Loop() {
				if _, err := d.Derive(c, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
