package ethereum

import (
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain/ethereum/gethtest"
)

// adapterOn returns an adapter pointed at g (see package gethtest)
// reporting ETH and tokens.
func adapterOn(t *testing.T, g *gethtest.Node, tokens ...Token) *Node {
	t.Helper()
	n, err := New(Config{URL: g.URL, Net: "ethereum-dev", Native: "ETH", Tokens: tokens, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
