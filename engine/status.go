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

// Allowed reports whether the lifecycle permits from -> to, either by a
// merchant (manual) or by the engine.
func Allowed(from, to Status, manual bool) bool {
	table := autoTransitions
	if manual {
		table = manualTargets
	}
	for _, t := range table[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Final reports whether no payment can change s any more.
func (s Status) Final() bool {
	switch s {
	case StatusCancelled, StatusArchived:
		return true
	}
	return false
}
