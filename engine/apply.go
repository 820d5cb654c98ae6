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
		inv.ManualStatus = ev.Reason == ReasonManual
	case PaymentSeen:
		if inv.findTx(ev.Tx.TxID, ev.Tx.Index) >= 0 {
			panic(fmt.Sprintf("apply PaymentSeen %s:%d twice to invoice %s", ev.Tx.TxID, ev.Tx.Index, inv.ID))
		}
		inv.Transactions = append(inv.Transactions[:len(inv.Transactions):len(inv.Transactions)], ev.Tx)
		inv.Paid = inv.Paid.Add(ev.Tx.Amount)
		inv.UpdatedAt = ev.Tx.SeenAt
	case PaymentUpdated:
		i := inv.findTx(ev.TxID, ev.Index)
		if i < 0 {
			panic(fmt.Sprintf("apply PaymentUpdated for unknown payment %s:%d of invoice %s", ev.TxID, ev.Index, inv.ID))
		}
		txs := append([]Transaction(nil), inv.Transactions...)
		txs[i].Height, txs[i].BlockHash, txs[i].Confirmations = ev.Height, ev.BlockHash, ev.Confirmations
		inv.Transactions = txs
		inv.UpdatedAt = ev.At
	case PaymentReverted:
		i := inv.findTx(ev.TxID, ev.Index)
		if i < 0 {
			panic(fmt.Sprintf("apply PaymentReverted for unknown payment %s:%d of invoice %s", ev.TxID, ev.Index, inv.ID))
		}
		inv.Paid = inv.Paid.Sub(inv.Transactions[i].Amount)
		txs := make([]Transaction, 0, len(inv.Transactions)-1)
		txs = append(append(txs, inv.Transactions[:i]...), inv.Transactions[i+1:]...)
		inv.Transactions = txs
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
