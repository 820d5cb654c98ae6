package chainwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/clock"
)

// downNode is a node that cannot be reached until up is set.
type downNode struct {
	calls atomic.Int64
	up    atomic.Bool
}

func (n *downNode) Network() string      { return "down-test" }
func (n *downNode) Currencies() []string { return []string{"BTC"} }
func (n *downNode) Tip(context.Context) (chain.Cursor, error) {
	if !n.up.Load() {
		return chain.Cursor{}, errors.New("connection refused")
	}
	return chain.Cursor{Height: 7, Hash: "h7"}, nil
}
func (n *downNode) BlockAt(context.Context, uint64) (chain.Block, error) {
	return chain.Block{}, chain.ErrNotFound
}
func (n *downNode) Mempool(context.Context) ([]chain.Output, error) {
	n.calls.Add(1)
	return nil, nil
}

func TestMonitor_DownNodeBacksOffAndRecovers(t *testing.T) {
	r, _, store := newTestRouter(t, 0)
	node := &downNode{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := r.StartMonitor(ctx, node, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	// 80 ticks passed; with the delay doubling from 5 ms only a handful of
	// rounds may have reached the node.
	if n := node.calls.Load(); n < 2 || n > 12 {
		t.Fatalf("%d rounds reached a down node in 400 ms; want backoff (2..12)", n)
	}
	if m.Err() == nil {
		t.Fatal("monitor of a down node reports ready")
	}
	if _, err := store.ChainState("down-test"); err == nil {
		t.Fatal("a cursor was saved although no round succeeded")
	}

	node.up.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for m.Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("monitor did not recover: %v", m.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c := m.Cursor(); c.Height != 7 || c.Hash != "h7" {
		t.Fatalf("cursor after recovery = %+v", c)
	}
}

func TestMonitor_ForgetsPaymentsPastTheReorgMargin(t *testing.T) {
	r, svc, _ := newTestRouter(t, 0) // confirmations 1
	node := devchain.NewChain("BTC", nil)
	m := r.newMonitor(node, time.Second)
	ctx := context.Background()
	if err := m.follow(ctx); err != nil {
		t.Fatal(err)
	}
	inv, _, err := svc.Create(ctx, uuid.New(), engine.CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
	if err != nil {
		t.Fatal(err)
	}
	node.Pay(inv.Address, big.NewInt(100_000), devchain.PayOptions{})
	node.Mine(1)
	if err := m.follow(ctx); err != nil || len(m.state.Pay) != 1 {
		t.Fatalf("after the paying block: %d tracked, %v", len(m.state.Pay), err)
	}
	for i := 1; i < 1+reorgMargin; i++ {
		node.Mine(1)
		if err := m.follow(ctx); err != nil {
			t.Fatal(err)
		}
		if want := 1; i < reorgMargin && len(m.state.Pay) != want {
			t.Fatalf("%d blocks deep: %d tracked, want %d", i+1, len(m.state.Pay), want)
		}
	}
	if len(m.state.Pay) != 0 {
		t.Fatalf("payment %d blocks deep still tracked", 1+reorgMargin)
	}
}

// TestMonitor_CatchUpKeepsItsBudget: a monitor that was down while 60
// blocks were mined walks them at CatchUpRate on the injected clock (at
// 20 a second, the first 20 go at once and the 40 others take a paced
// wait of 50 ms each) and stops a round at maxBlocksPerRound; a monitor
// a second's worth of blocks behind never waits.
func TestMonitor_CatchUpKeepsItsBudget(t *testing.T) {
	r, _, _ := newTestRouter(t, 0)
	clk := clock.NewTest(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	r.cfg.Clock, r.cfg.CatchUpRate = clk, 20
	node := devchain.NewChain("BTC", nil)
	m := r.newMonitor(node, time.Second)
	ctx := context.Background()
	if err := m.follow(ctx); err != nil { // starts at the tip
		t.Fatal(err)
	}
	// round runs one round, moving the clock through each paced wait.
	round := func() (waits int, waited time.Duration) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- m.follow(ctx) }()
		for {
			select {
			case w := <-clk.Waits():
				waits++
				waited += w
				clk.Add(w)
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				return waits, waited
			}
		}
	}
	for _, tc := range []struct {
		mined, waits int
		waited       time.Duration
	}{
		{60, 40, 2 * time.Second},
		{20, 0, 0},
		{maxBlocksPerRound + 5, maxBlocksPerRound - 20, time.Duration(maxBlocksPerRound-20) * time.Second / 20},
	} {
		from := m.state.Height
		node.Mine(tc.mined)
		waits, waited := round()
		walked := min(tc.mined, maxBlocksPerRound)
		if waits != tc.waits || waited != tc.waited || m.state.Height != from+uint64(walked) {
			t.Fatalf("%d blocks behind: %d waits of %s in all, at height %d; want %d waits of %s, at %d",
				tc.mined, waits, waited, m.state.Height, tc.waits, tc.waited, from+uint64(walked))
		}
	}
}

// TestAwait_MissingAnswers: a round takes every answer that comes, and
// reports the ones that did not as timed out (the request timeout passed)
// or as the round's context's error (shutdown), so its cursor stays put
// and the next round sends those changes again.
func TestAwait_MissingAnswers(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		timeout  time.Duration
		sent     int // answers that come, of 3
		want     error
		wantSeen int
	}{
		{"all answer", context.Background(), time.Hour, 3, nil, 3},
		{"one missing", context.Background(), 50 * time.Millisecond, 2, actor.ErrTimeout, 2},
		{"shutdown", cancelled, time.Hour, 0, context.Canceled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newTestRouter(t, tc.timeout)
			m := r.newMonitor(devchain.NewChain("BTC", nil), time.Second)
			answers := make(chan answer, 3)
			for i := range tc.sent {
				answers <- answer{i: i}
			}
			seen := map[int]bool{}
			err := m.await(tc.ctx, answers, 3, func(i int, _ error) { seen[i] = true })
			if !errors.Is(err, tc.want) {
				t.Fatalf("await: %v, want %v", err, tc.want)
			}
			if len(seen) != tc.wantSeen {
				t.Fatalf("took %d answers, want %d", len(seen), tc.wantSeen)
			}
		})
	}
}

// TestMonitor_SavesTheStateItKeeps: the state a round saves, encoded
// while the invoices work, is the state the monitor keeps once they have
// answered, through payments first seen in the mempool and in a block,
// confirmations, a dropped payment reverted and a buried one forgotten.
func TestMonitor_SavesTheStateItKeeps(t *testing.T) {
	r, svc, store := newTestRouter(t, 0) // confirmations 1
	node := devchain.NewChain("BTC", nil)
	m := r.newMonitor(node, time.Second)
	ctx := context.Background()
	round := func(step string) {
		t.Helper()
		if err := m.follow(ctx); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		stored, err := store.ChainState(node.Network())
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if want := encodeState(m.state); !bytes.Equal(stored, want) {
			t.Fatalf("%s: stored state differs from the kept one (%d tracked)", step, len(m.state.Pay))
		}
	}
	round("start")
	var txids []string
	for i := range 3 {
		inv, _, err := svc.Create(ctx, uuid.New(), engine.CreateRequest{OrderID: fmt.Sprint(i), Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
		if err != nil {
			t.Fatal(err)
		}
		txid, err := node.Pay(inv.Address, big.NewInt(100_000), devchain.PayOptions{})
		if err != nil {
			t.Fatal(err)
		}
		txids = append(txids, txid)
		if i == 0 {
			node.Mine(1) // the first is first seen in a block
		}
	}
	round("one mined, two in the mempool")
	if err := node.Drop(txids[2]); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // missing twice: reverted and forgotten
		round(fmt.Sprintf("dropped, round %d", i))
	}
	node.Mine(1)
	round("the second mined")
	if len(m.state.Pay) != 2 {
		t.Fatalf("%d tracked after the drop, want 2", len(m.state.Pay))
	}
	for i := range reorgMargin + 1 {
		node.Mine(1)
		round(fmt.Sprintf("buried %d", i))
	}
	if len(m.state.Pay) != 0 {
		t.Fatalf("%d still tracked past the reorg margin", len(m.state.Pay))
	}
}

// TestMonitor_WriteAheadWithoutAnswers: a round whose invoices do not
// answer in time fails, and the payments it found are recorded (under the
// old cursor) all the same, by the round's group commit: the next round
// follows them even after a crash.
func TestMonitor_WriteAheadWithoutAnswers(t *testing.T) {
	r, svc, store := newTestRouter(t, time.Nanosecond)
	node := devchain.NewChain("BTC", nil)
	m := r.newMonitor(node, time.Second)
	ctx := context.Background()
	if err := m.follow(ctx); err != nil {
		t.Fatal(err)
	}
	from := m.state.Height
	inv, _, err := svc.Create(ctx, uuid.New(), engine.CreateRequest{OrderID: "o", Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
	if err != nil {
		t.Fatal(err)
	}
	node.Pay(inv.Address, big.NewInt(100_000), devchain.PayOptions{})
	node.Mine(1)
	if err := m.follow(ctx); !errors.Is(err, actor.ErrTimeout) {
		t.Fatalf("round without answers: %v, want a timeout", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := store.ChainState(node.Network())
		if err != nil {
			t.Fatal(err)
		}
		st, err := decodeState(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Pay) == 1 && st.Pay[0].Address == inv.Address {
			if st.Height != from {
				t.Fatalf("write-ahead state at height %d, want the old cursor %d", st.Height, from)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the round's payment was never recorded: %d tracked at height %d", len(st.Pay), st.Height)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
