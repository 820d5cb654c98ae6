package engine

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Rules holds the configuration the decisions depend on. It is plain data,
// built once at start, so Decide stays a pure function of (rules, state,
// command).
type Rules struct {
	Currencies                 *Registry
	DefaultExpireMin           int // expire_min when the request has none (30)
	MaxExpireMin               int // largest expire_min accepted
	DefaultAllowedErrorPercent int // allowed_error_percent when the request has none (0)
	// CallbackHost, when set, judges the host of a callback_url: a
	// non-empty answer ("is a loopback address") refuses it. The wiring
	// sets it to the webhook sender's guard unless private callbacks are
	// allowed, so a URL no webhook could reach is refused at creation.
	CallbackHost func(host string) string
}

// DefaultRules returns the rules with the built-in currencies and defaults.
func DefaultRules() *Rules {
	reg, err := NewRegistry(DefaultCurrencies())
	if err != nil {
		panic(err) // the built-in table is a constant; a failure is a programming error
	}
	return &Rules{Currencies: reg, DefaultExpireMin: 30, MaxExpireMin: 60 * 24 * 30, DefaultAllowedErrorPercent: 0}
}

// Decide returns the events that carry out cmd on inv, or why it is refused.
// It never changes inv; Apply does, event by event.
func (r *Rules) Decide(inv Invoice, cmd Command) ([]Event, error) {
	switch c := cmd.(type) {
	case CreateInvoice:
		return r.decideCreate(inv, c)
	case CreateArchived:
		return r.decideArchived(inv, c)
	case ChangeStatus:
		return decideChangeStatus(inv, c)
	case ObservePayment:
		return r.decideObserve(inv, c)
	case RevertPayment:
		return r.decideRevert(inv, c)
	case Expire:
		return r.decideExpire(inv, c)
	default:
		return nil, fmt.Errorf("unknown command %T", cmd)
	}
}

// CheckedCreate is a create request that passed CheckCreate: validated,
// defaults filled in and priced. Event turns it into the creation event
// once the caller has allocated what the invoice needs (an id and, for a
// live invoice, a deposit address), so a create is validated exactly once.
type CheckedCreate struct {
	// Fingerprint identifies the request by its meaning; uniqueness claims
	// (order_id, Idempotency-Key) carry it to tell a repeat from a conflict.
	Fingerprint string
	req         CreateRequest
	v           validCreate
	amount      Units
	rate        *Rate
	at          time.Time
	archived    bool
}

// Currency is the checked request's currency (its canonical code and
// settings).
func (c CheckedCreate) Currency() Currency { return c.v.currency }

// CheckCreate validates a create request and prices it at rate without
// deciding anything. Callers use it to refuse bad input before spending
// resources on it (a deposit address) and to learn the fingerprint their
// uniqueness claims will carry; Decide of a create command runs the same
// check.
func (r *Rules) CheckCreate(req CreateRequest, kind CreateKind, rate *Rate, at time.Time) (CheckedCreate, error) {
	archived := kind == ForArchive
	v, err := r.validateCreate(req, kind, at)
	if err != nil {
		return CheckedCreate{}, err
	}
	amount := v.amount
	if !archived || req.CryptoAmount == nil {
		if amount, err = priceInUnits(v, rate); err != nil {
			return CheckedCreate{}, err
		}
	}
	return CheckedCreate{Fingerprint: v.fingerprint, req: req, v: v, amount: amount, rate: rate, at: at, archived: archived}, nil
}

// Event is the event creating the checked invoice as id of project. A live
// invoice needs its deposit address (address, index); an archived one has
// none and ignores them.
func (c CheckedCreate) Event(id, project uuid.UUID, address string, index uint64) (Created, error) {
	if c.v.currency.Code == "" {
		return Created{}, errors.New("create invoice: request not checked (a zero CheckedCreate)")
	}
	at := c.at.UTC()
	inv := baseInvoice(id, project, c.req, c.v, c.amount, c.rate)
	if c.archived {
		if c.req.CreatedAt != nil {
			at = c.v.createdAt
		}
		inv.Status = StatusArchived
		inv.CreatedAt, inv.UpdatedAt, inv.ExpiresAt = at, at, at
		return Created{Invoice: inv}, nil
	}
	if address == "" {
		return Created{}, errors.New("create invoice: no deposit address allocated")
	}
	inv.Status = StatusNew
	inv.CreatedAt, inv.UpdatedAt = at, at
	inv.ExpiresAt = at.Add(time.Duration(c.v.expireMin) * time.Minute)
	inv.Address, inv.AddressIndex = address, index
	return Created{Invoice: inv}, nil
}

func (r *Rules) decideCreate(inv Invoice, c CreateInvoice) ([]Event, error) {
	if inv.Exists() {
		return nil, ErrExists
	}
	chk, err := r.CheckCreate(c.Request, ForPayment, c.Rate, c.At)
	if err != nil {
		return nil, err
	}
	e, err := chk.Event(c.ID, c.ProjectID, c.Address, c.AddressIndex)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

func (r *Rules) decideArchived(inv Invoice, c CreateArchived) ([]Event, error) {
	if inv.Exists() {
		return nil, ErrExists
	}
	chk, err := r.CheckCreate(c.Request, ForArchive, c.Rate, c.At)
	if err != nil {
		return nil, err
	}
	e, err := chk.Event(c.ID, c.ProjectID, "", 0)
	if err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

// priceInUnits returns the crypto amount owed: the requested crypto amount,
// or the fiat price converted at rate and rounded up.
func priceInUnits(v validCreate, rate *Rate) (Units, error) {
	if v.fiat == nil {
		return v.amount, nil
	}
	if rate == nil {
		return Units{}, fmt.Errorf("price %s in EUR: %w", v.currency.Code, ErrNoRate)
	}
	units, err := FiatToUnits(*v.fiat, rate.Value, v.currency.Decimals)
	if err != nil {
		return Units{}, fmt.Errorf("convert EUR to %s: %w", v.currency.Code, err)
	}
	cur := v.currency
	switch {
	case units.Cmp(cur.MinAmount) < 0:
		return Units{}, Invalid("fiat_amount", "converts to %s %s, below the minimum of %s %s",
			FormatDecimal(units, cur.Decimals), cur.Code, FormatDecimal(cur.MinAmount, cur.Decimals), cur.Code)
	case units.Cmp(cur.MaxAmount) > 0:
		return Units{}, Invalid("fiat_amount", "converts to %s %s at %s %s, above the maximum of %s %s",
			FormatDecimal(units, cur.Decimals), cur.Code, rate.Value, rate.Fiat, FormatDecimal(cur.MaxAmount, cur.Decimals), cur.Code)
	}
	return units, nil
}

func baseInvoice(id, project uuid.UUID, req CreateRequest, v validCreate, amount Units, rate *Rate) Invoice {
	inv := Invoice{
		ID:                  id,
		ProjectID:           project,
		OrderID:             req.OrderID,
		Fingerprint:         v.fingerprint,
		Currency:            v.currency.Code,
		Amount:              amount,
		FiatAmount:          v.fiat,
		FiatCurrency:        v.fiatCurrency,
		AllowedErrorPercent: v.allowedErr,
		ExpireMin:           v.expireMin,
		Paid:                NewUnits(0),
	}
	if rate != nil {
		r := *rate
		r.At = r.At.UTC()
		inv.Rate = &r
	}
	if req.OrderName != nil {
		inv.OrderName = *req.OrderName
	}
	if req.CallbackURL != nil {
		inv.CallbackURL = *req.CallbackURL
	}
	if req.RedirectURL != nil {
		inv.RedirectURL = *req.RedirectURL
	}
	return inv
}

func decideChangeStatus(inv Invoice, c ChangeStatus) ([]Event, error) {
	if !inv.Exists() {
		return nil, ErrNotFound
	}
	if !c.Target.Valid() {
		return nil, Invalid("status", "unknown status %q", c.Target)
	}
	if !utf8.ValidString(c.Comment) || utf8.RuneCountInString(c.Comment) > MaxCommentLen {
		return nil, Invalid("comment", "must be valid UTF-8 of at most %d characters", MaxCommentLen)
	}
	if !Allowed(inv.Status, c.Target, ByMerchant) {
		return nil, &TransitionError{From: inv.Status, To: c.Target, Allowed: ManualTargets(inv.Status)}
	}
	return []Event{StatusChanged{From: inv.Status, To: c.Target, Reason: ReasonManual, Comment: c.Comment, At: c.At.UTC()}}, nil
}
