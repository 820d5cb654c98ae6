package hd

import (
	"testing"

	"github.com/invoiced/invoiced/chain"
)

// BenchmarkDerive measures one deposit address: one public child derivation
// from the branch key kept by the deriver, then hashing and encoding.
func BenchmarkDerive(b *testing.B) {
	s, derivers := testSet(b)
	for _, bc := range []struct {
		name     string
		d        chain.Deriver
		currency string
	}{
		{"BIP84/BTC", derivers["BTC"], "BTC"},
		{"Ethereum/ETH", derivers["ETH"], "ETH"},
		{"Set/USDT", s, "USDT"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var i uint64
			for b.Loop() {
				if _, err := bc.d.Derive(bc.currency, i%(MaxIndex+1)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
