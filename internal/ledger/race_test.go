//go:build race

package ledger_test

// raceEnabled: the race detector slows the engine simulation about tenfold,
// so under it the default run is smaller; CI also runs the full 100,000
// payments without it (.ci/run).
const raceEnabled = true
