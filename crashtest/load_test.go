package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
)

// acked is everything a server acknowledged (answered 2xx) over all runs:
// what the store must still hold after any crash.
type acked struct {
	mu       sync.Mutex
	invoices map[uuid.UUID]*ackedInvoice
	order    []uuid.UUID
	patches  []ackedPatch
	payments int // acknowledged /dev/pay calls
	// paid marks invoices a payment was sent to, acknowledged or not: the
	// only ones whose payments can differ from none.
	paid  map[uuid.UUID]bool
	mines int
	seq   int

	// What each kind of request got, for the report.
	sent, ok2xx, failed, other int
}

type ackedInvoice struct {
	id       uuid.UUID
	orderID  string
	body     string
	currency string
	address  string // "" for archived invoices
	amount   *big.Int
	archived bool
}

// ackedPatch is a PATCH answered 200: its event (status and unique
// comment) must be in the invoice's log.
type ackedPatch struct {
	invoice uuid.UUID
	status  string
	comment string
}

func newAcked() *acked {
	return &acked{invoices: map[uuid.UUID]*ackedInvoice{}, paid: map[uuid.UUID]bool{}}
}

var loadCurrencies = []struct {
	code     string
	decimals int
	amount   string
}{{"BTC", 8, "0.001"}, {"LTC", 8, "0.05"}, {"ETH", 18, "0.02"}}

// load drives p with concurrent creates, PATCHes, payments and blocks until
// ctx ends, recording every 2xx in a.
type load struct {
	p   *proc
	key string
	a   *acked
	// callback is every invoice's callback_url: the test's webhook sink.
	callback string
}

func (l *load) run(ctx context.Context, seed uint64) {
	var wg sync.WaitGroup
	workers := []func(context.Context, *rand.Rand){l.creator, l.creator, l.creator, l.patcher, l.patcher, l.payer, l.payer, l.miner}
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w(ctx, rand.New(rand.NewPCG(seed, uint64(i))))
		}()
	}
	wg.Wait()
}

// count records what a request got; only a complete 2xx response counts as
// acknowledged.
func (l *load) count(code int, err error) bool {
	l.a.mu.Lock()
	defer l.a.mu.Unlock()
	l.a.sent++
	switch {
	case err != nil:
		l.a.failed++
	case code >= 200 && code < 300:
		l.a.ok2xx++
		return true
	default:
		l.a.other++
	}
	return false
}

func (l *load) pick(rng *rand.Rand, withAddress bool) *ackedInvoice {
	l.a.mu.Lock()
	defer l.a.mu.Unlock()
	n := len(l.a.order)
	for range 8 {
		if n == 0 {
			return nil
		}
		// Mostly recent invoices, so payments and changes pile up on some.
		inv := l.a.invoices[l.a.order[n-1-rng.IntN(min(n, 50))]]
		if !withAddress || inv.address != "" {
			return inv
		}
	}
	return nil
}

func (l *load) creator(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		// Now and then repeat an acknowledged create: the same body must
		// return the same invoice (200), so an ambiguous retry is safe.
		if prev := l.pick(rng, false); prev != nil && rng.IntN(10) == 0 {
			path := "/api/v1/invoices"
			if prev.archived {
				path = "/api/v1/archived"
			}
			code, b, err := l.p.do(ctx, "POST", path, l.key, prev.body)
			if l.count(code, err) {
				var v struct {
					ID uuid.UUID `json:"invoice_id"`
				}
				if json.Unmarshal(b, &v) != nil || v.ID != prev.id || code != 200 {
					l.p.t.Errorf("retried create of %s answered %d with invoice %s", prev.orderID, code, v.ID)
				}
			}
			continue
		}
		c := loadCurrencies[rng.IntN(len(loadCurrencies))]
		l.a.mu.Lock()
		l.a.seq++
		order := fmt.Sprintf("order-%d-%d", time.Now().UnixNano(), l.a.seq)
		l.a.mu.Unlock()
		path, body := "/api/v1/invoices", fmt.Sprintf(`{"order_id":%q,"crypto_amount":%q,"currency":%q,"expire_min":%d,"callback_url":%q}`, order, c.amount, c.code, 1+rng.IntN(60), l.callback)
		archived := rng.IntN(10) == 0
		if archived {
			path, body = "/api/v1/archived", fmt.Sprintf(`{"order_id":%q,"crypto_amount":%q,"currency":%q,"created_at":"2025-06-01","callback_url":%q}`, order, c.amount, c.code, l.callback)
		}
		code, b, err := l.p.do(ctx, "POST", path, l.key, body)
		if !l.count(code, err) {
			continue
		}
		var v struct {
			ID uuid.UUID `json:"invoice_id"`
			BD struct {
				Address string `json:"blockchainAddress"`
			} `json:"blockchain_details"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			l.p.t.Errorf("create answered %d with %s", code, b)
			continue
		}
		amount, _ := new(big.Int).SetString(string(jsonNumber(b, "crypto_amount_in_units")), 10)
		l.a.mu.Lock()
		l.a.invoices[v.ID] = &ackedInvoice{id: v.ID, orderID: order, body: body, currency: c.code, address: v.BD.Address, amount: amount, archived: archived}
		l.a.order = append(l.a.order, v.ID)
		l.a.mu.Unlock()
	}
}

// jsonNumber returns the raw text of a top-level field.
func jsonNumber(b []byte, field string) json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return m[field]
}

func (l *load) patcher(ctx context.Context, rng *rand.Rand) {
	targets := []string{"cancelled", "completed", "archived", "cancelled"}
	for ctx.Err() == nil {
		inv := l.pick(rng, false)
		if inv == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		l.a.mu.Lock()
		l.a.seq++
		comment := fmt.Sprintf("patch-%d-%d", time.Now().UnixNano(), l.a.seq)
		l.a.mu.Unlock()
		status := targets[rng.IntN(len(targets))]
		code, _, err := l.p.do(ctx, "PATCH", "/api/v1/invoices/"+inv.id.String(), l.key, fmt.Sprintf(`{"status":%q,"comment":%q}`, status, comment))
		if l.count(code, err) {
			l.a.mu.Lock()
			l.a.patches = append(l.a.patches, ackedPatch{invoice: inv.id, status: status, comment: comment})
			l.a.mu.Unlock()
		}
	}
}

func (l *load) payer(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		inv := l.pick(rng, true)
		if inv == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		var dec int
		for _, c := range loadCurrencies {
			if c.code == inv.currency {
				dec = c.decimals
			}
		}
		// Part, all or more of the amount.
		l.a.mu.Lock()
		l.a.paid[inv.id] = true
		l.a.mu.Unlock()
		units := new(big.Int).Mul(inv.amount, big.NewInt(int64(20+rng.IntN(120))))
		units.Quo(units, big.NewInt(100))
		code, _, err := l.p.do(ctx, "POST", "/dev/pay", "", fmt.Sprintf(`{"currency":%q,"address":%q,"amount":%q}`, inv.currency, inv.address, formatUnits(units, dec)))
		if l.count(code, err) {
			l.a.mu.Lock()
			l.a.payments++
			l.a.mu.Unlock()
		}
		// A payment costs no fsync; pace it so invoices and changes keep up.
		time.Sleep(time.Duration(1+rng.IntN(4)) * time.Millisecond)
	}
}

func (l *load) miner(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(20+rng.IntN(100)) * time.Millisecond):
		}
		c := loadCurrencies[rng.IntN(len(loadCurrencies))]
		code, _, err := l.p.do(ctx, "POST", "/dev/mine", "", fmt.Sprintf(`{"currency":%q,"blocks":%d}`, c.code, 1+rng.IntN(2)))
		if l.count(code, err) {
			l.a.mu.Lock()
			l.a.mines++
			l.a.mu.Unlock()
		}
	}
}

// formatUnits writes units as a decimal with dec places.
func formatUnits(u *big.Int, dec int) string {
	s := u.String()
	for len(s) <= dec {
		s = "0" + s
	}
	return s[:len(s)-dec] + "." + s[len(s)-dec:]
}
