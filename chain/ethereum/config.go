package ethereum

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// DefaultTimeout bounds one RPC call when Config.Timeout is zero. A full
// mainnet block with its receipts is a few megabytes of JSON: seconds on a
// slow link, never minutes.
const DefaultTimeout = 30 * time.Second

// Config says which node to talk to and what to report.
type Config struct {
	// URL is the node's HTTP JSON-RPC endpoint, e.g. "http://127.0.0.1:8545".
	// Credentials in it (http://user:pass@host) are sent as basic auth and
	// removed from the URL. Its path and query, where hosted providers put
	// an API key, never appear in an error: errors name scheme and host.
	URL string
	// Net is what Network returns, e.g. "ethereum-dev".
	Net string
	// Native is the currency code of the chain's own coin, reported for
	// value transfers ("ETH"), or "" to report none.
	Native string
	// Tokens are the ERC-20 contracts whose Transfer logs are reported.
	Tokens []Token
	// Timeout bounds each RPC call (DefaultTimeout when zero); a caller's
	// context deadline, when shorter, applies too.
	Timeout time.Duration
}

// Token is one ERC-20 contract and the currency code its transfers are
// reported under. Amounts are in the token's smallest unit (USDT: 10^-6).
type Token struct {
	Currency string // e.g. "USDT"
	// Contract is the token's address: 0x and 40 hex digits. A mixed-case
	// address must carry a valid EIP-55 checksum, so a mistyped one is
	// refused at startup instead of silently watching nothing.
	Contract string
}

// errConfig prefixes every validation error so a misconfiguration is
// recognisable in the server's startup error.
var errConfig = errors.New("ethereum config")

// settings is a validated Config.
type settings struct {
	endpoint       string // no credentials
	name           string // scheme://host, the only form errors show
	user, password string
	net            string
	native         string
	tokens         []token
	timeout        time.Duration
}

type token struct {
	currency string
	contract address
}

// validate checks c and returns what New needs.
func (c Config) validate() (settings, error) {
	var s settings
	if c.URL == "" {
		return s, fmt.Errorf("%w: URL is empty", errConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Parse's error quotes the whole URL, secrets included.
		return s, fmt.Errorf("%w: URL does not parse", errConfig)
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
		u.User = nil
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return s, fmt.Errorf("%w: URL scheme %q: want http or https", errConfig, u.Scheme)
	}
	if u.Host == "" {
		return s, fmt.Errorf("%w: URL has no host", errConfig)
	}
	s.endpoint = u.String()
	s.name = u.Scheme + "://" + u.Host
	if c.Net == "" {
		return s, fmt.Errorf("%w: Net (the network's name) is empty", errConfig)
	}
	s.net = c.Net
	if c.Native != "" {
		if !validCode(c.Native) {
			return s, fmt.Errorf("%w: Native %q: want an upper-case currency code such as ETH", errConfig, c.Native)
		}
		s.native = c.Native
	}
	seenCode := map[string]bool{s.native: s.native != ""}
	seenContract := map[address]string{}
	for i, t := range c.Tokens {
		if !validCode(t.Currency) {
			return s, fmt.Errorf("%w: token %d: currency %q: want an upper-case code such as USDT", errConfig, i, t.Currency)
		}
		if seenCode[t.Currency] {
			return s, fmt.Errorf("%w: currency %s configured twice", errConfig, t.Currency)
		}
		seenCode[t.Currency] = true
		a, err := parseAddress(t.Contract)
		if err != nil {
			return s, fmt.Errorf("%w: token %s: contract %w", errConfig, t.Currency, err)
		}
		if other, ok := seenContract[a]; ok {
			return s, fmt.Errorf("%w: tokens %s and %s have the same contract", errConfig, other, t.Currency)
		}
		seenContract[a] = t.Currency
		s.tokens = append(s.tokens, token{currency: t.Currency, contract: a})
	}
	if s.native == "" && len(s.tokens) == 0 {
		return s, fmt.Errorf("%w: neither Native nor Tokens set: the node would report nothing", errConfig)
	}
	if c.Timeout < 0 {
		return s, fmt.Errorf("%w: Timeout %v is negative", errConfig, c.Timeout)
	}
	s.timeout = c.Timeout
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s, nil
}

// validCode accepts 2 to 10 upper-case letters and digits, the shape of
// every code the engine uses.
func validCode(code string) bool {
	if len(code) < 2 || len(code) > 10 {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
