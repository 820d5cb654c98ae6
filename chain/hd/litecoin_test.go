package hd

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
)

// TestBIP84_LitecoinCoreAgrees derives from the account public key, in
// every form a Litecoin wallet exports, the addresses litecoind itself
// derived from the master private key (testdata/litecoin-core-deriveaddresses.txt).
func TestBIP84_LitecoinCoreAgrees(t *testing.T) {
	f, err := os.Open("testdata/litecoin-core-deriveaddresses.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	forms := map[Net][]string{Mainnet: {"xpub", "Ltub", "zpub"}, Regtest: {"tpub", "ttub", "vpub"}}
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		lines++
		net, err := ParseNet(fields[0])
		if err != nil {
			t.Fatal(err)
		}
		master, err := hdkeychain.NewKeyFromString(fields[1])
		if err != nil {
			t.Fatal(err)
		}
		account := master
		for _, i := range []uint32{84 + hardened, 2 + hardened, 0 + hardened} {
			if account, err = account.Derive(i); err != nil {
				t.Fatal(err)
			}
		}
		pub, err := account.Neuter()
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range forms[net] {
			key := withVersion(t, pub.String(), versionOf(t, form))
			if !strings.HasPrefix(key, form) {
				t.Fatalf("re-encoded key %s... is not a %s", key[:8], form)
			}
			d, err := NewBIP84("LTC", key, net)
			if err != nil {
				t.Fatalf("%s %s: %v", net, form, err)
			}
			for i, want := range fields[2:] {
				got, err := d.Derive("LTC", uint64(i))
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s %s index %d = %s, litecoind derived %s", net, form, i, got, want)
				}
			}
		}
		// The private forms are refused.
		if _, err := NewBIP84("LTC", fields[1], net); err == nil {
			t.Errorf("%s: NewBIP84 accepted the master private key", net)
		}
	}
	if err := sc.Err(); err != nil || lines != 2 {
		t.Fatalf("read %d vectors: %v", lines, err)
	}
}
