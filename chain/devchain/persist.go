package devchain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// The dev chain persists its blocks (not its mempool, which a real node
// may lose too) to a file, so a restarted server follows the same chain:
// otherwise its monitor would see a different chain and rightly take back
// every payment the old one confirmed.

type fileChain struct {
	Currency string      `json:"currency"`
	Seq      uint64      `json:"seq"`
	Blocks   []fileBlock `json:"blocks"`
}

type fileBlock struct {
	Hash   string    `json:"hash"`
	Parent string    `json:"parent"`
	Time   time.Time `json:"time"`
	Txs    []fileTx  `json:"txs,omitempty"`
}

type fileTx struct {
	ID      string   `json:"id"`
	Address string   `json:"address"`
	Amount  *big.Int `json:"amount"`
	RBF     bool     `json:"rbf,omitempty"`
}

// OpenChain returns the chain saved at path, or a new one saved there. Every
// block mined or disconnected afterwards is written to path (atomically, and
// synced) before the call that made it returns.
func OpenChain(path, currency string, now func() time.Time) (*Chain, error) {
	c := NewChain(currency, now)
	c.path = path
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, c.saveLocked()
	}
	if err != nil {
		return nil, fmt.Errorf("open dev chain: %w", err)
	}
	var f fileChain
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("open dev chain %s: %w", path, err)
	}
	if f.Currency != currency || len(f.Blocks) == 0 {
		return nil, fmt.Errorf("open dev chain %s: holds %q with %d blocks, want %s", path, f.Currency, len(f.Blocks), currency)
	}
	c.seq = f.Seq
	c.blocks = make([]devBlock, len(f.Blocks))
	for i, fb := range f.Blocks {
		b := devBlock{hash: fb.Hash, parent: fb.Parent, time: fb.Time}
		for _, ft := range fb.Txs {
			b.txs = append(b.txs, devTx{id: ft.ID, address: ft.Address, amount: ft.Amount, rbf: ft.RBF})
		}
		c.blocks[i] = b
	}
	return c, nil
}

// saveLocked writes the blocks to c.path; callers hold mu (or own c).
func (c *Chain) saveLocked() error {
	if c.path == "" {
		return nil
	}
	f := fileChain{Currency: c.currency, Seq: c.seq, Blocks: make([]fileBlock, len(c.blocks))}
	for i, b := range c.blocks {
		fb := fileBlock{Hash: b.hash, Parent: b.parent, Time: b.time}
		for _, t := range b.txs {
			fb.Txs = append(fb.Txs, fileTx{ID: t.id, Address: t.address, Amount: t.amount, RBF: t.rbf})
		}
		f.Blocks[i] = fb
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("save dev chain: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".devchain-*")
	if err != nil {
		return fmt.Errorf("save dev chain: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save dev chain: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save dev chain: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save dev chain: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("save dev chain: %w", err)
	}
	return nil
}
