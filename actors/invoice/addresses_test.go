package invoice

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/chain/devchain"
	"github.com/invoiced/invoiced/persistence"
)

func TestAddressBook_DistinctPooledAndRecoverable(t *testing.T) {
	dir := t.TempDir()
	store, err := persistence.Open(dir, persistence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deriver := devchain.NewDeriver(devchain.DevSeed())
	book := newAddressBook(store, deriver)
	ctx, cancel := context.WithCancel(context.Background())
	go book.run(ctx)

	var mu sync.Mutex
	seen := map[uint64]string{}
	// Indexes are handed out in order, with no gap: after n allocations the
	// set is exactly 0..n-1.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				idx, addr, err := book.allocate("BTC")
				if err != nil {
					t.Error(err)
					return
				}
				want, _ := deriver.Derive("BTC", idx)
				mu.Lock()
				if _, dup := seen[idx]; dup || addr != want {
					t.Errorf("index %d handed out twice or with address %s (want %s)", idx, addr, want)
				}
				seen[idx] = addr
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := range uint64(len(seen)) {
		if _, ok := seen[i]; !ok {
			t.Fatalf("index %d skipped: %d allocations left a gap", i, len(seen))
		}
	}
	// Drained below half, the pool refills to full in the background.
	poolLen := func() int {
		book.mu.Lock()
		defer book.mu.Unlock()
		return len(book.pool["BTC"])
	}
	for poolLen() >= poolSize/2 {
		if _, _, err := book.allocate("BTC"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		book.mu.Lock()
		n := len(book.pool["BTC"])
		book.mu.Unlock()
		if n == poolSize {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool holds %d addresses, want %d", n, poolSize)
		}
		time.Sleep(time.Millisecond)
	}
	// A released index (its create failed) is handed out again first.
	idx, addr, _ := book.allocate("BTC")
	book.release("BTC", idx, addr)
	if again, _, _ := book.allocate("BTC"); again != idx {
		t.Fatalf("released index %d not reused (got %d)", idx, again)
	}

	// Commit index 1000 as used, then restart: allocation continues above it,
	// whatever the old process had pre-derived.
	addr1000, _ := deriver.Derive("BTC", 1000)
	_, err = store.Commit(persistence.Commit{Stream: uuid.New(), Events: [][]byte{{1}}, Snapshot: []byte{1},
		New:    &persistence.IndexRow{ProjectID: uuid.New(), InvoiceID: uuid.New(), Status: "new", Currency: "BTC"},
		Claims: []persistence.Claim{persistence.AddressClaim("BTC", 1000, addr1000, uuid.New())}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	restarted := newAddressBook(store, deriver)
	if got, _, err := restarted.allocate("BTC"); err != nil || got != 1001 {
		t.Fatalf("after restart allocated %d, %v; want 1001", got, err)
	}
	store.Close()
}
