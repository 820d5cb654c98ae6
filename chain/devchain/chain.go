package devchain

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/invoiced/invoiced/chain"
)

// Chain is an in-process simulated blockchain for one currency: a mempool
// and a best chain of blocks, with the operations tests need to script what
// real networks do (pay, mine, reorganise, drop and double-spend). It
// implements chain.Node, so the chain monitor follows it exactly as it
// follows a real node. It is deterministic: block hashes and transaction ids
// derive from a sequence number, not from randomness or the clock.
//
// Chain is safe for concurrent use.
type Chain struct {
	currency string
	now      func() time.Time
	path     string // where blocks are saved; "" = memory only

	mu      sync.Mutex
	seq     uint64
	blocks  []devBlock // blocks[h] is the block at height h; blocks[0] is genesis
	mempool []devTx
	notify  chan struct{}
}

type devBlock struct {
	hash, parent string
	time         time.Time
	txs          []devTx
}

type devTx struct {
	id      string
	address string
	amount  *big.Int
	rbf     bool
}

// NewChain starts a chain for currency at height 0.
func NewChain(currency string, now func() time.Time) *Chain {
	if now == nil {
		now = time.Now
	}
	c := &Chain{currency: currency, now: now, notify: make(chan struct{}, 1)}
	c.blocks = []devBlock{{hash: c.nextHash("genesis"), time: now()}}
	return c
}

// nextHash returns a fresh deterministic 32-byte hex id; callers hold mu.
func (c *Chain) nextHash(kind string) string {
	c.seq++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c.seq)
	h := sha256.Sum256(append([]byte(c.currency+"/"+kind+"/"), b[:]...))
	return hex.EncodeToString(h[:])
}

// Changed is signalled (without blocking) after every change, so a monitor
// can poll at once instead of waiting for its next tick.
func (c *Chain) Changed() <-chan struct{} { return c.notify }

func (c *Chain) changed() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// PayOptions are the optional properties of a simulated payment.
type PayOptions struct {
	// RBF makes the transaction signal replace-by-fee.
	RBF bool
}

// Pay puts a transaction paying amount (smallest units) to address into the
// mempool and returns its id.
func (c *Chain) Pay(address string, amount *big.Int, opts PayOptions) (string, error) {
	if address == "" {
		return "", errors.New("pay: empty address")
	}
	if amount == nil || amount.Sign() <= 0 {
		return "", errors.New("pay: amount must be positive")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tx := devTx{id: c.nextHash("tx"), address: address, amount: new(big.Int).Set(amount), rbf: opts.RBF}
	c.mempool = append(c.mempool, tx)
	c.changed()
	return tx.id, nil
}

// Mine appends n blocks; the first includes every mempool transaction. It
// returns the new height.
func (c *Chain) Mine(n int) (uint64, error) { return c.mine(n, true) }

// MineEmpty appends n blocks that include nothing from the mempool, as a
// competing miner's chain would.
func (c *Chain) MineEmpty(n int) (uint64, error) { return c.mine(n, false) }

func (c *Chain) mine(n int, withMempool bool) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < n; i++ {
		b := devBlock{parent: c.blocks[len(c.blocks)-1].hash, hash: c.nextHash("block"), time: c.now()}
		if withMempool && i == 0 {
			b.txs, c.mempool = c.mempool, nil
		}
		c.blocks = append(c.blocks, b)
	}
	if n > 0 {
		if err := c.saveLocked(); err != nil {
			return 0, err
		}
		c.changed()
	}
	return uint64(len(c.blocks) - 1), nil
}

// Disconnect removes the top depth blocks, as a reorganisation does before
// the competing chain is connected; their transactions go back to the
// mempool, like a real node's. Follow it with Drop for transactions the
// competing chain double-spent, and with Mine or MineEmpty for that chain.
func (c *Chain) Disconnect(depth int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if depth < 1 || depth >= len(c.blocks) {
		return fmt.Errorf("disconnect %d blocks: chain height is %d", depth, len(c.blocks)-1)
	}
	cut := len(c.blocks) - depth
	var back []devTx
	for _, b := range c.blocks[cut:] {
		back = append(back, b.txs...)
	}
	c.blocks = c.blocks[:cut]
	c.mempool = append(back, c.mempool...)
	if err := c.saveLocked(); err != nil {
		return err
	}
	c.changed()
	return nil
}

// Drop removes a transaction from the mempool, as a replacement, a double
// spend or eviction does.
func (c *Chain) Drop(txid string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, tx := range c.mempool {
		if tx.id == txid {
			c.mempool = append(c.mempool[:i:i], c.mempool[i+1:]...)
			c.changed()
			return nil
		}
	}
	return fmt.Errorf("drop %s: not in the mempool", txid)
}

// DoubleSpend replaces a mempool transaction by one paying amount to
// address instead (an RBF bump, or an attacker's conflicting spend), and
// returns the new transaction's id.
func (c *Chain) DoubleSpend(txid, address string, amount *big.Int) (string, error) {
	if err := c.Drop(txid); err != nil {
		return "", err
	}
	return c.Pay(address, amount, PayOptions{})
}

// AutoMine mines a block every interval until ctx ends.
func (c *Chain) AutoMine(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.Mine(1); err != nil {
				return
			}
		}
	}
}

// Network implements chain.Node.
func (c *Chain) Network() string { return "devchain-" + c.currency }

// Currencies implements chain.Node.
func (c *Chain) Currencies() []string { return []string{c.currency} }

// Tip implements chain.Node.
func (c *Chain) Tip(context.Context) (chain.Cursor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return chain.Cursor{Height: uint64(len(c.blocks) - 1), Hash: c.blocks[len(c.blocks)-1].hash}, nil
}

// BlockAt implements chain.Node.
func (c *Chain) BlockAt(_ context.Context, height uint64) (chain.Block, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if height >= uint64(len(c.blocks)) {
		return chain.Block{}, fmt.Errorf("block %d of %s: %w", height, c.Network(), chain.ErrNotFound)
	}
	b := c.blocks[height]
	out := chain.Block{Height: height, Hash: b.hash, Parent: b.parent, Time: b.time, Outputs: make([]chain.Output, len(b.txs))}
	for i, tx := range b.txs {
		out.Outputs[i] = c.output(tx)
	}
	return out, nil
}

// Mempool implements chain.Node.
func (c *Chain) Mempool(context.Context) ([]chain.Output, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]chain.Output, len(c.mempool))
	for i, tx := range c.mempool {
		out[i] = c.output(tx)
	}
	return out, nil
}

func (c *Chain) output(tx devTx) chain.Output {
	return chain.Output{Currency: c.currency, TxID: tx.id, Index: 0, Address: tx.address, Amount: new(big.Int).Set(tx.amount), RBF: tx.rbf}
}
