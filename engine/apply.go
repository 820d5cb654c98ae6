package engine

import "fmt"

// Apply returns inv with e applied. It never fails for an event Decide
// produced from inv; given an event that does not fit (a corrupt or
// reordered log) it panics rather than invent state, because replaying such
// a log would silently misstate money.
func Apply(inv Invoice, e Event) Invoice {
	switch ev := e.(type) {
	case Created:
		if inv.Exists() {
			panic(fmt.Sprintf("apply Created to existing invoice %s", inv.ID))
		}
		inv = ev.Invoice
	case StatusChanged:
		if inv.Status != ev.From {
			panic(fmt.Sprintf("apply StatusChanged %s->%s to invoice %s in status %s", ev.From, ev.To, inv.ID, inv.Status))
		}
		inv.Status = ev.To
		inv.UpdatedAt = ev.At
	default:
		panic(fmt.Sprintf("apply unknown event %T", e))
	}
	inv.Version++
	return inv
}

// ApplyAll applies events in order.
func ApplyAll(inv Invoice, events []Event) Invoice {
	for _, e := range events {
		inv = Apply(inv, e)
	}
	return inv
}
