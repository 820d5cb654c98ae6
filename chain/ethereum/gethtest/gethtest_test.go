package gethtest

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestChecksum_AnyCase: Checksum takes an address in any case (chain/evm
// tests the checksum itself).
func TestChecksum_AnyCase(t *testing.T) {
	const want = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	for _, in := range []string{want, strings.ToLower(want), strings.ToUpper(want[2:])} {
		if got := Checksum(in); got != want {
			t.Errorf("Checksum(%s) = %s", in, got)
		}
	}
}

func TestSelectors(t *testing.T) {
	for sig, want := range map[string][4]byte{
		"transfer(address,uint256)": SelectorTransfer,
		"balanceOf(address)":        selectorBalanceOf,
	} {
		if got := [4]byte(Keccak256([]byte(sig))[:4]); got != want {
			t.Errorf("selector of %s = %x, want %x", sig, got, want)
		}
	}
}

// TestGethHarness_TokenAndEther checks the harness itself against a real
// geth --dev: the fixture token mints to the developer account, transfers
// move balances, ether arrives, and each transaction is its own block.
func TestGethHarness_TokenAndEther(t *testing.T) {
	start := time.Now()
	n := Start(t, 0)
	supply := new(big.Int).Lsh(big.NewInt(1), 100)
	token, r := n.DeployToken(t, supply)
	if got := n.TokenBalance(t, token, n.Dev); got.Cmp(supply) != 0 {
		t.Fatalf("deployer holds %v tokens, want %v", got, supply)
	}
	to := FreshAddress(t)
	txid, tr := n.Transfer(t, token, to, big.NewInt(12_500_000))
	if tr.TransactionHash != txid || len(tr.Logs) != 1 || tr.BlockNumber != r.BlockNumber+1 {
		t.Fatalf("transfer %s: receipt %+v, want one log in block %d", txid, tr, r.BlockNumber+1)
	}
	if got := n.TokenBalance(t, token, Checksum(to)); got.Cmp(big.NewInt(12_500_000)) != 0 {
		t.Fatalf("payee holds %v tokens, want 12500000", got)
	}
	if h := n.MineBlock(t); h != uint64(tr.BlockNumber)+1 || n.BlockNumber(t) != h {
		t.Fatalf("MineBlock = %d, tip %d; want %d", h, n.BlockNumber(t), tr.BlockNumber+1)
	}
	wei := big.NewInt(5e17)
	n.SendAndWait(t, Tx{To: to, Value: wei})
	if got := n.Balance(t, to); got.Cmp(wei) != 0 {
		t.Fatalf("payee holds %v wei, want %v", got, wei)
	}
	t.Logf("took %v", time.Since(start).Round(time.Millisecond))
}
