package actors

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain"
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
	r, store := newBenchRegistry(t)
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
