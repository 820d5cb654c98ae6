// Package ledger is an independent, deliberately simple model of what an
// invoice's amount paid and status must be for a given chain history
// (docs/design.md, section 2). The randomized simulations in this
// package's tests drive the real engine and the real server with the same
// history and compare every invoice with this model.
//
// It imports nothing of invoiced on purpose: it restates the lifecycle rules
// in the plainest form (integer amounts, a list of payments with three
// flags) so that a mistake in the engine's implementation is not copied
// into the check of it.
//
// The rules, as docs/design.md section 2 states them:
//   - threshold = amount * (100 - allowed_error_percent) / 100, rounded up;
//   - a payment counts towards the status only if it was seen before the
//     invoice expired ("late" otherwise: seen when the invoice was already
//     expired, cancelled or archived, or seen after expires_at); every
//     payment, late or not, counts in the amount paid;
//   - counted payments confirmed by enough blocks reaching the threshold make
//     it completed; counted payments seen (confirmed or not) reaching it make
//     it pending; otherwise it expires once expires_at has passed
//     (now >= expires_at), is paid_partial when something was seen, and new
//     when nothing was;
//   - expired, cancelled and archived are left only by hand; a status the
//     merchant set by hand is never changed by the chain again;
//   - a reorganised or dropped payment is removed and the status follows;
//   - by hand: new, paid_partial, pending -> cancelled; paid_partial,
//     expired -> completed; completed, expired, cancelled -> archived.
package ledger

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// The statuses, as the API spells them.
const (
	New         = "new"
	PaidPartial = "paid_partial"
	Pending     = "pending"
	Completed   = "completed"
	Expired     = "expired"
	Cancelled   = "cancelled"
	Archived    = "archived"
)

// All lists every status.
var All = []string{New, PaidPartial, Pending, Completed, Expired, Cancelled, Archived}

// byHand is the table of changes a merchant may make.
var byHand = map[string][]string{
	New:         {Cancelled},
	PaidPartial: {Cancelled, Completed},
	Pending:     {Cancelled},
	Expired:     {Completed, Archived},
	Completed:   {Archived},
	Cancelled:   {Archived},
}

// ErrRefused is returned for a change the merchant may not make.
var ErrRefused = errors.New("status change refused")

// Payment is one payment the chain currently shows for an invoice.
type Payment struct {
	ID     string
	Amount int64
	// Late: first seen after the invoice expired or was closed.
	Late bool
	// Confirmed: in a block with enough confirmations.
	Confirmed bool
}

// Invoice is the model of one invoice. Amounts are integers in the
// currency's smallest unit; the simulations keep them within int64.
type Invoice struct {
	Amount       int64
	AllowedError int64 // percent
	ExpiresAt    time.Time
	Status       string
	// Manual is set once the merchant changed the status by hand.
	Manual   bool
	Payments []Payment
}

// NewInvoice is a fresh invoice.
func NewInvoice(amount, allowedErrorPercent int64, expiresAt time.Time) *Invoice {
	return &Invoice{Amount: amount, AllowedError: allowedErrorPercent, ExpiresAt: expiresAt, Status: New}
}

// Threshold is the least total that settles the invoice.
func (inv *Invoice) Threshold() int64 {
	n := inv.Amount * (100 - inv.AllowedError)
	return (n + 99) / 100
}

// Paid is the sum of every payment, late ones included.
func (inv *Invoice) Paid() int64 {
	var sum int64
	for _, p := range inv.Payments {
		sum += p.Amount
	}
	return sum
}

func (inv *Invoice) find(id string) int {
	return slices.IndexFunc(inv.Payments, func(p Payment) bool { return p.ID == id })
}

// Seen records a payment the chain shows at time at (in the mempool or a
// block); seeing one that is already recorded only updates confirmed.
func (inv *Invoice) Seen(id string, amount int64, confirmed bool, at time.Time) {
	if i := inv.find(id); i >= 0 {
		inv.Payments[i].Confirmed = confirmed
	} else {
		late := inv.Status == Expired || inv.Status == Cancelled || inv.Status == Archived || at.After(inv.ExpiresAt)
		inv.Payments = append(inv.Payments, Payment{ID: id, Amount: amount, Late: late, Confirmed: confirmed})
	}
	inv.settle(at)
}

// Gone records that a payment left the chain (reorganised away and not in
// the mempool, dropped, replaced).
func (inv *Invoice) Gone(id string, at time.Time) {
	if i := inv.find(id); i >= 0 {
		inv.Payments = slices.Delete(inv.Payments, i, i+1)
	}
	inv.settle(at)
}

// Tick lets time pass: an unpaid invoice expires.
func (inv *Invoice) Tick(at time.Time) { inv.settle(at) }

// ByHand is a merchant's status change.
func (inv *Invoice) ByHand(to string) error {
	if !slices.Contains(byHand[inv.Status], to) {
		return fmt.Errorf("%s -> %s: %w", inv.Status, to, ErrRefused)
	}
	inv.Status, inv.Manual = to, true
	return nil
}

// settle computes the status the chain and the clock give the invoice.
func (inv *Invoice) settle(now time.Time) {
	if inv.Manual || inv.Status == Expired || inv.Status == Cancelled || inv.Status == Archived {
		return
	}
	var seen, confirmed int64
	for _, p := range inv.Payments {
		if p.Late {
			continue
		}
		seen += p.Amount
		if p.Confirmed {
			confirmed += p.Amount
		}
	}
	t := inv.Threshold()
	switch {
	case confirmed >= t:
		inv.Status = Completed
	case seen >= t:
		inv.Status = Pending
	case !now.Before(inv.ExpiresAt):
		inv.Status = Expired
	case seen > 0:
		inv.Status = PaidPartial
	default:
		inv.Status = New
	}
}
