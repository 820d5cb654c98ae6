package bitcoin

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// DefaultTimeout bounds one RPC call when Config.Timeout is zero. A raw
// 4 MB block is 8 MB of hex: seconds on a slow link, never minutes.
const DefaultTimeout = 30 * time.Second

// Config says which node to talk to and how to name what it reports.
type Config struct {
	// URL is the node's JSON-RPC endpoint, e.g. "http://127.0.0.1:18443".
	// Credentials in it (http://user:pass@host) are used when User is
	// empty and are removed from the URL the Node keeps.
	URL      string
	User     string
	Password string
	// Cookie is the path of the node's RPC cookie file (<datadir>/.cookie,
	// or -rpccookiefile), instead of User and Password: it is read at the
	// first call and again whenever the node answers 401, as a restarted
	// node does.
	Cookie string
	// Currency is the code reported in every Output: "BTC" or "LTC".
	Currency string
	// Net is what Network returns, e.g. "bitcoin-regtest".
	Net string
	// Params encode output scripts as addresses (the network's base58
	// version bytes and bech32 prefix), e.g. &chaincfg.RegressionNetParams.
	// For Litecoin the caller supplies Params with Litecoin's prefixes.
	Params *chaincfg.Params
	// Timeout bounds each RPC call (DefaultTimeout when zero); a caller's
	// context deadline, when shorter, applies too.
	Timeout time.Duration
}

// errConfig prefixes every validation error so a misconfiguration is
// recognisable in the server's startup error.
var errConfig = errors.New("bitcoin config")

// validate checks c and returns the endpoint with any credentials moved
// out of it, and the effective user and password.
func (c Config) validate() (endpoint, user, password string, err error) {
	if c.URL == "" {
		return "", "", "", fmt.Errorf("%w: URL is empty", errConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Parse's error quotes the whole URL, credentials included.
		return "", "", "", fmt.Errorf("%w: URL does not parse", errConfig)
	}
	user, password = c.User, c.Password
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
			password, _ = u.User.Password()
		}
		u.User = nil
	}
	if c.Cookie != "" && (user != "" || password != "") {
		return "", "", "", fmt.Errorf("%w: configure either the RPC cookie file or a user and password, not both", errConfig)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", "", fmt.Errorf("%w: URL %s: scheme must be http or https", errConfig, u.Redacted())
	}
	if u.Host == "" {
		return "", "", "", fmt.Errorf("%w: URL %s has no host", errConfig, u.Redacted())
	}
	switch c.Currency {
	case "BTC", "LTC":
	default:
		return "", "", "", fmt.Errorf("%w: currency %q: want BTC or LTC", errConfig, c.Currency)
	}
	if c.Net == "" {
		return "", "", "", fmt.Errorf("%w: Net (the network's name) is empty", errConfig)
	}
	if c.Params == nil {
		return "", "", "", fmt.Errorf("%w: Params (address encoding) is nil", errConfig)
	}
	if c.Timeout < 0 {
		return "", "", "", fmt.Errorf("%w: Timeout %v is negative", errConfig, c.Timeout)
	}
	return u.String(), user, password, nil
}
