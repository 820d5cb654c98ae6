package engine

import "time"

// EventKind tags an event in its stored encoding. Values are part of the
// on-disk format: never renumber, only add.
type EventKind uint8

// The event kinds.
const (
	KindCreated         EventKind = 1
	KindStatusChanged   EventKind = 2
	KindPaymentSeen     EventKind = 3
	KindPaymentUpdated  EventKind = 4
	KindPaymentReverted EventKind = 5
)

// Event is a fact that happened to an invoice. Events are immutable and
// applied in order by Apply.
type Event interface {
	Kind() EventKind
}

// Created records a new invoice; its Invoice is the initial state.
type Created struct {
	Invoice Invoice `json:"invoice"`
}

// Why a status changed.
const (
	ReasonManual  = "manual"  // the merchant asked with PATCH
	ReasonPayment = "payment" // a payment was seen, confirmed or reverted
	ReasonExpiry  = "expiry"  // expires_at passed
)

// StatusChanged records a status change, with the merchant's comment when it
// was a manual change.
type StatusChanged struct {
	From    Status    `json:"from"`
	To      Status    `json:"to"`
	Reason  string    `json:"reason"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// By is who made the change: the merchant for a manual one, else the engine.
func (e StatusChanged) By() By {
	if e.Reason == ReasonManual {
		return ByMerchant
	}
	return ByEngine
}

// Kind implements Event.
func (Created) Kind() EventKind { return KindCreated }

// Kind implements Event.
func (StatusChanged) Kind() EventKind { return KindStatusChanged }
