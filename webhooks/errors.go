package webhooks

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrBadSignature means the signature header is missing, malformed, or
	// matches no signature computed with the key.
	ErrBadSignature = errors.New("webhooks: bad signature")
	// ErrStaleTimestamp means a correctly signed request carries a timestamp
	// outside the tolerance window (a replay, or a badly skewed clock).
	ErrStaleTimestamp = errors.New("webhooks: timestamp outside tolerance")
	// ErrRefusedAddress means the SSRF guard refused the address a delivery
	// was about to connect to (loopback, private, link-local, reserved).
	ErrRefusedAddress = errors.New("webhooks: destination address refused")
	// ErrInvalidDelivery means the delivery cannot be attempted at all: a
	// callback URL that is not an absolute http or https URL, or no ID. Unlike
	// the other failures, retrying will not help.
	ErrInvalidDelivery = errors.New("webhooks: invalid delivery")
	// ErrNon2xx means the receiver answered with a status outside 200..299
	// (redirects included: they are never followed).
	ErrNon2xx = errors.New("webhooks: non-2xx response")
)
