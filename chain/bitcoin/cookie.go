package bitcoin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/invoiced/invoiced/chain/jsonrpc"
)

// cookie is the node's RPC cookie file (bitcoind and litecoind write
// "__cookie__:<random hex>" to <datadir>/.cookie on every start when no
// rpcpassword is set). It is read at the first call and again after the
// node answers 401, which is what a restarted node answers to the old
// cookie: one failed poll, then the monitor carries on. It implements
// jsonrpc.Credentials; mu guards the cached pair, which calls from several
// goroutines read.
type cookie struct {
	path string

	mu             sync.Mutex
	user, password string // empty: read the file at the next call
}

func (c *cookie) Basic() (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user != "" {
		return c.user, c.password, nil
	}
	b, err := os.ReadFile(c.path)
	if err != nil {
		// The path is the operator's configuration, not a secret.
		return "", "", fmt.Errorf("read RPC cookie: %w", err)
	}
	user, password, ok := bytes.Cut(bytes.TrimSpace(b), []byte(":"))
	if !ok || len(user) == 0 || len(password) == 0 {
		// Never quote the content: it is the password.
		return "", "", errors.New("read RPC cookie " + c.path + ": want user:password")
	}
	c.user, c.password = string(user), string(password)
	return c.user, c.password, nil
}

func (c *cookie) Refused() {
	c.mu.Lock()
	c.user, c.password = "", ""
	c.mu.Unlock()
}

// NewCookie returns credentials read from the cookie file at path, the way
// a Node with Config.Cookie reads them, for another client of the same
// node (the benchmark's wallet calls).
func NewCookie(path string) jsonrpc.Credentials { return &cookie{path: path} }
