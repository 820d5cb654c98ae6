package persistence

import (
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// AuditEvent is one entry of the audit trail of a project's or an account's
// keys and settings. It is written in the batch of the change it records,
// so the trail holds exactly the changes that happened.
type AuditEvent struct {
	ID uuid.UUID
	// Owner is the project or account the event belongs to.
	Owner uuid.UUID
	Type  string
	At    time.Time
	// KeyID is the key the event is about (uuid.Nil for a settings change).
	KeyID uuid.UUID
	// ActorKeyID is the key that authenticated the change; uuid.Nil when
	// the server made it (a key reaching its expiry).
	ActorKeyID uuid.UUID
	// ClientIP is the caller's address; empty when the server acted.
	ClientIP string
	// Fields names the settings a change touched.
	Fields []string
	// ExpiresAt is, for a roll, when the old key stops working.
	ExpiresAt time.Time
}

type auditRecord struct {
	ID         uuid.UUID  `json:"id"`
	Owner      uuid.UUID  `json:"owner"`
	Type       string     `json:"type"`
	At         time.Time  `json:"at"`
	KeyID      uuid.UUID  `json:"key_id"`
	ActorKeyID uuid.UUID  `json:"actor_key_id"`
	ClientIP   string     `json:"client_ip,omitempty"`
	Fields     []string   `json:"fields,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

func setAuditEvents(b *pebble.Batch, events []AuditEvent) error {
	for _, e := range events {
		rec, err := encodeRecord(auditRecord{
			ID: e.ID, Owner: e.Owner, Type: e.Type, At: e.At.UTC(), KeyID: e.KeyID, ActorKeyID: e.ActorKeyID,
			ClientIP: e.ClientIP, Fields: e.Fields, ExpiresAt: optTime(e.ExpiresAt),
		})
		if err != nil {
			return fmt.Errorf("audit event %s: %w", e.ID, err)
		}
		if err := b.Set(auditKey(e.Owner, e.At.UnixNano(), e.ID), rec, nil); err != nil {
			return fmt.Errorf("audit event %s: %w", e.ID, err)
		}
	}
	return nil
}

// AuditEvents returns the owner's newest events, at most limit, oldest
// first.
func (s *Store) AuditEvents(owner uuid.UUID, limit int) ([]AuditEvent, error) {
	p := auditPrefix(owner)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("audit events of %s: %w", owner, err)
	}
	var out []AuditEvent
	for ok := it.Last(); ok && len(out) < limit; ok = it.Prev() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("audit events of %s: %w", owner, errors.Join(err, it.Close()))
		}
		var rec auditRecord
		if err := decodeRecord(v, &rec); err != nil {
			return nil, fmt.Errorf("audit events of %s: %x: %w", owner, it.Key(), errors.Join(err, it.Close()))
		}
		e := AuditEvent{ID: rec.ID, Owner: rec.Owner, Type: rec.Type, At: rec.At, KeyID: rec.KeyID,
			ActorKeyID: rec.ActorKeyID, ClientIP: rec.ClientIP, Fields: rec.Fields}
		if rec.ExpiresAt != nil {
			e.ExpiresAt = *rec.ExpiresAt
		}
		out = append(out, e)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("audit events of %s: %w", owner, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
