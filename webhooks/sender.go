package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// maxResponseBody is how much of a receiver's answer a Result keeps: enough
	// to show an operator an error page, not enough to fill the outbox.
	maxResponseBody = 64 << 10
	// maxDrain is how much more of the answer is read and discarded so the
	// connection can be reused; past it the connection is closed instead.
	maxDrain = 256 << 10
)

// SenderOptions configures a Sender. The zero value is a production sender
// with the SSRF guard on.
type SenderOptions struct {
	// AllowPrivate turns the SSRF guard off, allowing loopback, private and
	// link-local targets (INVOICED_ALLOW_PRIVATE_CALLBACKS; tests, local dev).
	AllowPrivate bool
	// ConnectTimeout bounds the TCP connect and, separately, the TLS
	// handshake. Default 5s.
	ConnectTimeout time.Duration
	// AttemptTimeout bounds the whole attempt: connect, request, response
	// headers and body. Default 10s. Time spent waiting for a per-host slot
	// does not count.
	AttemptTimeout time.Duration
	// MaxPerHost caps concurrent attempts per host:port; excess Sends wait,
	// respecting their context. Default 8.
	MaxPerHost int
	// UserAgent is sent with every attempt. Default "invoiced-webhooks/1".
	UserAgent string
	// Resolver resolves callback host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// Delivery is one POST attempt.
type Delivery struct {
	URL string
	// ID is stable across retries of one event; receivers deduplicate on it.
	ID string
	// Body is the JSON payload, sent and signed as is.
	Body []byte
	// Keys sign the attempt, one "v1=" signature each (see SigningKey): a
	// project has two live keys during the overlap after a key roll, and a
	// receiver holding either accepts the webhook. At least one.
	Keys [][32]byte
	// Timestamp is the signed time, sent as unix seconds. The zero value
	// means the time of the attempt.
	Timestamp time.Time
}

// Result describes an attempt.
type Result struct {
	// StatusCode is the receiver's status, 0 if no HTTP response arrived.
	StatusCode int
	// Duration is the time from starting the attempt (after any wait for a
	// per-host slot) to having read the response.
	Duration time.Duration
	// Body is at most the first 64 KiB of the response body.
	Body []byte
}

// Sender delivers webhooks. It is safe for concurrent use, and one Sender
// should serve the whole process so connections are kept alive and reused.
type Sender struct {
	client         *http.Client
	transport      *http.Transport
	limit          *hostLimiter
	attemptTimeout time.Duration
	userAgent      string
}

// NewSender returns a Sender with opts, zero fields taking their defaults.
func NewSender(opts SenderOptions) *Sender {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 10 * time.Second
	}
	if opts.MaxPerHost <= 0 {
		opts.MaxPerHost = 8
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "invoiced-webhooks/1"
	}
	dialer := &net.Dialer{
		Timeout:   opts.ConnectTimeout,
		KeepAlive: 30 * time.Second,
		Resolver:  opts.Resolver,
	}
	if !opts.AllowPrivate {
		dialer.Control = guardDial
	}
	transport := &http.Transport{
		// Never a proxy: it would dial on our behalf, past the guard.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   min(opts.ConnectTimeout, opts.AttemptTimeout),
		ResponseHeaderTimeout: opts.AttemptTimeout,
		// Keep the body we cap and drain the bytes on the wire, not an
		// expansion of them.
		DisableCompression:  true,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: opts.MaxPerHost,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Sender{
		client: &http.Client{
			Transport: transport,
			// A redirect is the receiver's answer, not a new destination:
			// following it would also let a public URL bounce us inward.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport:      transport,
		limit:          newHostLimiter(opts.MaxPerHost),
		attemptTimeout: opts.AttemptTimeout,
		userAgent:      opts.UserAgent,
	}
}

// CloseIdleConnections closes kept-alive connections that carry no attempt,
// for shutdown and tests.
func (s *Sender) CloseIdleConnections() { s.transport.CloseIdleConnections() }

// Send makes one attempt to deliver d. A 2xx response is success (nil error).
// Any other status, a 3xx included, returns the Result and an error wrapping
// ErrNon2xx. A network error, timeout, refusal by the SSRF guard
// (ErrRefusedAddress) or invalid delivery (ErrInvalidDelivery) returns an
// error with Result.StatusCode 0. A failure reading the response body after a
// 2xx status still counts as delivered.
func (s *Sender) Send(ctx context.Context, d Delivery) (Result, error) {
	u, err := callbackURL(d.URL)
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: %w", d.ID, err)
	}
	if d.ID == "" {
		return Result{}, fmt.Errorf("webhook to %s: %w: no ID", hostPort(u), ErrInvalidDelivery)
	}
	if len(d.Keys) == 0 {
		return Result{}, fmt.Errorf("webhook %s: %w: no signing key", d.ID, ErrInvalidDelivery)
	}
	host := hostPort(u)
	release, err := s.limit.acquire(ctx, host)
	if err != nil {
		return Result{}, fmt.Errorf("webhook %s: %w", d.ID, err)
	}
	defer release()

	ctx, cancel := context.WithTimeout(ctx, s.attemptTimeout)
	defer cancel()
	start := time.Now()
	res, err := s.attempt(ctx, u, d)
	res.Duration = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("webhook %s to %s: %w", d.ID, host, err)
	}
	return res, nil
}

func (s *Sender) attempt(ctx context.Context, u *url.URL, d Delivery) (Result, error) {
	at := d.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	ts := at.Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(d.Body))
	if err != nil {
		return Result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set(HeaderID, d.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, SignAll(d.Keys, ts, d.Body))

	resp, err := s.client.Do(req)
	if err != nil {
		// Drop the *url.Error wrapper: it spells out the URL, whose query may
		// hold the merchant's secret, into logs and the outbox.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return Result{}, err
	}
	defer resp.Body.Close()
	// Read errors are ignored: the status decides the outcome, the body is
	// only shown to the operator.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	// Reading to EOF returns the connection to the pool; a longer answer is
	// cut off by Close, which then closes the connection.
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)

	res := Result{StatusCode: resp.StatusCode, Body: body}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, fmt.Errorf("%w: %s", ErrNon2xx, resp.Status)
	}
	return res, nil
}

// callbackURL parses raw and accepts only absolute http and https URLs.
func callbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDelivery, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: callback URL scheme %q is not http or https", ErrInvalidDelivery, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: callback URL has no host", ErrInvalidDelivery)
	}
	return u, nil
}

// hostPort is the per-host limiter's key: lower-case host and explicit port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
