package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/persistence"
)

// MaxExpireOldIn is the longest overlap a roll grants the old key.
const MaxExpireOldIn = 7 * 24 * time.Hour

// MaxLiveKeys is how many keys a project or account has live at once: the
// current one and the one it replaced, during the overlap.
const MaxLiveKeys = 2

// ErrExpireOldIn: expire_old_in is negative or longer than MaxExpireOldIn.
var ErrExpireOldIn = errors.New("expire_old_in out of range")

// Rolled is the outcome of a roll: the new key (shown once) and its id.
type Rolled struct {
	Key   string
	KeyID uuid.UUID
}

// RollProjectKey gives the account's project a new key. The keys it had
// stay live for expireOldIn (0: they stop now; an earlier expiry is kept);
// with MaxLiveKeys live already, the oldest stops now, so at most two keys
// are ever live.
func (s *Service) RollProjectKey(account, project uuid.UUID, expireOldIn time.Duration, by Actor) (persistence.Project, Rolled, error) {
	if expireOldIn < 0 || expireOldIn > MaxExpireOldIn {
		return persistence.Project{}, Rolled{}, ErrExpireOldIn
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	prev, err := s.ownProject(account, project)
	if err != nil {
		return persistence.Project{}, Rolled{}, err
	}
	next := prev
	var events []persistence.AuditEvent
	var rolled Rolled
	if next.Keys, rolled, events, err = s.roll(project, prev.Keys, expireOldIn, by); err != nil {
		return persistence.Project{}, Rolled{}, err
	}
	if err := s.store.UpdateProject(prev, next, events); err != nil {
		return persistence.Project{}, Rolled{}, fmt.Errorf("roll project key: %w", err)
	}
	if err := s.cacheProject(next); err != nil {
		return persistence.Project{}, Rolled{}, err
	}
	s.logEvents(events)
	return next, rolled, nil
}

// RollAccountKey is RollProjectKey for the account's own key.
func (s *Service) RollAccountKey(account uuid.UUID, expireOldIn time.Duration, by Actor) (Rolled, error) {
	if expireOldIn < 0 || expireOldIn > MaxExpireOldIn {
		return Rolled{}, ErrExpireOldIn
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	prev, ok := s.accounts[account]
	s.mu.RUnlock()
	if !ok {
		return Rolled{}, ErrUnauthorized
	}
	next := prev
	keys, rolled, events, err := s.roll(account, prev.Keys, expireOldIn, by)
	if err != nil {
		return Rolled{}, err
	}
	next.Keys = keys
	if err := s.store.UpdateAccount(prev, next, events); err != nil {
		return Rolled{}, fmt.Errorf("roll account key: %w", err)
	}
	s.cacheAccount(next)
	s.logEvents(events)
	return rolled, nil
}

// roll is the key list after a roll and its audit events: expired keys
// dropped, all but the newest live key stopped now, the newest set to
// expire in expireOldIn (now when 0), and a fresh key appended.
func (s *Service) roll(owner uuid.UUID, keys []persistence.Key, expireOldIn time.Duration, by Actor) ([]persistence.Key, Rolled, []persistence.AuditEvent, error) {
	key, err := NewKey()
	if err != nil {
		return nil, Rolled{}, nil, err
	}
	now := s.clock.Now().UTC()
	live, events := s.dropExpired(owner, keys, now)
	live = slices.Clone(live)
	slices.SortStableFunc(live, func(a, b persistence.Key) int { return a.CreatedAt.Compare(b.CreatedAt) })
	expires := now.Add(expireOldIn)
	var kept []persistence.Key
	for i, k := range live {
		newest := i == len(live)-1
		if !newest || expireOldIn == 0 {
			ev := s.event(owner, EventKeyExpired, k.ID, by)
			events = append(events, ev)
			continue
		}
		if k.ExpiresAt.IsZero() || expires.Before(k.ExpiresAt) {
			k.ExpiresAt = expires
		}
		kept = append(kept, k)
	}
	nk := newKeyRecord(key, now)
	ev := s.event(owner, EventKeyRolled, nk.ID, by)
	if len(kept) > 0 {
		ev.ExpiresAt = kept[0].ExpiresAt
	}
	events = append(events, ev)
	return append(kept, nk), Rolled{Key: key, KeyID: nk.ID}, events, nil
}

// RevokeProjectKey stops the project key at once: its next use is 401. The
// last live key is refused with ErrLastKey unless force.
func (s *Service) RevokeProjectKey(account, project, key uuid.UUID, force bool, by Actor) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	prev, err := s.ownProject(account, project)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	live, events := s.dropExpired(project, prev.Keys, now)
	i := slices.IndexFunc(live, func(k persistence.Key) bool { return k.ID == key })
	if i < 0 {
		return ErrKeyNotFound
	}
	if len(live) == 1 && !force {
		return ErrLastKey
	}
	next := prev
	next.Keys = slices.Delete(slices.Clone(live), i, i+1)
	events = append(events, s.event(project, EventKeyRevoked, key, by))
	if err := s.store.UpdateProject(prev, next, events); err != nil {
		return fmt.Errorf("revoke project key: %w", err)
	}
	if err := s.cacheProject(next); err != nil {
		return err
	}
	s.logEvents(events)
	return nil
}

// dropExpired is keys without those expired at now, and a key_expired event
// for each, dated at its expiry and made by the server.
func (s *Service) dropExpired(owner uuid.UUID, keys []persistence.Key, now time.Time) ([]persistence.Key, []persistence.AuditEvent) {
	var live []persistence.Key
	var events []persistence.AuditEvent
	for _, k := range keys {
		if k.LiveAt(now) {
			live = append(live, k)
			continue
		}
		events = append(events, persistence.AuditEvent{ID: eventID(), Owner: owner, Type: EventKeyExpired, At: k.ExpiresAt.UTC(), KeyID: k.ID})
	}
	return live, events
}

// FlushInterval is how often Run writes last-use times and sweeps expired
// keys.
const FlushInterval = time.Minute

// Run flushes every FlushInterval of the service's clock until ctx ends;
// the server calls Close at shutdown. A test moves the clock instead of
// waiting a minute.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(FlushInterval):
			if err := s.Flush(); err != nil {
				s.log.Error("flush key state", slog.Any("err", err))
			}
		}
	}
}

// Flush writes each record whose keys were used since the last write or
// have expired: last-use times (no write per request: at most one per
// record and flush) and the expired keys dropped with their key_expired
// events.
func (s *Service) Flush() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.flush()
}

// Close flushes a last time and stops every later write (a Run that has
// not yet seen its context end included), so the store can close.
func (s *Service) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err := s.flush()
	s.closed = true
	return err
}

// flush is Flush; s.writeMu is held.
func (s *Service) flush() error {
	if s.closed {
		return nil
	}
	now := s.clock.Now()
	s.mu.RLock()
	var projects []persistence.Project
	for _, e := range s.projects {
		projects = append(projects, e.p)
	}
	var accounts []persistence.Account
	for _, a := range s.accounts {
		accounts = append(accounts, a)
	}
	s.mu.RUnlock()
	var errs []error
	for _, prev := range projects {
		keys, events, changed := s.refresh(prev.ID, prev.Keys, now)
		if !changed {
			continue
		}
		next := prev
		next.Keys = keys
		if err := s.store.UpdateProject(prev, next, events); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, s.cacheProject(next))
		s.logEvents(events)
	}
	for _, prev := range accounts {
		keys, events, changed := s.refresh(prev.ID, prev.Keys, now)
		if !changed {
			continue
		}
		next := prev
		next.Keys = keys
		if err := s.store.UpdateAccount(prev, next, events); err != nil {
			errs = append(errs, err)
			continue
		}
		s.cacheAccount(next)
		s.logEvents(events)
	}
	return errors.Join(errs...)
}

// refresh is keys with expired ones dropped and last uses brought up to
// date, and whether anything changed.
func (s *Service) refresh(owner uuid.UUID, keys []persistence.Key, now time.Time) ([]persistence.Key, []persistence.AuditEvent, bool) {
	live, events := s.dropExpired(owner, keys, now)
	live = slices.Clone(live)
	changed := len(events) > 0
	s.mu.RLock()
	for i, k := range live {
		if u := s.used[k.ID]; u != nil && u.Load() > nanos(k.LastUsedAt) {
			live[i].LastUsedAt = time.Unix(0, u.Load()).UTC()
			changed = true
		}
	}
	s.mu.RUnlock()
	return live, events, changed
}

// nanos is t in unix nanoseconds, 0 for the zero time (whose UnixNano is
// undefined).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
