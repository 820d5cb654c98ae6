package bitcoin

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func script(t testing.TB, parts ...string) []byte {
	return mustHex(t, strings.Join(parts, ""))
}

// Published vectors (BIP173, BIP350, the genesis coinbase key's address),
// so the expected addresses do not come from the code under test.
const (
	genesisPubKey = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	p2wpkhProg    = "751e76e8199196d454941c45d1b3a323f1433bd6"
	p2wpkhAddr    = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
	p2wshProg     = "1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"
	p2wshAddr     = "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"
	p2trProg      = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
	p2trAddr      = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
	p2pkhHash     = "62e907b15cbf27d5425399ebf6f0fb50ebb88f18"
	p2pkhAddr     = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
	p2shHash      = "b472a266d0bd89c13706a4132ccfb16f7c3b9fcb"
	p2shAddr      = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
)

func TestOutputAddress_StandardScriptsOnly(t *testing.T) {
	tests := []struct {
		name   string
		script []byte
		want   string // "" means skipped
	}{
		{"p2wpkh", script(t, "0014", p2wpkhProg), p2wpkhAddr},
		{"p2wsh", script(t, "0020", p2wshProg), p2wshAddr},
		{"p2tr", script(t, "5120", p2trProg), p2trAddr},
		{"p2pkh", script(t, "76a914", p2pkhHash, "88ac"), p2pkhAddr},
		{"p2sh", script(t, "a914", p2shHash, "87"), p2shAddr},
		{"op_return", script(t, "6a04deadbeef"), ""},
		{"bare op_return", script(t, "6a"), ""},
		{"op_true", script(t, "51"), ""},
		{"empty", nil, ""},
		{"truncated p2wpkh", script(t, "0014", p2wpkhProg[:38]), ""},
		{"p2pkh with trailing op", script(t, "76a914", p2pkhHash, "88ac51"), ""},
		{"bare pubkey", script(t, "21", genesisPubKey, "ac"), ""},
		{"bare 1-of-1 multisig", script(t, "5121", genesisPubKey, "51ae"), ""},
		{"pay to anchor", script(t, "51024e73"), ""},
		{"witness v2", script(t, "5220", p2trProg), ""},
		{"garbage push", script(t, "4cff00"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := outputAddress(tt.script, &chaincfg.MainNetParams)
			if ok != (tt.want != "") || got != tt.want {
				t.Fatalf("outputAddress = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestOutputAddress_ParamsChooseEncoding(t *testing.T) {
	got, ok := outputAddress(script(t, "0014", p2wpkhProg), &chaincfg.RegressionNetParams)
	if !ok || !strings.HasPrefix(got, "bcrt1q") {
		t.Fatalf("regtest p2wpkh = %q, %v; want a bcrt1q address", got, ok)
	}
	got, ok = outputAddress(script(t, "76a914", p2pkhHash, "88ac"), &chaincfg.TestNet3Params)
	if !ok || (got[0] != 'm' && got[0] != 'n') {
		t.Fatalf("testnet p2pkh = %q, %v; want an m/n address", got, ok)
	}
}

func TestSignalsRBF_BIP125Boundary(t *testing.T) {
	tests := []struct {
		name      string
		sequences []uint32
		want      bool
	}{
		{"final", []uint32{0xffffffff}, false},
		{"locktime only", []uint32{0xfffffffe}, false},
		{"signals", []uint32{0xfffffffd}, true},
		{"zero", []uint32{0}, true},
		{"one input of several", []uint32{0xffffffff, 0xfffffffe, 0x10}, true},
		{"several final", []uint32{0xffffffff, 0xfffffffe}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := wire.NewMsgTx(2)
			for i, s := range tt.sequences {
				tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: uint32(i)}, Sequence: s})
			}
			if got := signalsRBF(tx); got != tt.want {
				t.Fatalf("signalsRBF = %v, want %v", got, tt.want)
			}
		})
	}
}

// testBlock builds a segwit block: a coinbase, a final transaction paying
// every script kind, and an RBF-signalling transaction with a witness.
func testBlock(t testing.TB) (*wire.MsgBlock, []chain.Output) {
	t.Helper()
	coinbase := wire.NewMsgTx(2)
	coinbase.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  mustHex(t, "0365000001"),
		Sequence:         wire.MaxTxInSequenceNum,
		Witness:          wire.TxWitness{make([]byte, 32)},
	})
	coinbase.AddTxOut(wire.NewTxOut(5_000_000_000, script(t, "0014", p2wpkhProg)))
	coinbase.AddTxOut(wire.NewTxOut(0, script(t, "6a24aa21a9ed", strings.Repeat("00", 32))))

	spend := wire.NewMsgTx(2)
	spend.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: coinbase.TxHash()}, Sequence: 0xfffffffe})
	spend.AddTxOut(wire.NewTxOut(100, script(t, "76a914", p2pkhHash, "88ac")))
	spend.AddTxOut(wire.NewTxOut(200, script(t, "6a04deadbeef")))
	spend.AddTxOut(wire.NewTxOut(300, script(t, "a914", p2shHash, "87")))
	spend.AddTxOut(wire.NewTxOut(400, script(t, "51")))
	spend.AddTxOut(wire.NewTxOut(500, script(t, "0020", p2wshProg)))
	spend.AddTxOut(wire.NewTxOut(600, script(t, "5121", genesisPubKey, "51ae")))
	spend.AddTxOut(wire.NewTxOut(2_100_000_000_000_000, script(t, "5120", p2trProg)))

	rbf := wire.NewMsgTx(2)
	rbf.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Hash: spend.TxHash(), Index: 0},
		Sequence:         0xfffffffd,
		Witness:          wire.TxWitness{make([]byte, 71), mustHex(t, genesisPubKey)},
	})
	rbf.AddTxOut(wire.NewTxOut(90, script(t, "0014", p2wpkhProg)))

	prev := chainhash.DoubleHashH([]byte("parent"))
	block := wire.NewMsgBlock(wire.NewBlockHeader(0x20000000, &prev, &chainhash.Hash{}, 0x207fffff, 7))
	block.Header.Timestamp = time.Unix(1_700_000_000, 0)
	for _, tx := range []*wire.MsgTx{coinbase, spend, rbf} {
		if err := block.AddTransaction(tx); err != nil {
			t.Fatal(err)
		}
	}

	out := func(tx *wire.MsgTx, index uint32, addr string, amount int64, rbf bool) chain.Output {
		return chain.Output{Currency: "BTC", TxID: tx.TxHash().String(), Index: index,
			Address: addr, Amount: big.NewInt(amount), RBF: rbf}
	}
	want := []chain.Output{
		out(coinbase, 0, p2wpkhAddr, 5_000_000_000, false),
		out(spend, 0, p2pkhAddr, 100, false),
		out(spend, 2, p2shAddr, 300, false),
		out(spend, 4, p2wshAddr, 500, false),
		out(spend, 6, p2trAddr, 2_100_000_000_000_000, false),
		out(rbf, 0, p2wpkhAddr, 90, true),
	}
	return block, want
}

// rawHex serializes a block the way getblock with verbosity 0 returns it:
// a JSON string of hex.
func rawHex(t testing.TB, block *wire.MsgBlock) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := block.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return []byte(`"` + hex.EncodeToString(buf.Bytes()) + `"`)
}

func TestDecodeBlock_OutputsFromRawHex(t *testing.T) {
	block, want := testBlock(t)
	raw, err := decodeHexResult(rawHex(t, block))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBlock(raw, "BTC", &chaincfg.MainNetParams, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash != block.BlockHash().String() {
		t.Errorf("Hash = %s, want %s", got.Hash, block.BlockHash())
	}
	if got.Parent != block.Header.PrevBlock.String() {
		t.Errorf("Parent = %s, want %s", got.Parent, block.Header.PrevBlock)
	}
	if !got.Time.Equal(time.Unix(1_700_000_000, 0)) {
		t.Errorf("Time = %v", got.Time)
	}
	// The witness must not enter the txid: it is the legacy hash.
	if got.Outputs[len(got.Outputs)-1].TxID != block.Transactions[2].TxHash().String() {
		t.Errorf("RBF tx id = %s, want the non-witness hash", got.Outputs[len(got.Outputs)-1].TxID)
	}
	if !reflect.DeepEqual(got.Outputs, want) {
		t.Errorf("Outputs:\n got %+v\nwant %+v", got.Outputs, want)
	}
}

func TestDecodeBlock_RejectsDamagedBlocks(t *testing.T) {
	block, _ := testBlock(t)
	var buf bytes.Buffer
	if err := block.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"header only", full[:80]},
		{"truncated", full[:len(full)-3]},
		{"trailing bytes", append(append([]byte{}, full...), 0x00)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeBlock(tt.raw, "BTC", &chaincfg.MainNetParams, false); err == nil {
				t.Fatal("decodeBlock accepted a damaged block")
			}
		})
	}
}

func TestDecodeHexResult_RejectsNonHex(t *testing.T) {
	for _, raw := range []string{`null`, `12`, `"zz"`, `"abc"`, `"`, `{"a":1}`} {
		if _, err := decodeHexResult([]byte(raw)); err == nil {
			t.Errorf("decodeHexResult(%s) accepted it", raw)
		}
	}
	if b, err := decodeHexResult([]byte(`"00ff"`)); err != nil || !bytes.Equal(b, []byte{0, 0xff}) {
		t.Errorf(`decodeHexResult("00ff") = %x, %v`, b, err)
	}
}

func TestDecodeTx_ChecksTxID(t *testing.T) {
	block, _ := testBlock(t)
	tx := block.Transactions[2]
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeTx(buf.Bytes(), tx.TxHash().String(), false); err != nil {
		t.Fatalf("decodeTx: %v", err)
	}
	if _, err := decodeTx(buf.Bytes(), block.Transactions[1].TxHash().String(), false); err == nil {
		t.Fatal("decodeTx accepted a transaction with another id")
	}
}
