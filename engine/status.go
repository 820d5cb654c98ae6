package engine

// Status is an invoice's lifecycle state (docs/design.md, section 2).
type Status string

// The statuses of the public API, in its enum order.
const (
	StatusNew         Status = "new"
	StatusPending     Status = "pending"
	StatusCompleted   Status = "completed"
	StatusExpired     Status = "expired"
	StatusCancelled   Status = "cancelled"
	StatusPaidPartial Status = "paid_partial"
	StatusArchived    Status = "archived"
)

// Statuses lists every status in the API's enum order.
var Statuses = []Status{StatusNew, StatusPending, StatusCompleted, StatusExpired, StatusCancelled, StatusPaidPartial, StatusArchived}

// Valid reports whether s is one of the API's statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// manualTargets is the table of status changes a merchant may ask for with
// PATCH. Anything not listed is refused with the allowed targets named.
var manualTargets = map[Status][]Status{
	StatusNew:         {StatusCancelled},
	StatusPaidPartial: {StatusCancelled, StatusCompleted},
	StatusPending:     {StatusCancelled},
	StatusExpired:     {StatusCompleted, StatusArchived},
	StatusCompleted:   {StatusArchived},
	StatusCancelled:   {StatusArchived},
	StatusArchived:    nil,
}

// ManualTargets returns the statuses a merchant may move an invoice to from s.
func ManualTargets(s Status) []Status {
	return append([]Status(nil), manualTargets[s]...)
}

// autoTransitions is the table of changes the engine itself makes from chain
// events and the clock: payments move an invoice forward, reorgs and dropped
// transactions move it back, and the expiry deadline ends an unpaid one.
var autoTransitions = map[Status][]Status{
	StatusNew:         {StatusPaidPartial, StatusPending, StatusCompleted, StatusExpired},
	StatusPaidPartial: {StatusNew, StatusPending, StatusCompleted, StatusExpired},
	StatusPending:     {StatusNew, StatusPaidPartial, StatusCompleted, StatusExpired},
	StatusCompleted:   {StatusNew, StatusPaidPartial, StatusPending, StatusExpired},
}

// By says who changes a status.
type By int

const (
	// ByEngine: chain events and the clock (autoTransitions).
	ByEngine By = iota
	// ByMerchant: a PATCH (manualTargets).
	ByMerchant
)

// Allowed reports whether the lifecycle permits from -> to when by makes
// the change.
func Allowed(from, to Status, by By) bool {
	table := autoTransitions
	if by == ByMerchant {
		table = manualTargets
	}
	for _, t := range table[from] {
		if t == to {
			return true
		}
	}
	return false
}

// IsFinal reports whether no payment can change s any more: expired,
// cancelled and archived invoices record later payments as late and keep
// their status (a merchant may still move them by hand). Completed is not
// final: a reorganisation can take its payment away. This is the one
// meaning of "final" in invoiced.
func (s Status) IsFinal() bool {
	switch s {
	case StatusExpired, StatusCancelled, StatusArchived:
		return true
	}
	return false
}
