package persistence

import (
	"errors"
	"fmt"
)

// Sentinel errors; callers test them with errors.Is, as every error this
// package returns is wrapped with what was being done.
var (
	// ErrCorrupt marks a stored record that cannot be decoded.
	ErrCorrupt = errors.New("corrupt record")
	// ErrNotFound: the stream, record or key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrVersionConflict: a Commit's ExpectedVersion is not the stream's
	// version, so another writer got there first; reload and decide again.
	ErrVersionConflict = errors.New("stream version conflict")
	// ErrClaimTaken: a uniqueness record already exists.
	ErrClaimTaken = errors.New("unique claim taken")
	// ErrInvalidArgument: the caller passed something the keyspace cannot
	// hold (a string over 255 bytes, a negative amount, a commit without
	// events, a negative page offset). It is a programming error upstream.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrLocked: Open found the store held by another process (or another
	// Store in this one): a server is running on it.
	ErrLocked = errors.New("store in use by another process")
)

// ClaimTakenError is returned (wrapping ErrClaimTaken) when a claim key
// already exists. Existing is the value stored with the claim, so the caller
// can tell an idempotent retry (same invoice, same request) from a conflict.
type ClaimTakenError struct {
	Kind     ClaimKind
	Existing []byte
}

func (e *ClaimTakenError) Error() string {
	return fmt.Sprintf("%s %s", e.Kind, ErrClaimTaken)
}

// Unwrap makes errors.Is(err, ErrClaimTaken) hold.
func (e *ClaimTakenError) Unwrap() error { return ErrClaimTaken }
