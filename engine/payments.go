package engine

import (
	"errors"
	"fmt"
	"time"
)

// Transaction is one payment to an invoice's address as the chain shows it.
// (TxID, Index) identifies it, so observing the same output again never
// counts it twice.
type Transaction struct {
	TxID  string `json:"txid"`
	Index uint32 `json:"index"`
	// Amount is in the currency's smallest unit.
	Amount Units `json:"amount"`
	// Height and BlockHash locate the confirming block; Height 0 means the
	// payment is unconfirmed (in the mempool).
	Height        uint64 `json:"height,omitempty"`
	BlockHash     string `json:"block_hash,omitempty"`
	Confirmations int    `json:"confirmations"`
	// RBF marks a Bitcoin transaction that signals replace-by-fee: it is
	// never final before it confirms.
	RBF    bool      `json:"rbf,omitempty"`
	SeenAt time.Time `json:"seen_at"`
	// Late marks a payment first seen after the invoice expired or was
	// cancelled: it is recorded and reported but does not change the status.
	Late bool `json:"late,omitempty"`
}

// Confirmed reports whether t counts as final with required confirmations.
func (t Transaction) Confirmed(required int) bool {
	if t.RBF && required < 1 {
		required = 1
	}
	return t.Height > 0 && t.Confirmations >= required
}

// ObservePayment reports an output paying the invoice's address, from the
// mempool (Height 0) or a block, with its current confirmations. Sending it
// again is harmless: an unchanged observation decides nothing.
type ObservePayment struct {
	TxID          string
	Index         uint32
	Amount        Units
	Height        uint64
	BlockHash     string
	Confirmations int
	RBF           bool
	At            time.Time
}

// RevertPayment reports that a payment left the chain: its block was
// reorganised away and it is not in the mempool, or it was replaced or
// dropped.
type RevertPayment struct {
	TxID   string
	Index  uint32
	Reason string
	At     time.Time
}

// Expire asks the invoice to expire if its deadline has passed. The expiry
// scheduler sends it at expires_at; an invoice that a payment keeps alive
// (pending) or that is no longer open ignores it.
type Expire struct {
	At time.Time
}

func (ObservePayment) command() {}
func (RevertPayment) command()  {}
func (Expire) command()         {}

// PaymentSeen records a new payment.
type PaymentSeen struct {
	Tx Transaction `json:"tx"`
}

// PaymentUpdated records a payment's new block or confirmation count.
type PaymentUpdated struct {
	TxID          string    `json:"txid"`
	Index         uint32    `json:"index"`
	Height        uint64    `json:"height,omitempty"`
	BlockHash     string    `json:"block_hash,omitempty"`
	Confirmations int       `json:"confirmations"`
	At            time.Time `json:"at"`
}

// PaymentReverted records that a payment is gone from the chain.
type PaymentReverted struct {
	TxID   string    `json:"txid"`
	Index  uint32    `json:"index"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Kind implements Event.
func (PaymentSeen) Kind() EventKind { return KindPaymentSeen }

// Kind implements Event.
func (PaymentUpdated) Kind() EventKind { return KindPaymentUpdated }

// Kind implements Event.
func (PaymentReverted) Kind() EventKind { return KindPaymentReverted }

// ErrNotWatched marks a payment command for an invoice without an address
// (archived).
var ErrNotWatched = errors.New("invoice has no deposit address")

func (inv Invoice) findTx(txid string, index uint32) int {
	for i, t := range inv.Transactions {
		if t.TxID == txid && t.Index == index {
			return i
		}
	}
	return -1
}

func (r *Rules) decideObserve(inv Invoice, c ObservePayment) ([]Event, error) {
	if !inv.Exists() {
		return nil, ErrNotFound
	}
	if inv.Address == "" {
		return nil, ErrNotWatched
	}
	if c.TxID == "" || c.Amount.Sign() <= 0 || c.Confirmations < 0 || (c.Height == 0) != (c.Confirmations == 0) {
		return nil, fmt.Errorf("observe payment %s:%d: inconsistent observation (amount %s, height %d, confirmations %d)", c.TxID, c.Index, c.Amount, c.Height, c.Confirmations)
	}
	var events []Event
	if i := inv.findTx(c.TxID, c.Index); i < 0 {
		late := inv.Status == StatusExpired || inv.Status == StatusCancelled || inv.Status == StatusArchived || c.At.After(inv.ExpiresAt)
		events = append(events, PaymentSeen{Tx: Transaction{
			TxID: c.TxID, Index: c.Index, Amount: c.Amount, Height: c.Height, BlockHash: c.BlockHash,
			Confirmations: c.Confirmations, RBF: c.RBF, SeenAt: c.At.UTC(), Late: late,
		}})
	} else if t := inv.Transactions[i]; t.Height != c.Height || t.BlockHash != c.BlockHash || t.Confirmations != c.Confirmations {
		events = append(events, PaymentUpdated{TxID: c.TxID, Index: c.Index, Height: c.Height, BlockHash: c.BlockHash, Confirmations: c.Confirmations, At: c.At.UTC()})
	}
	return r.withStatus(inv, events, c.At), nil
}

func (r *Rules) decideRevert(inv Invoice, c RevertPayment) ([]Event, error) {
	if !inv.Exists() {
		return nil, ErrNotFound
	}
	if inv.findTx(c.TxID, c.Index) < 0 {
		return nil, nil
	}
	events := []Event{PaymentReverted{TxID: c.TxID, Index: c.Index, Reason: c.Reason, At: c.At.UTC()}}
	return r.withStatus(inv, events, c.At), nil
}

func (r *Rules) decideExpire(inv Invoice, c Expire) ([]Event, error) {
	if !inv.Exists() {
		return nil, ErrNotFound
	}
	if c.At.Before(inv.ExpiresAt) {
		return nil, nil
	}
	return r.withStatus(inv, nil, c.At), nil
}

// withStatus appends to events the status change they cause, if any.
func (r *Rules) withStatus(inv Invoice, events []Event, at time.Time) []Event {
	after := ApplyAll(inv, events)
	to := r.PaymentStatus(after, at)
	if to != after.Status {
		events = append(events, StatusChanged{From: after.Status, To: to, Reason: statusReason(after.Status, to), At: at.UTC()})
	}
	return events
}

func statusReason(from, to Status) string {
	if to == StatusExpired {
		return ReasonExpiry
	}
	return ReasonPayment
}

// PaymentStatus is the status the chain and the clock give inv at time at
// (docs/design.md, section 2). Only payments seen in time count: a payment
// seen after expiry or cancellation is recorded but changes nothing. A
// payment seen before expiry keeps the invoice alive (pending) until it
// confirms or is dropped. Statuses the merchant set by hand, and final
// ones, are kept.
func (r *Rules) PaymentStatus(inv Invoice, at time.Time) Status {
	if inv.Status.IsFinal() || inv.ManualStatus {
		return inv.Status
	}
	required := 1
	if c, ok := r.Currencies.Lookup(inv.Currency); ok {
		required = c.Confirmations
	}
	var seen, confirmed Units
	for _, t := range inv.Transactions {
		if t.Late {
			continue
		}
		seen = seen.Add(t.Amount)
		if t.Confirmed(required) {
			confirmed = confirmed.Add(t.Amount)
		}
	}
	threshold := Threshold(inv.Amount, inv.AllowedErrorPercent)
	switch {
	case confirmed.Cmp(threshold) >= 0:
		return StatusCompleted
	case seen.Cmp(threshold) >= 0:
		return StatusPending
	case !at.Before(inv.ExpiresAt):
		return StatusExpired
	case seen.Sign() > 0:
		return StatusPaidPartial
	default:
		return StatusNew
	}
}
