package hd

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/invoiced/invoiced/chain"
)

// testSet is the production shape: BTC and LTC from their BIP84 accounts, ETH
// and USDT from two branches of the Ethereum account.
func testSet(t testing.TB) (*Set, map[string]chain.Deriver) {
	t.Helper()
	seed := bip39Seed(t, abandonMnemonic)
	ltcAccount := withVersion(t, publicAt(t, seed, 84+hardened, 2+hardened, 0+hardened), versionOf(t, "zpub"))
	ethAccount := ethAccountXpub(t)

	btc, err := NewBIP84("BTC", bip84Zpub, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	ltc, err := NewBIP84("LTC", ltcAccount, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	eth, err := NewEthereum(ethAccount, BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	usdt, err := NewEthereum(ethAccount, BranchUSDT)
	if err != nil {
		t.Fatal(err)
	}
	derivers := map[string]chain.Deriver{"BTC": btc, "LTC": ltc, "ETH": eth, "USDT": usdt}
	s, err := NewSet(derivers)
	if err != nil {
		t.Fatal(err)
	}
	return s, derivers
}

func TestSet_RoutesByCurrency(t *testing.T) {
	s, derivers := testSet(t)
	if got := strings.Join(s.Currencies(), ","); got != "BTC,ETH,LTC,USDT" {
		t.Errorf("Currencies() = %s", got)
	}
	for c, d := range derivers {
		for _, i := range []uint64{0, 1, 999} {
			if got, want := mustDerive(t, s, c, i), mustDerive(t, d, c, i); got != want {
				t.Errorf("%s index %d = %s, want %s", c, i, got, want)
			}
		}
	}
	if got := mustDerive(t, s, "BTC", 0); got != bip84Receive0 {
		t.Errorf("BTC index 0 = %s, want %s", got, bip84Receive0)
	}
	if got := mustDerive(t, s, "ETH", 0); got != ethAccount0 {
		t.Errorf("ETH index 0 = %s, want %s", got, ethAccount0)
	}
}

func TestSet_UnsupportedCurrency(t *testing.T) {
	s, _ := testSet(t)
	for _, c := range []string{"DOGE", "eth", ""} {
		if _, err := s.Derive(c, 0); !errors.Is(err, chain.ErrUnsupportedCurrency) {
			t.Errorf("Derive(%q) err = %v, want ErrUnsupportedCurrency", c, err)
		}
	}
}

func TestNewSet_RefusesCurrenciesSharingAddresses(t *testing.T) {
	eth, err := NewEthereum(ethAccountXpub(t), BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	sameBranch, err := NewEthereum(ethAccountXpub(t), BranchETH)
	if err != nil {
		t.Fatal(err)
	}
	for name, usdt := range map[string]chain.Deriver{"same deriver": eth, "same branch": sameBranch} {
		t.Run(name, func(t *testing.T) {
			_, err := NewSet(map[string]chain.Deriver{"ETH": eth, "USDT": usdt})
			if err == nil || !strings.Contains(err.Error(), "ETH and USDT derive the same addresses") {
				t.Errorf("err = %v, want a refusal naming ETH and USDT", err)
			}
		})
	}
}

func TestNewSet_RefusesDeriverForAnotherCurrency(t *testing.T) {
	btc, err := NewBIP84("BTC", bip84Zpub, Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSet(map[string]chain.Deriver{"LTC": btc}); !errors.Is(err, chain.ErrUnsupportedCurrency) {
		t.Errorf("err = %v, want ErrUnsupportedCurrency", err)
	}
	if _, err := NewSet(map[string]chain.Deriver{"BTC": nil}); err == nil {
		t.Error("NewSet accepted a nil deriver")
	}
	if _, err := NewSet(map[string]chain.Deriver{"": btc}); err == nil {
		t.Error("NewSet accepted an empty currency")
	}
}

func TestSet_DistinctAcrossCurrenciesOver1000Indexes(t *testing.T) {
	s, _ := testSet(t)
	seen := make(map[string]string, 4000)
	for i := uint64(0); i < 1000; i++ {
		for _, c := range s.Currencies() {
			addr := mustDerive(t, s, c, i)
			if prev, dup := seen[addr]; dup {
				t.Fatalf("%s index %d gives %s, already given to %s", c, i, addr, prev)
			}
			seen[addr] = fmt.Sprintf("%s index %d", c, i)
		}
	}
}

func TestSet_ConcurrentDerive(t *testing.T) {
	s, _ := testSet(t)
	const n = 50
	want := make(map[string][]string)
	for _, c := range s.Currencies() {
		for i := uint64(0); i < n; i++ {
			want[c] = append(want[c], mustDerive(t, s, c, i))
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range n {
				i := uint64((k*7 + g) % n) // each goroutine walks the indexes in its own order
				for _, c := range s.Currencies() {
					got, err := s.Derive(c, i)
					if err != nil {
						t.Errorf("Derive(%s, %d): %v", c, i, err)
						return
					}
					if got != want[c][i] {
						t.Errorf("goroutine %d: %s index %d = %s, want %s", g, c, i, got, want[c][i])
					}
				}
			}
		})
	}
	wg.Wait()
}
