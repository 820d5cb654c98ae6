package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// ClaimKind names what a uniqueness record protects; it is also the key byte
// after the claim prefix (see keys.go), so values must never be renumbered.
type ClaimKind uint8

const (
	// ClaimOrderID: unique order_id within a project.
	ClaimOrderID ClaimKind = iota + 1
	// ClaimIdempotencyKey: unique Idempotency-Key within a project.
	ClaimIdempotencyKey
	// ClaimAddress: a deposit address is owned by exactly one invoice.
	ClaimAddress
	// ClaimProjectName: unique project name within an account.
	ClaimProjectName
)

func (k ClaimKind) String() string {
	switch k {
	case ClaimOrderID:
		return "order_id"
	case ClaimIdempotencyKey:
		return "idempotency key"
	case ClaimAddress:
		return "address"
	case ClaimProjectName:
		return "project name"
	default:
		return fmt.Sprintf("claim kind %d", uint8(k))
	}
}

// A Claim is a uniqueness record: the commit that carries it fails with
// *ClaimTakenError if its key exists. Claims are checked and written under
// the key's stripe lock, so two concurrent commits can never both take one.
type Claim struct {
	kind  ClaimKind
	key   []byte
	value []byte
	// extra is written with the claim but not checked (the derivation
	// index record of an address claim).
	extraKey, extraValue []byte
	// err reports a claim that cannot be encoded; Commit returns it.
	err error
}

// OrderIDClaim reserves orderID in project; value is returned in
// ClaimTakenError.Existing to a later claimant.
func OrderIDClaim(project uuid.UUID, orderID string, value []byte) Claim {
	return Claim{kind: ClaimOrderID, key: claimKey(ClaimOrderID, project[:], orderID), value: value}
}

// IdempotencyClaim reserves an Idempotency-Key in project.
func IdempotencyClaim(project uuid.UUID, key string, value []byte) Claim {
	return Claim{kind: ClaimIdempotencyKey, key: claimKey(ClaimIdempotencyKey, project[:], key), value: value}
}

// AddressClaim records address -> invoice (so later issues can route chain
// outputs to invoices) and the derivation index record (currency, index) ->
// address, so the highest index in use can be recovered after a crash; both
// are written in the commit batch; only the address key is checked for
// existence.
func AddressClaim(currency string, index uint64, address string, invoice uuid.UUID) Claim {
	if err := checkString("currency", currency); err != nil {
		return Claim{kind: ClaimAddress, err: err}
	}
	return Claim{
		kind:       ClaimAddress,
		key:        claimKey(ClaimAddress, addressClaimScope(currency), address),
		value:      append([]byte(nil), invoice[:]...),
		extraKey:   derivationKey(currency, index),
		extraValue: []byte(address),
	}
}

// takeClaims fails with *ClaimTakenError if a claim of c is in the store,
// else adds them all to the claim filter (invariant 1 of claimFilter): the
// caller holds their stripes and writes c next. A claim the filter knows
// absent is not read.
func (s *Store) takeClaims(c Commit) error {
	for _, cl := range c.Claims {
		if !s.claims.mayHold(cl.key) {
			continue
		}
		existing, err := s.get(cl.key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("commit stream %s: check %s claim: %w", c.Stream, cl.kind, err)
		}
		return fmt.Errorf("commit stream %s: %w", c.Stream, &ClaimTakenError{Kind: cl.kind, Existing: existing})
	}
	for _, cl := range c.Claims {
		s.claims.add(cl.key)
	}
	return nil
}

// AddressOwner returns the invoice owning address (ErrNotFound).
func (s *Store) AddressOwner(currency, address string) (uuid.UUID, error) {
	if err := checkString("currency", currency); err != nil {
		return uuid.Nil, fmt.Errorf("address owner %s %s: %w", currency, address, err)
	}
	v, err := s.get(claimKey(ClaimAddress, addressClaimScope(currency), address))
	if err != nil {
		return uuid.Nil, fmt.Errorf("address owner %s %s: %w", currency, address, err)
	}
	id, err := uuid.FromBytes(v)
	if err != nil {
		return uuid.Nil, fmt.Errorf("address owner %s %s: corrupt value: %w", currency, address, err)
	}
	return id, nil
}

// MaxAddressIndex returns the highest derivation index recorded for currency
// (ok=false if none). It is the last key of the currency's derivation range.
func (s *Store) MaxAddressIndex(currency string) (index uint64, ok bool, err error) {
	if err := checkString("currency", currency); err != nil {
		return 0, false, fmt.Errorf("max address index %s: %w", currency, err)
	}
	p := derivationPrefix(currency)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, false, fmt.Errorf("max address index %s: %w", currency, err)
	}
	if it.Last() {
		index, ok = binary.BigEndian.Uint64(it.Key()[len(p):]), true
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, false, fmt.Errorf("max address index %s: %w", currency, err)
	}
	return index, ok, nil
}
