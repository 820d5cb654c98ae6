package bitcoin

import (
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// benchBlock builds a block of 1,000 segwit transactions with 10 P2WPKH
// outputs each: 10,000 outputs, about 470 kB, the shape of a busy
// exchange's batch payouts.
func benchBlock(b *testing.B) []byte {
	const txs, outsPerTx = 1000, 10
	block := wire.NewMsgBlock(wire.NewBlockHeader(0x20000000, &chainhash.Hash{}, &chainhash.Hash{}, 0x207fffff, 0))
	for i := range txs {
		tx := wire.NewMsgTx(2)
		prev := chainhash.DoubleHashH(binary.BigEndian.AppendUint32(nil, uint32(i)))
		tx.AddTxIn(&wire.TxIn{
			PreviousOutPoint: wire.OutPoint{Hash: prev},
			Sequence:         0xfffffffd,
			Witness:          wire.TxWitness{make([]byte, 72), make([]byte, 33)},
		})
		for j := range outsPerTx {
			prog := chainhash.HashB(binary.BigEndian.AppendUint32(nil, uint32(i*outsPerTx+j)))[:20]
			tx.AddTxOut(wire.NewTxOut(int64(1000+j), append([]byte{0x00, 0x14}, prog...)))
		}
		if err := block.AddTransaction(tx); err != nil {
			b.Fatal(err)
		}
	}
	return rawHex(b, block)
}

// BenchmarkDecodeBlock10kOutputs measures what BlockAt does with getblock's
// answer: hex to bytes, deserialize, hash every transaction, encode every
// address. LTC decodes the same block transaction by transaction, looking
// for MWEB flags and an extension block (mweb.go).
func BenchmarkDecodeBlock10kOutputs(b *testing.B) {
	ltc, _, err := NetParams("LTC", "mainnet")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		currency string
		params   *chaincfg.Params
		mweb     bool
	}{{"BTC", &chaincfg.MainNetParams, false}, {"LTC", ltc, true}} {
		b.Run(c.currency, func(b *testing.B) {
			raw := benchBlock(b)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				bin, err := decodeHexResult(raw)
				if err != nil {
					b.Fatal(err)
				}
				blk, err := decodeBlock(bin, c.currency, c.params, c.mweb)
				if err != nil {
					b.Fatal(err)
				}
				if len(blk.Outputs) != 10_000 {
					b.Fatalf("%d outputs", len(blk.Outputs))
				}
			}
		})
	}
}
