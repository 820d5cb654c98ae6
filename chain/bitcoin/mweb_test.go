package bitcoin

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/invoiced/invoiced/chain/hd"
)

// readHex reads a hex file of testdata: raw blocks and transactions that
// litecoind v0.21.2.1 -regtest returned (getblock <hash> 0,
// getrawtransaction <txid>), captured with litecoin-cli.
func readHex(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func ltcRegtest(t *testing.T) *chaincfg.Params {
	t.Helper()
	p, _, err := NetParams("LTC", hd.Regtest)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The expectations are what litecoind's getblock <hash> 2 reports: every
// transaction id, and the outputs with an address.
func TestDecodeBlock_LitecoinMWEB(t *testing.T) {
	type out struct {
		txid  string
		index uint32
		addr  string
		sat   int64
	}
	tests := []struct {
		file, hash, parent string
		txids              int
		outs               []out
	}{
		{
			// Before MWEB activation: a plain block.
			file: "ltc-regtest-431.hex", hash: "96a4b42e750aa12e810baf1e9ed2a7b97caec0738d7d63c305627e0e39dffcb6",
			parent: "568abc03bc9a5da423dd9242d62d6b877960860e75f59670d23ffb241df45076", txids: 1,
			outs: []out{{"4976a90d8754eec3a98375687878f98349e5da0e27f584a2c6079ad27749d756", 0, "rltc1qz5yv254day6x32jl3r0te7ttlaesl8heeaqzad", 1_250_000_000}},
		},
		{
			// The first MWEB block: coinbase, a peg-in (its witness v9
			// output has no address), the HogEx (flag 0x08, its
			// hogaddr output has none either), the extension block.
			file: "ltc-regtest-432-pegin.hex", hash: "74017745207be71734da2f588537a1f96caf21a11e6bbfadbc67e24e36f8eeb2",
			parent: "96a4b42e750aa12e810baf1e9ed2a7b97caec0738d7d63c305627e0e39dffcb6", txids: 3,
			outs: []out{{"d0bdb5d8a947094e21d2581139c7bb6a4df8c13950b9d670e2694d14d93d2b3c", 0, "rltc1qky5wzptu54mxk5c4w2qrdeewtrzdzcgxs0g3e4", 1_250_005_530}},
		},
		{
			// A peg-out from an MWEB balance to a canonical address is
			// output 1 of the block's HogEx.
			file: "ltc-regtest-434-pegout.hex", hash: "18ca60c524b03fe9880cc56206a2a874d4ca672a2b8fcb954d7aa41d3a83a8c0",
			parent: "85f1c40351ac3868ea75bd1d161635c99c6a6e4ac65e5c2e59c7b88a0db92c60", txids: 2,
			outs: []out{
				{"2dd9f71fd14d45eb08de2feeed3efd5fe6f9d3636a5165ffa423ab7c1e115a54", 0, "rltc1qdm6usg66vqercjejp34exfwr374y8uxvj5uwyz", 1_250_002_510},
				{"de6e03e7a5f27e7d7b38e459e19037d610d3711027b5bbd9030276df9a09e4b9", 1, "rltc1qcejxjwtsa56kh4pr3hxddesqfplnmp2crm63wd", 150_000_000},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readHex(t, tt.file)
			b, err := decodeBlock(raw, "LTC", ltcRegtest(t), true)
			if err != nil {
				t.Fatal(err)
			}
			if b.Hash != tt.hash || b.Parent != tt.parent {
				t.Fatalf("block %s parent %s, want %s parent %s", b.Hash, b.Parent, tt.hash, tt.parent)
			}
			var got []out
			for _, o := range b.Outputs {
				if o.Currency != "LTC" {
					t.Errorf("output %+v: currency %q", o, o.Currency)
				}
				got = append(got, out{o.TxID, o.Index, o.Address, o.Amount.Int64()})
			}
			if len(got) != len(tt.outs) {
				t.Fatalf("outputs %+v, want %+v", got, tt.outs)
			}
			for i := range got {
				if got[i] != tt.outs[i] {
					t.Errorf("output %d = %+v, want %+v", i, got[i], tt.outs[i])
				}
			}
		})
	}
}

func TestDecodeBlock_MWEBNeedsTheLitecoinDecoder(t *testing.T) {
	raw := readHex(t, "ltc-regtest-432-pegin.hex")
	if _, err := decodeBlock(raw, "LTC", ltcRegtest(t), false); err == nil {
		t.Fatal("the Bitcoin decoder accepted a block with a HogEx and an extension block")
	}
	damaged := map[string][]byte{
		"truncated in the HogEx":        raw[:390], // the transactions take the first 403 bytes
		"no extension block marker":     append(append([]byte{}, readHex(t, "ltc-regtest-431.hex")...), 0x02),
		"truncated in the coinbase":     raw[:100],
		"transaction count beyond size": append(append([]byte{}, raw[:80]...), 0xfd, 0xff, 0xff),
	}
	for name, b := range damaged {
		if _, err := decodeBlock(b, "LTC", ltcRegtest(t), true); err == nil {
			t.Errorf("%s: decodeBlock accepted it", name)
		}
	}
}

func TestDecodeTx_LitecoinMempool(t *testing.T) {
	files, err := filepath.Glob("testdata/ltc-mempool-*.hex")
	if err != nil || len(files) != 3 {
		t.Fatalf("testdata: %v %v", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		kind, txid, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(name, "ltc-mempool-"), ".hex"), "-")
		t.Run(kind, func(t *testing.T) {
			tx, err := decodeTx(readHex(t, name), txid, true)
			switch kind {
			case "pegin":
				// Canonical input, a witness v9 peg-in output and
				// the change: the id is the canonical hash.
				if err != nil {
					t.Fatal(err)
				}
				if len(tx.TxIn) == 0 || len(tx.TxOut) == 0 {
					t.Fatalf("peg-in decoded to %d inputs, %d outputs", len(tx.TxIn), len(tx.TxOut))
				}
				if got := appendOutputs(nil, tx, txid, false, "LTC", ltcRegtest(t)); len(got) >= len(tx.TxOut) {
					t.Fatalf("peg-in outputs %+v: the witness v9 output has no address", got)
				}
			case "pegout", "mweb":
				if !errors.Is(err, errMWEBOnly) {
					t.Fatalf("err = %v, want errMWEBOnly", err)
				}
			default:
				t.Fatalf("unknown testdata kind %q", kind)
			}
		})
	}
}

func TestNetParams_LitecoinAddresses(t *testing.T) {
	// Scripts and the addresses litecoind v0.21.2.1 gives them
	// (validateaddress on regtest; on mainnet, deriveaddresses of the
	// descriptor in chain/hd/testdata).
	tests := []struct {
		net    hd.Net
		script string
		want   string
	}{
		{hd.Regtest, "0014b128e1057ca5766b5315728036e72e58c4d16106", "rltc1qky5wzptu54mxk5c4w2qrdeewtrzdzcgxs0g3e4"},
		{hd.Regtest, "76a914f401d5ffc0f92a41e9f739a7a351ff9adb912dab88ac", "n3m9NRX6Zh7odco8gutaLTnb6VrHksfiB4"},
		{hd.Regtest, "a9143651e7e4e71ce7401bc3a29a15bb7bbb7ba9fa6e87", "QRZCiaJd5hfxuEuPUU24KvL134NJZ9mM6Z"},
		{hd.Regtest, "001496cd3178f3de0f307bcee1aeaa4d5987862dd30a", "rltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c23g5xdr"},
		{hd.Mainnet, "001496cd3178f3de0f307bcee1aeaa4d5987862dd30a", "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh"},
	}
	for _, tt := range tests {
		p, name, err := NetParams("LTC", tt.net)
		if err != nil {
			t.Fatal(err)
		}
		if name != "litecoin-"+string(tt.net) {
			t.Errorf("name %q", name)
		}
		script, _ := hex.DecodeString(tt.script)
		got, ok := outputAddress(script, p)
		if !ok || got != tt.want {
			t.Errorf("%s: %s = %q, want %q", tt.net, tt.script, got, tt.want)
		}
	}
	if _, _, err := NetParams("DOGE", hd.Mainnet); err == nil {
		t.Error("NetParams accepted DOGE")
	}
}
