package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/chainwatch"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
)

// devRules are the rules the crash test servers run with: the dev chains,
// one confirmation each except BTC (see confirmations).
func devRules(t *testing.T) *engine.Rules {
	var cs []engine.Currency
	for _, c := range engine.DefaultCurrencies() {
		switch c.Code {
		case "BTC":
			c.Confirmations = 2
		case "LTC", "ETH":
			c.Confirmations = 1
		default:
			continue
		}
		cs = append(cs, c)
	}
	reg, err := engine.NewRegistry(cs)
	if err != nil {
		t.Fatal(err)
	}
	r := engine.DefaultRules()
	r.Currencies = reg
	return r
}

// stored is an invoice as the store holds it: replayed state and events.
type stored struct {
	inv    engine.Invoice
	events []engine.Event
}

// storeFacts is what verifyStore found.
type storeFacts struct {
	invoices  map[uuid.UUID]stored
	byProject map[uuid.UUID]int
	report    persistence.CheckReport
	// cursors is each dev chain monitor's persisted cursor height.
	cursors map[string]uint64
}

// verifyStore opens the store of a stopped (killed) server and checks
// everything a crash must not break; see the package comment.
func verifyStore(t *testing.T, dataDir string, a *acked) storeFacts {
	t.Helper()
	s, err := persistence.Open(filepath.Join(dataDir, "store"), persistence.Options{})
	if err != nil {
		t.Fatalf("reopen after the crash: %v", err)
	}
	defer s.Close()
	rules := devRules(t)
	facts := storeFacts{invoices: map[uuid.UUID]stored{}, byProject: map[uuid.UUID]int{}, cursors: map[string]uint64{}}
	inner := maintenance.Rows(rules, 24*time.Hour)
	var replayErrs []string
	a.mu.Lock()
	patched := map[uuid.UUID]bool{}
	for _, p := range a.patches {
		patched[p.invoice] = true
	}
	a.mu.Unlock()
	rowOf := func(r persistence.StreamRecords) persistence.Derived {
		d := inner(r)
		if d.Row == nil || d.Snapshot != nil {
			return d // a problem the report names
		}
		// The check has verified the snapshot (if any) against the
		// events; the state is read from the events, which every stream
		// has (a create writes no snapshot).
		var st stored
		var err error
		if st.inv, err = engine.Replay(nil, r.Events); err != nil {
			replayErrs = append(replayErrs, fmt.Sprintf("%s: %v", r.ID, err))
			return d
		}
		if patched[r.ID] {
			for _, b := range r.Events {
				e, err := engine.DecodeEvent(b)
				if err != nil {
					replayErrs = append(replayErrs, fmt.Sprintf("%s: %v", r.ID, err))
					return d
				}
				st.events = append(st.events, e)
			}
		}
		facts.invoices[r.ID] = st
		facts.byProject[st.inv.ProjectID]++
		return d
	}
	facts.report, err = s.Check(rowOf, persistence.CheckOptions{Now: time.Now().UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	if !facts.report.OK() || len(replayErrs) > 0 {
		t.Fatalf("store after the crash is inconsistent (half-applied decision?): %v %v", facts.report.Problems, replayErrs)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	for id, ai := range a.invoices {
		st, ok := facts.invoices[id]
		if !ok {
			t.Fatalf("acknowledged invoice %s (%s) lost in the crash", id, ai.orderID)
		}
		if st.inv.OrderID != ai.orderID || (st.inv.Address != ai.address) {
			t.Fatalf("acknowledged invoice %s is stored as order %q address %q, acknowledged %q %q", id, st.inv.OrderID, st.inv.Address, ai.orderID, ai.address)
		}
	}
	for _, p := range a.patches {
		found := slices.ContainsFunc(facts.invoices[p.invoice].events, func(e engine.Event) bool {
			sc, ok := e.(engine.StatusChanged)
			return ok && sc.Reason == engine.ReasonManual && string(sc.To) == p.status && sc.Comment == p.comment
		})
		if !found {
			t.Fatalf("acknowledged PATCH of %s to %s (%s) lost in the crash", p.invoice, p.status, p.comment)
		}
	}
	// Nothing paid an invoice no payment was sent to.
	for id, st := range facts.invoices {
		if !a.paid[id] && len(st.inv.Transactions) > 0 {
			t.Fatalf("invoice %s was never paid but holds payments %+v", id, st.inv.Transactions)
		}
	}
	// Every status is the one the engine's rules give the stored payments
	// at the time of the invoice's last change (maintenance.Check has
	// verified each payment is counted once and paid is their sum).
	for id, st := range facts.invoices {
		if got := rules.PaymentStatus(st.inv, st.inv.UpdatedAt); got != st.inv.Status {
			t.Fatalf("invoice %s is %s, but its stored payments make it %s: %+v", id, st.inv.Status, got, st.inv)
		}
	}
	// The chain cursors are on the persisted chains.
	chains := readDevChains(t, dataDir)
	for cur, ch := range chains {
		b, err := s.ChainState("devchain-" + cur)
		if err != nil {
			continue // never followed yet
		}
		cursor, err := chainwatch.CursorOf(b)
		if err != nil {
			t.Fatalf("%s chain state: %v", cur, err)
		}
		if cursor.Height >= uint64(len(ch.blocks)) || ch.blocks[cursor.Height] != cursor.Hash {
			t.Fatalf("%s monitor cursor %d %s is not on the persisted chain (height %d)", cur, cursor.Height, cursor.Hash, len(ch.blocks)-1)
		}
		facts.cursors[cur] = cursor.Height
	}
	return facts
}

// devChain is a dev chain as its file holds it.
type devChain struct {
	blocks []string             // hash by height
	paid   map[string][]chainTx // by address
}

type chainTx struct {
	txid   string
	height uint64
	amount string
}

// readDevChains reads the persisted dev chains (devchain-*.json in the
// data dir): the truth the monitors must converge to after a restart.
func readDevChains(t *testing.T, dataDir string) map[string]devChain {
	out := map[string]devChain{}
	for _, c := range loadCurrencies {
		b, err := os.ReadFile(filepath.Join(dataDir, "devchain-"+strings.ToLower(c.code)+".json"))
		if err != nil {
			t.Fatalf("dev chain file: %v", err)
		}
		var f struct {
			Blocks []struct {
				Hash string `json:"hash"`
				Txs  []struct {
					ID      string   `json:"id"`
					Address string   `json:"address"`
					Amount  *big.Int `json:"amount"`
				} `json:"txs"`
			} `json:"blocks"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("dev chain file of %s: %v", c.code, err)
		}
		ch := devChain{paid: map[string][]chainTx{}}
		for h, blk := range f.Blocks {
			ch.blocks = append(ch.blocks, blk.Hash)
			for _, tx := range blk.Txs {
				ch.paid[tx.Address] = append(ch.paid[tx.Address], chainTx{txid: tx.ID, height: uint64(h), amount: tx.Amount.String()})
			}
		}
		out[c.code] = ch
	}
	return out
}

// settle waits until the restarted server shows, for every acknowledged
// invoice a payment was sent to (verifyStore checks that the others have
// none), exactly the payments the persisted chain holds for its address,
// each once, at its block height with its confirmations: the monitors
// resumed from their cursors without skipping or double-applying a block,
// and payments that were only in the lost mempool were reverted. It
// returns how many invoices with payments it checked.
func settle(t *testing.T, p *proc, dataDir, key string, a *acked) int {
	t.Helper()
	chains := readDevChains(t, dataDir)
	a.mu.Lock()
	invs := make([]*ackedInvoice, 0, len(a.invoices))
	for id := range a.paid {
		invs = append(invs, a.invoices[id])
	}
	a.mu.Unlock()
	required := map[string]int{"BTC": 2, "LTC": 1, "ETH": 1}
	deadline := time.Now().Add(30 * time.Second)
	paid := 0
	for _, inv := range invs {
		ch := chains[inv.currency]
		want := ch.paid[inv.address]
		tip := uint64(len(ch.blocks) - 1)
		if len(want) > 0 {
			paid++
		}
		for {
			diff := compareTxs(p, key, inv, want, tip, required[inv.currency])
			if diff == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the restart invoice %s still differs from the persisted chain: %s\n%s", inv.id, diff, p.stderr)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return paid
}

func compareTxs(p *proc, key string, inv *ackedInvoice, want []chainTx, tip uint64, required int) string {
	code, b, err := p.do(context.Background(), "GET", "/api/v1/invoices/"+inv.id.String(), key, "")
	if err != nil || code != 200 {
		return fmt.Sprintf("GET: %d %v %s", code, err, b)
	}
	var got struct {
		Paid         json.Number `json:"actual_crypto_amount_paid_in_units"`
		Transactions []struct {
			TxID          string      `json:"txid"`
			Amount        json.Number `json:"amount_in_units"`
			Height        *uint64     `json:"block_height"`
			Confirmations int         `json:"confirmations"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		return err.Error()
	}
	if len(got.Transactions) != len(want) {
		return fmt.Sprintf("%d payments, the chain has %d: %s", len(got.Transactions), len(want), b)
	}
	sum := new(big.Int)
	for _, w := range want {
		j := slices.IndexFunc(got.Transactions, func(tx struct {
			TxID          string      `json:"txid"`
			Amount        json.Number `json:"amount_in_units"`
			Height        *uint64     `json:"block_height"`
			Confirmations int         `json:"confirmations"`
		}) bool {
			return tx.TxID == w.txid
		})
		if j < 0 {
			return fmt.Sprintf("payment %s of block %d missing (a block skipped?)", w.txid, w.height)
		}
		g := got.Transactions[j]
		conf := min(int(tip-w.height)+1, required)
		if g.Height == nil || *g.Height != w.height || string(g.Amount) != w.amount || g.Confirmations != conf {
			return fmt.Sprintf("payment %s: height %v amount %s confirmations %d, the chain says %d %s %d", w.txid, g.Height, g.Amount, g.Confirmations, w.height, w.amount, conf)
		}
		a, _ := new(big.Int).SetString(w.amount, 10)
		sum.Add(sum, a)
	}
	if string(got.Paid) != sum.String() {
		return fmt.Sprintf("paid %s, the chain's payments sum to %s", got.Paid, sum)
	}
	return ""
}
