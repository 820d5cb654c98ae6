package engine

import "fmt"

// Replay rebuilds an invoice's state from its stored snapshot (nil: none)
// and the stored events after it. A log that does not replay (Apply panics
// on an event that does not fit the state) is ErrCorrupt, never a guessed
// state.
func Replay(snapshot []byte, events [][]byte) (inv Invoice, err error) {
	defer func() {
		if p := recover(); p != nil {
			inv, err = Invoice{}, fmt.Errorf("%w: events do not replay: %v", ErrCorrupt, p)
		}
	}()
	if snapshot != nil {
		if inv, err = DecodeSnapshot(snapshot); err != nil {
			return Invoice{}, fmt.Errorf("snapshot: %w", err)
		}
	}
	for i, b := range events {
		e, err := DecodeEvent(b)
		if err != nil {
			return Invoice{}, fmt.Errorf("event %d after the snapshot: %w", i+1, err)
		}
		inv = Apply(inv, e)
	}
	return inv, nil
}
