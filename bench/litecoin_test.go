package bench

import (
	"context"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain/bitcoin/litecoindtest"
)

// TestRun_PaymentsOnLitecoind runs the payments scenario, small, against a
// real litecoind -regtest: the run funds the wallet past MWEB activation,
// pays with sendmany and mines there, and every payment is matched.
func TestRun_PaymentsOnLitecoind(t *testing.T) {
	l := litecoindtest.Start(t, litecoindtest.Options{})
	payments, _ := LookupScenarios("payments")
	rep, err := Run(context.Background(), Config{
		Scenarios: payments, Shape: Shape{Conns: 2}, DataDir: t.TempDir(),
		Events:   EventConfig{BlockOutputs: 30, Watched: 10, Blocks: 2, Settle: time.Minute},
		Litecoin: &LitecoinNode{URL: l.URL, Cookie: l.Cookie, Wallet: litecoindtest.Miner},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Scenario("payments")
	if p == nil || p.Payments == nil {
		t.Fatal("no payments figures")
	}
	if f := p.Payments; p.Errors != 0 || p.Requests != 60 || f.Matched != 60 || f.MatchedPerSecond <= 0 || f.WatchedAddresses < 70 {
		t.Fatalf("payments on litecoind: %d completed, %d errors %v, figures %+v", p.Requests, p.Errors, p.ErrorSamples, *f)
	}
	if h, _ := l.Tip(t); h < litecoindtest.MWEBHeight+2 {
		t.Fatalf("tip %d: the blocks paid were not past MWEB activation", h)
	}
}
