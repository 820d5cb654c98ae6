// Package row maps an invoice to the row its commits derive the store's
// list indexes, counters, expiry schedule and watch list from. The invoice
// actors write it with every commit and the integrity check rebuilds it
// from the event log, so both share this one pure function (and the check
// links no actor system).
package row

import (
	"time"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// Of is the index row of inv; watchGrace is how long the address of an
// invoice no longer waiting for payment (completed or final) stays watched.
func Of(rules *engine.Rules, watchGrace time.Duration, inv engine.Invoice) *persistence.IndexRow {
	row := &persistence.IndexRow{
		ProjectID: inv.ProjectID,
		InvoiceID: inv.ID,
		Status:    string(inv.Status),
		Currency:  inv.Currency,
		CreatedAt: inv.CreatedAt.UnixNano(),
		UpdatedAt: inv.UpdatedAt.UnixNano(),
	}
	if inv.FiatAmount != nil {
		row.Fiat = inv.FiatAmount.Big()
	}
	decimals := 18
	if c, ok := rules.Currencies.Lookup(inv.Currency); ok {
		decimals = c.Decimals
	}
	row.Crypto = engine.Scale18(inv.Amount, decimals)
	switch inv.Status {
	case engine.StatusNew, engine.StatusPaidPartial:
		// Only an invoice that can still expire is scheduled; a pending one
		// is kept alive by its payment and leaves the schedule.
		row.ExpiresAt = inv.ExpiresAt.UnixNano()
	}
	if inv.Address != "" {
		row.Watch = &persistence.Watch{Currency: inv.Currency, Address: inv.Address}
		if inv.Status == engine.StatusCompleted || inv.Status.IsFinal() {
			// No longer waiting for payment: keep watching for a grace
			// period, so late payments, overpayments and reorgs are still
			// recorded.
			row.Watch.Until = inv.UpdatedAt.Add(watchGrace).UnixNano()
		}
	}
	return row
}
