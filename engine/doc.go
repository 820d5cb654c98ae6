// Package engine is the pure domain core of invoiced: invoice state, the
// commands that ask for a change, the events that record one, and the rules
// that turn one into the other.
//
// Nothing here performs I/O or reads the clock: time, exchange rates and
// deposit addresses arrive inside commands, so every decision is a pure
// function that tests (and fuzzers) can replay exactly. The actors package
// runs these rules; the persistence package stores the events they produce.
//
// Money is exact: amounts are integers in the currency's smallest unit
// (satoshi, wei, token units, euro cents), parsed from decimal text and never
// passed through float64.
package engine
