package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field limits of the API.
const (
	MaxOrderIDLen   = 128
	MaxOrderNameLen = 256
	MaxCommentLen   = 1024
	MaxCallbackLen  = 2048
)

// archivedTimeLayouts are the created_at formats of an archived invoice, in
// the order they are tried.
var archivedTimeLayouts = []string{
	time.RFC3339Nano,
	time.RFC3339,
	"2006-01-02",
	"2006-01-02 15:04:05",
	"02/01/2006 15:04:05",
}

// ParseArchivedTime parses the created_at of an archived invoice; times
// without a zone are UTC.
func ParseArchivedTime(s string) (time.Time, error) {
	for _, layout := range archivedTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not RFC3339, 2006-01-02, \"2006-01-02 15:04:05\" or \"02/01/2006 15:04:05\"", s)
}

// validCreate is a create request that passed validation, with defaults
// filled in and amounts parsed.
type validCreate struct {
	currency     Currency
	amount       Units  // crypto units, zero if priced in fiat only
	fiat         *Units // cents
	fiatCurrency string
	allowedErr   int
	expireMin    int
	createdAt    time.Time // archived only
	fingerprint  string
}

// validateCreate checks every field of req, collecting all problems. rate
// is only consulted to convert a fiat price.
func (r *Rules) validateCreate(req CreateRequest, kind CreateKind, now time.Time) (validCreate, error) {
	archived := kind == ForArchive
	var v validCreate
	errs := &ValidationError{}

	switch n := utf8.RuneCountInString(req.OrderID); {
	case !utf8.ValidString(req.OrderID):
		errs.add("order_id", "must be valid UTF-8")
	case n == 0:
		errs.add("order_id", "is required")
	case n > MaxOrderIDLen:
		errs.add("order_id", "must be at most %d characters", MaxOrderIDLen)
	case strings.ContainsFunc(req.OrderID, isControl):
		errs.add("order_id", "must not contain control characters")
	case strings.ContainsFunc(req.OrderID, isFormat):
		errs.add("order_id", "must not contain invisible format characters (Unicode category Cf, such as U+202E or U+200B)")
	case strings.TrimFunc(req.OrderID, unicode.IsSpace) == "":
		errs.add("order_id", "must contain a character other than spaces")
	case strings.TrimFunc(req.OrderID, unicode.IsSpace) != req.OrderID:
		errs.add("order_id", "must not begin or end with a space; it is kept exactly as sent, never trimmed")
	}
	if req.OrderName != nil {
		switch name := *req.OrderName; {
		case utf8.RuneCountInString(name) > MaxOrderNameLen:
			errs.add("order_name", "must be at most %d characters", MaxOrderNameLen)
		case strings.ContainsFunc(name, isControl):
			errs.add("order_name", "must not contain control characters")
		case strings.ContainsFunc(name, isNameFormat):
			errs.add("order_name", "must not contain bidirectional controls or other invisible format characters (Unicode category Cf other than U+200C and U+200D)")
		}
	}

	cur, ok := r.Currencies.Lookup(req.Currency)
	switch {
	case req.Currency == "":
		errs.add("currency", "is required")
	case !ok:
		errs.add("currency", "unsupported currency %q; supported: %s", req.Currency, strings.Join(r.Currencies.Codes(), ", "))
	}
	v.currency = cur

	hasFiat, hasCrypto := req.FiatAmount != nil, req.CryptoAmount != nil
	switch {
	case !hasFiat && !hasCrypto:
		errs.add("crypto_amount", "one of fiat_amount or crypto_amount is required")
	case hasFiat && hasCrypto && !archived:
		errs.add("fiat_amount", "give either fiat_amount or crypto_amount, not both")
	}
	if hasFiat {
		cents, err := ParseDecimal(*req.FiatAmount, FiatDecimals)
		switch {
		case err != nil:
			errs.add("fiat_amount", "%s", amountMessage(err, FiatDecimals))
		case cents.IsZero():
			errs.add("fiat_amount", "must be greater than 0")
		default:
			v.fiat = &cents
		}
		v.fiatCurrency = "EUR"
	}
	if req.FiatCurrency != nil {
		if !hasFiat {
			errs.add("fiat_currency", "only allowed with fiat_amount")
		} else if strings.ToUpper(*req.FiatCurrency) != "EUR" {
			errs.add("fiat_currency", "unsupported fiat currency %q; supported: EUR", *req.FiatCurrency)
		}
	}
	if hasCrypto && ok {
		units, err := ParseDecimal(*req.CryptoAmount, cur.Decimals)
		switch {
		case err != nil:
			errs.add("crypto_amount", "%s", amountMessage(err, cur.Decimals))
		case units.IsZero():
			errs.add("crypto_amount", "must be greater than 0")
		case !archived && units.Cmp(cur.MinAmount) < 0:
			errs.add("crypto_amount", "must be at least %s %s", FormatDecimal(cur.MinAmount, cur.Decimals), cur.Code)
		case units.Cmp(cur.MaxAmount) > 0:
			errs.add("crypto_amount", "must be at most %s %s", FormatDecimal(cur.MaxAmount, cur.Decimals), cur.Code)
		default:
			v.amount = units
		}
	}

	v.allowedErr = r.DefaultAllowedErrorPercent
	if req.AllowedErrorPercent != nil {
		if p := *req.AllowedErrorPercent; p < 0 || p > 100 {
			errs.add("allowed_error_percent", "must be between 0 and 100")
		} else {
			v.allowedErr = int(p)
		}
	}
	v.expireMin = r.DefaultExpireMin
	if req.ExpireMin != nil {
		if m := *req.ExpireMin; m < 1 || m > int64(r.MaxExpireMin) {
			errs.add("expire_min", "must be between 1 and %d", r.MaxExpireMin)
		} else {
			v.expireMin = int(m)
		}
	}
	if req.CallbackURL != nil {
		if msg := r.checkCallbackURL(*req.CallbackURL); msg != "" {
			errs.add("callback_url", "%s", msg)
		}
	}
	if req.RedirectURL != nil {
		if _, msg := checkHTTPURL(*req.RedirectURL); msg != "" {
			errs.add("redirect_url", "%s", msg)
		}
	}
	if req.CreatedAt != nil {
		t, err := ParseArchivedTime(*req.CreatedAt)
		switch {
		case !archived:
			errs.add("created_at", "only allowed on archived invoices")
		case err != nil:
			errs.add("created_at", "%s", err.Error())
		case t.After(now):
			errs.add("created_at", "must not be in the future")
		default:
			v.createdAt = t
		}
	}
	if err := errs.err(); err != nil {
		return v, err
	}
	v.fingerprint = fingerprint(req, v, archived)
	return v, nil
}

// isControl is a C0 or C1 control character or DEL (Unicode category Cc).
func isControl(r rune) bool { return unicode.IsControl(r) }

// isFormat is a Unicode format character (category Cf): bidirectional
// controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C) that
// reorder text on screen, zero-width characters (U+200B..U+200D, U+2060,
// U+FEFF), the soft hyphen and the tag characters. None is visible, so
// two ids that differ only by one look identical: an order id may hold none.
func isFormat(r rune) bool { return r >= 0x80 && unicode.Is(unicode.Cf, r) }

// isNameFormat is a format character an order name may not hold: every Cf
// but the zero-width non-joiner and joiner (U+200C, U+200D), which
// Persian, Arabic and Indic text and emoji sequences need to render
// correctly and which cannot reorder or hide text.
func isNameFormat(r rune) bool { return r != 0x200c && r != 0x200d && isFormat(r) }

// amountMessage turns a ParseDecimal error into the field message.
func amountMessage(err error, decimals int) string {
	switch {
	case errors.Is(err, ErrNegative):
		return "must not be negative"
	case errors.Is(err, ErrTooPrecise):
		return fmt.Sprintf("must have at most %d decimal places", decimals)
	case errors.Is(err, ErrAmountTooLarge):
		return "is too large"
	default:
		return "must be a decimal number"
	}
}

// checkCallbackURL returns why u is not an absolute http(s) URL webhooks
// may be sent to, or "".
func (r *Rules) checkCallbackURL(u string) string {
	p, msg := checkHTTPURL(u)
	if msg != "" {
		return msg
	}
	if r.CallbackHost != nil {
		if why := r.CallbackHost(p.Hostname()); why != "" {
			return fmt.Sprintf("host %s %s; webhooks are sent only to public addresses", p.Hostname(), why)
		}
	}
	return ""
}

// checkHTTPURL returns u parsed, or why it is not an absolute http(s) URL.
// callback_url and redirect_url share it; only callbacks are fetched by
// invoiced, so only they are judged by their host.
func checkHTTPURL(u string) (*url.URL, string) {
	if len(u) > MaxCallbackLen {
		return nil, fmt.Sprintf("must be at most %d characters", MaxCallbackLen)
	}
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() || p.Host == "" || p.Hostname() == "" {
		return nil, "must be an absolute http or https URL"
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return nil, "scheme must be http or https"
	}
	if p.User != nil {
		return nil, "must not contain credentials"
	}
	return p, ""
}

// fingerprint identifies a create request by its meaning, not its spelling:
// "0.10" and "0.1" are the same amount, a default and its explicit value are
// the same request.
//
// The hashed text is "<len>:<field>;" per field, built in one buffer and
// hashed once; order_id claims store the result, so the text must never
// change for a request that existed before (fingerprint_test pins it).
func fingerprint(req CreateRequest, v validCreate, archived bool) string {
	buf := make([]byte, 0, 256)
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(append(append(buf, ':'), s...), ';')
	}
	opt := func(p *string) {
		if p == nil {
			field("\x00")
			return
		}
		field(*p)
	}
	field(strconv.FormatBool(archived))
	field(req.OrderID)
	opt(req.OrderName)
	field(v.currency.Code)
	if v.fiat != nil {
		field("fiat=" + v.fiat.String())
	}
	if req.CryptoAmount != nil {
		field("crypto=" + v.amount.String())
	}
	field(strconv.Itoa(v.allowedErr))
	field(strconv.Itoa(v.expireMin))
	opt(req.CallbackURL)
	// Added after the others and only when present, so the fingerprints of
	// requests without it (stored in order_id claims) stay what they were.
	if req.RedirectURL != nil {
		field("redirect=" + *req.RedirectURL)
	}
	if req.CreatedAt != nil {
		field(v.createdAt.Format(time.RFC3339Nano))
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}
