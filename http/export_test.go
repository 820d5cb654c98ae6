package httpapi

// ReferenceDuplicateKey is the test-only duplicate key detector, for the
// external tests' invariants.
var ReferenceDuplicateKey = referenceDuplicateKey
