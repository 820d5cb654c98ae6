package invoice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/persistence"
)

// Errors of the create path beyond the engine's.
var (
	// ErrOrderIDConflict: the project already has an invoice with this
	// order_id, created from a different request.
	ErrOrderIDConflict = errors.New("order_id already used by a different invoice")
	// ErrIdempotencyConflict: the Idempotency-Key was used with a different
	// request.
	ErrIdempotencyConflict = errors.New("Idempotency-Key already used with a different request")
)

// Create creates an invoice watched for payment. created is false when the
// request repeats an earlier one (same order_id or Idempotency-Key and the
// same body): the earlier invoice is returned and nothing is written.
func (s *Service) Create(ctx context.Context, project uuid.UUID, req engine.CreateRequest, idempotencyKey string) (inv engine.Invoice, created bool, err error) {
	now := s.cfg.Clock.Now()
	// Validate before allocating, so bad input spends no address index.
	chk, err := s.cfg.Rules.CheckCreate(req, engine.ForPayment, s.quote(req.Currency), now)
	if err != nil {
		return engine.Invoice{}, false, err
	}
	cur := chk.Currency()
	idx, addr, err := s.addresses.allocate(cur.Code)
	if err != nil {
		return engine.Invoice{}, false, err
	}
	id := uuid.Must(uuid.NewV7())
	e, err := chk.Event(id, project, addr, idx)
	if err == nil {
		inv, created, err = s.create(ctx, project, req.OrderID, chk.Fingerprint, e, idempotencyKey, persistence.AddressClaim(cur.Code, idx, addr, id))
	}
	if !created {
		s.addresses.release(cur.Code, idx, addr)
	}
	return inv, created, err
}

// CreateArchived records a historical invoice (status archived, no address).
func (s *Service) CreateArchived(ctx context.Context, project uuid.UUID, req engine.CreateRequest, idempotencyKey string) (engine.Invoice, bool, error) {
	chk, err := s.cfg.Rules.CheckCreate(req, engine.ForArchive, s.quote(req.Currency), s.cfg.Clock.Now())
	if err != nil {
		return engine.Invoice{}, false, err
	}
	e, err := chk.Event(uuid.Must(uuid.NewV7()), project, "", 0)
	if err != nil {
		return engine.Invoice{}, false, err
	}
	return s.create(ctx, project, req.OrderID, chk.Fingerprint, e, idempotencyKey)
}

// quote returns the current EUR rate for currency, or nil when there is
// none; the engine decides whether the request needed one.
func (s *Service) quote(currency string) *engine.Rate {
	cur, ok := s.cfg.Rules.Currencies.Lookup(currency)
	if !ok {
		return nil
	}
	q, err := s.cfg.Rates.Quote(cur.Code, "EUR")
	if err != nil {
		return nil
	}
	return &engine.Rate{Fiat: q.Fiat, Value: q.Rate, Source: q.Source, At: q.At}
}

// create commits the creation event e together with the order_id (and
// Idempotency-Key) claims, and resolves a taken claim into either the
// earlier invoice (same request) or a conflict.
//
// It commits directly rather than through an invoice actor: the id is new
// and known to no one before the commit, so no other decision can race it;
// for the same reason the commit is Fresh and the store does not read the
// stream's head (persistence.Commit.Fresh). Both callers draw the id with
// uuid.NewV7 just before. The invoice's
// actor is activated from the store when its first message comes, which
// spares every create an actor spawn and two mailbox hops, and keeps
// invoices nobody touches out of memory. Once committed the invoice is
// visible (a list may show it) and its actor may commit version 2 before
// this returns; the watch list keeps the newer version's watch (see
// watchlist.set).
func (s *Service) create(ctx context.Context, project uuid.UUID, orderID, fp string, e engine.Created, idempotencyKey string, extra ...persistence.Claim) (engine.Invoice, bool, error) {
	id := e.Invoice.ID
	claim := claimValue(id, fp)
	claims := make([]persistence.Claim, 0, 2+len(extra)) // one allocation for all of them
	claims = append(append(claims, persistence.OrderIDClaim(project, orderID, claim)), extra...)
	if idempotencyKey != "" {
		claims = append(claims, persistence.IdempotencyClaim(project, idempotencyKey, claim))
	}
	events := []engine.Event{e}
	inv := engine.ApplyAll(engine.Invoice{}, events)
	err := s.persistCreate(id, inv, events, claims)
	if err == nil {
		s.metrics.created.WithLabelValues(inv.Currency).Inc()
		return inv, true, nil
	}
	var taken *persistence.ClaimTakenError
	if !errors.As(err, &taken) {
		return engine.Invoice{}, false, err
	}
	existingID, existingFP, ok := parseClaimValue(taken.Existing)
	if !ok {
		return engine.Invoice{}, false, fmt.Errorf("create invoice: corrupt claim record: %w", err)
	}
	if existingFP != fp {
		if taken.Kind == persistence.ClaimIdempotencyKey {
			return engine.Invoice{}, false, ErrIdempotencyConflict
		}
		return engine.Invoice{}, false, ErrOrderIDConflict
	}
	earlier, err := s.Get(ctx, project, existingID)
	if err != nil {
		return engine.Invoice{}, false, fmt.Errorf("load earlier invoice %s: %w", existingID, err)
	}
	return earlier, false, nil
}

// persistCreate commits a create, with a panic (a bug, or a store
// closed under a request that outlived the drain) turned into an error as
// the invoice actors do, so the caller gets a 500 rather than a crash.
func (s *Service) persistCreate(id uuid.UUID, inv engine.Invoice, events []engine.Event, claims []persistence.Claim) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("create panic", slog.String("invoice_id", id.String()), slog.Any("panic", p))
			err = fmt.Errorf("create invoice %s: internal error: %v", id, p)
		}
	}()
	c, err := s.commitFor(id, engine.Invoice{}, inv, events, claims, true)
	if err != nil {
		return err
	}
	return s.commit(c)
}

// claimValue is what an order_id or Idempotency-Key claim stores: the
// invoice id and the request fingerprint.
func claimValue(id uuid.UUID, fingerprint string) []byte {
	return append(id[:len(id):len(id)], fingerprint...)
}

func parseClaimValue(b []byte) (uuid.UUID, string, bool) {
	if len(b) < 16 {
		return uuid.UUID{}, "", false
	}
	return uuid.UUID(b[:16]), string(b[16:]), true
}

// ChangeStatus applies a merchant's status change (PATCH).
func (s *Service) ChangeStatus(ctx context.Context, project, id uuid.UUID, target engine.Status, comment string) (engine.Invoice, error) {
	cmd := engine.ChangeStatus{Target: target, Comment: comment, At: s.cfg.Clock.Now()}
	rep, err := s.ask(ctx, id, decideMsg{from: fromMerchant, project: project, cmds: []engine.Command{cmd}})
	if err != nil {
		return engine.Invoice{}, err
	}
	return rep.Invoice, rep.Err
}

// Get returns a project's invoice. Reads are served from the committed
// snapshot, which the owning actor writes in the same batch as its events:
// they see every acknowledged change, never wait behind an actor's fsync,
// and never activate an actor just to read. Another project's invoice is
// ErrNotFound, so ids cannot be probed.
func (s *Service) Get(_ context.Context, project, id uuid.UUID) (engine.Invoice, error) {
	inv, err := s.latest(id)
	if err != nil {
		return engine.Invoice{}, err
	}
	if inv.ProjectID != project {
		return engine.Invoice{}, engine.ErrNotFound
	}
	return inv, nil
}
