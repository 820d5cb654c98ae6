// Package litecoindtest starts a real litecoind -regtest (Litecoin Core, a
// fork of Bitcoin Core 0.21 with MWEB) for a test and drives it through its
// own wallets: mine, pay, peg in to and out of MWEB, invalidate blocks,
// restart. It is used only by tests (chain/bitcoin's adapter tests, the
// server's end-to-end tests and the benchmark); nothing in the server
// imports it.
//
// The node authenticates RPC with its cookie file only, as an operator's
// node on the same machine would: every start writes a new cookie, so a
// restart exercises the adapter's re-read. It speaks JSON-RPC through
// chain/jsonrpc, not chain/bitcoin, so that package's tests can import it.
//
// Without a litecoind binary (on PATH, or in GOBIN / GOPATH/bin) Start
// skips the test with a message: .ci/install-litecoind installs it.
package litecoindtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invoiced/invoiced/chain/internal/nodeproc"
	"github.com/invoiced/invoiced/chain/jsonrpc"
	"github.com/invoiced/invoiced/chain/segwit"
)

// MWEBHeight is the first regtest block that may carry MWEB data. litecoind
// mines it only with an MWEB peg-in in its mempool.
const MWEBHeight = 432

// CoinbaseMaturity is how many blocks must follow a coinbase before it can
// be spent.
const CoinbaseMaturity = 100

// Wallet names: Miner receives every coinbase and pays; MWEB holds only
// MWEB coins, for peg-outs.
const (
	Miner = "miner"
	MWEB  = "mweb"
)

// Unspendable is a regtest address whose key nobody holds (a zero P2WPKH
// program): where a wallet-less node's coinbases go.
var Unspendable = func() string {
	a, err := segwit.EncodeV0("rltc", [20]byte{})
	if err != nil {
		panic(err)
	}
	return a
}()

// Options select how the node runs.
type Options struct {
	// NoWallet runs it with -disablewallet, as a merchant's watch node
	// often is; Generate then mines to a fixed address and the payment
	// helpers are unavailable.
	NoWallet bool
}

// Node is a litecoind -regtest process started for one test, its RPC on a
// loopback port. t.Cleanup kills it.
type Node struct {
	// URL is the RPC endpoint (no credentials); Cookie the path of the
	// cookie file it writes on every start.
	URL, Cookie string

	t       testing.TB
	dir     string
	args    []string
	proc    *nodeproc.Proc
	http    *http.Client
	noMiner string // Generate's address without a wallet
}

// Start starts litecoind -regtest on loopback ports and waits until its RPC
// answers; with a wallet it creates the wallets Miner and MWEB. Without a
// litecoind binary the test is skipped.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	n := &Node{t: t, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	t.Cleanup(n.http.CloseIdleConnections)
	n.proc = nodeproc.Run(t, "litecoind", func(dir string) nodeproc.Launch {
		rpcPort, p2pPort := nodeproc.FreePort(t), nodeproc.FreePort(t) // no P2P listener: -port only names it
		n.dir = filepath.Join(dir, "data")
		if err := os.MkdirAll(n.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		n.URL = fmt.Sprintf("http://127.0.0.1:%d", rpcPort)
		n.Cookie = filepath.Join(n.dir, "regtest", ".cookie")
		n.args = []string{
			"-regtest", "-datadir=" + n.dir, "-printtoconsole", "-server",
			fmt.Sprintf("-rpcport=%d", rpcPort), "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1",
			fmt.Sprintf("-port=%d", p2pPort), "-listen=0", "-dnsseed=0", "-discover=0",
			"-fallbackfee=0.0001", "-txindex=0", "-rpcworkqueue=64",
			// Core's shutdown waits for open keep-alive connections
			// until they idle out: 30 s by default.
			"-rpcservertimeout=1",
			// Litecoin Core relays no BIP125 replacement by default; the
			// reorg tests double-spend through the mempool.
			"-mempoolreplacement=1",
			// A new wallet fills its keypool first: 1,000 keys per chain
			// (external, internal, MWEB) take litecoind seconds.
			"-keypool=20",
		}
		if opts.NoWallet {
			n.args = append(n.args, "-disablewallet")
		}
		return n.launch()
	})
	if opts.NoWallet {
		n.noMiner = Unspendable
		return n
	}
	// litecoind 0.21 creates no wallet named by -wallet: create them, and
	// load them by name on a restart.
	for _, w := range []string{Miner, MWEB} {
		n.RPC(t, "createwallet", nil, w)
		n.args = append(n.args, "-wallet="+w)
	}
	return n
}

func (n *Node) launch() nodeproc.Launch {
	return nodeproc.Launch{
		Args:   n.args,
		Ready:  func(ctx context.Context) error { return n.Call(ctx, "", "getblockchaininfo", nil) },
		Within: 30 * time.Second,
	}
}

// Restart stops the node gracefully and starts it again on the same data
// directory and ports. It writes a new cookie file: a client still holding
// the old one is refused until it reads the new one.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	old, _ := os.ReadFile(n.Cookie)
	n.http.CloseIdleConnections()
	n.proc.Stop()
	n.proc = nodeproc.Run(t, "litecoind", func(string) nodeproc.Launch { return n.launch() })
	if cur, _ := os.ReadFile(n.Cookie); bytes.Equal(old, cur) {
		t.Fatal("litecoind kept its cookie across a restart")
	}
}

// Stop stops the node gracefully (Restart's first half, for a test that
// watches a client fail meanwhile); Resume starts it again.
func (n *Node) Stop() {
	n.http.CloseIdleConnections()
	n.proc.Stop()
}

// Resume starts a node stopped with Stop.
func (n *Node) Resume(t testing.TB) {
	t.Helper()
	n.http.CloseIdleConnections()
	n.proc = nodeproc.Run(t, "litecoind", func(string) nodeproc.Launch { return n.launch() })
}

// client is a JSON-RPC client for the node, or for one of its wallets. It
// reads the cookie at every call, so it survives restarts.
func (n *Node) client(wallet string) *jsonrpc.Client {
	url := n.URL
	if wallet != "" {
		url += "/wallet/" + wallet
	}
	return &jsonrpc.Client{URL: url, Version: "1.0", HTTP: n.http, Credentials: cookieFile(n.Cookie)}
}

// cookieFile reads the cookie file at every request.
type cookieFile string

func (c cookieFile) Basic() (string, string, error) {
	b, err := os.ReadFile(string(c))
	if err != nil {
		return "", "", err
	}
	user, password, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	return user, password, nil
}

func (cookieFile) Refused() {}

// Call invokes a method, on a wallet when wallet is not empty, and decodes
// its result into out (nil: discard it).
func (n *Node) Call(ctx context.Context, wallet, method string, out any, params ...any) error {
	return n.client(wallet).Call(ctx, method, params, out)
}

// RPC is Call on the node that fails the test on error, with a 30 s timeout.
func (n *Node) RPC(t testing.TB, method string, out any, params ...any) {
	t.Helper()
	n.WalletRPC(t, "", method, out, params...)
}

// WalletRPC is RPC on one wallet.
func (n *Node) WalletRPC(t testing.TB, wallet, method string, out any, params ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Call(ctx, wallet, method, out, params...); err != nil {
		t.Fatalf("litecoind %s: %v", method, err)
	}
}

// NewAddress returns a new address of wallet: kind "bech32" (rltc1q...),
// "legacy" or "mweb" (tmweb1...).
func (n *Node) NewAddress(t testing.TB, wallet, kind string) string {
	t.Helper()
	var a string
	n.WalletRPC(t, wallet, "getnewaddress", &a, "", kind)
	return a
}

// Generate mines count blocks paying the Miner wallet (without wallets, an
// unspendable address) and returns their hashes.
func (n *Node) Generate(t testing.TB, count int) []string {
	t.Helper()
	to := n.noMiner
	if to == "" {
		to = n.NewAddress(t, Miner, "bech32")
	}
	var hashes []string
	n.RPC(t, "generatetoaddress", &hashes, count, to)
	if len(hashes) != count {
		t.Fatalf("generatetoaddress %d returned %d hashes", count, len(hashes))
	}
	return hashes
}

// Tip returns the best block's height and hash.
func (n *Node) Tip(t testing.TB) (int64, string) {
	t.Helper()
	return nodeproc.Tip(t, n.RPC)
}

// Fund mines until the Miner wallet has mature coins and MWEB is active:
// blocks up to MWEBHeight-1, a peg-in of 10 LTC to the MWEB wallet, and
// the block MWEBHeight that includes it. The MWEB wallet then holds only
// MWEB coins.
func (n *Node) Fund(t testing.TB) {
	t.Helper()
	h, _ := n.Tip(t)
	if h < MWEBHeight-1 {
		n.Generate(t, int(MWEBHeight-1-h))
	}
	n.Send(t, Miner, n.NewAddress(t, MWEB, "mweb"), 1_000_000_000)
	n.Generate(t, 1)
}

// Send pays sat litoshis from wallet to addr (ltc1, or an MWEB address for
// a peg-in or an MWEB transfer) and returns the id the wallet reports.
// From the MWEB wallet to a canonical address it is a peg-out.
func (n *Node) Send(t testing.TB, wallet, addr string, sat int64) string {
	t.Helper()
	var txid string
	n.WalletRPC(t, wallet, "sendtoaddress", &txid, addr, Amount(sat))
	return txid
}

// SendReplaceable is Send with a transaction that signals replace-by-fee
// (BIP125).
func (n *Node) SendReplaceable(t testing.TB, wallet, addr string, sat int64) string {
	t.Helper()
	var txid string
	n.WalletRPC(t, wallet, "sendtoaddress", &txid, addr, Amount(sat), "", "", false, true)
	return txid
}

// SendMany pays every address its amount in one transaction from wallet.
func (n *Node) SendMany(t testing.TB, wallet string, amounts map[string]int64) string {
	t.Helper()
	m := make(map[string]json.Number, len(amounts))
	for a, sat := range amounts {
		m[a] = Amount(sat)
	}
	var txid string
	n.WalletRPC(t, wallet, "sendmany", &txid, "", m)
	return txid
}

// Amount is sat litoshis as the exact decimal LTC the RPC takes.
func Amount(sat int64) json.Number {
	return json.Number(new(big.Rat).SetFrac64(sat, 100_000_000).FloatString(8))
}

// Mempool returns the txids in the node's mempool.
func (n *Node) Mempool(t testing.TB) []string {
	t.Helper()
	var ids []string
	n.RPC(t, "getrawmempool", &ids)
	return ids
}

// InMempool reports whether txid is in the node's mempool.
func (n *Node) InMempool(t testing.TB, txid string) bool {
	t.Helper()
	for _, id := range n.Mempool(t) {
		if id == txid {
			return true
		}
	}
	return false
}

// Output is one output PayOutputs creates.
type Output struct {
	Address string
	Sat     int64
}

// PayOutputs pays outs from wallet in one transaction, in that order
// (change last or between, as the wallet picks), even several outputs to
// one address, which sendmany cannot. It returns the txid.
func (n *Node) PayOutputs(t testing.TB, wallet string, outs []Output) string {
	t.Helper()
	// A version 2 transaction without inputs, serialized by hand: Core's
	// createrawtransaction refuses a duplicated address.
	raw := "02000000" + "00" + fmt.Sprintf("%02x", len(outs))
	for _, o := range outs {
		var info struct {
			Script string `json:"scriptPubKey"`
		}
		n.RPC(t, "validateaddress", &info, o.Address)
		var v [8]byte
		binary.LittleEndian.PutUint64(v[:], uint64(o.Sat))
		raw += hex.EncodeToString(v[:]) + fmt.Sprintf("%02x", len(info.Script)/2) + info.Script
	}
	raw += "00000000"
	var funded struct {
		Hex string `json:"hex"`
	}
	n.WalletRPC(t, wallet, "fundrawtransaction", &funded, raw)
	return n.SignAndSend(t, wallet, funded.Hex)
}

// SignAndSend signs a raw transaction with wallet's keys and sends it.
func (n *Node) SignAndSend(t testing.TB, wallet, raw string) string {
	t.Helper()
	var txid string
	n.RPC(t, "sendrawtransaction", &txid, n.sign(t, wallet, raw))
	return txid
}

// sign signs a raw transaction with wallet's keys.
func (n *Node) sign(t testing.TB, wallet, raw string) string {
	t.Helper()
	var signed struct {
		Hex      string `json:"hex"`
		Complete bool   `json:"complete"`
	}
	n.WalletRPC(t, wallet, "signrawtransactionwithwallet", &signed, raw)
	if !signed.Complete {
		t.Fatal("signrawtransactionwithwallet: incomplete")
	}
	return signed.Hex
}

// DoubleSpend returns a signed transaction (hex) from wallet that spends
// the first input of the mempool transaction txid and pays sat to addr,
// the rest back to wallet less a fee: it conflicts with txid.
func (n *Node) DoubleSpend(t testing.TB, wallet, txid, addr string, sat int64) string {
	t.Helper()
	var tx struct {
		Vin []struct {
			TxID string `json:"txid"`
			Vout uint32 `json:"vout"`
		} `json:"vin"`
	}
	n.RPC(t, "getrawtransaction", &tx, txid, true)
	if len(tx.Vin) == 0 {
		t.Fatalf("%s has no canonical input", txid)
	}
	in := tx.Vin[0]
	var prev struct {
		Value json.Number `json:"value"`
	}
	n.RPC(t, "gettxout", &prev, in.TxID, in.Vout, false)
	total, ok := new(big.Rat).SetString(prev.Value.String())
	if !ok {
		t.Fatalf("gettxout value %q", prev.Value)
	}
	totalSat := new(big.Rat).Mul(total, big.NewRat(100_000_000, 1))
	change := totalSat.Num().Int64() - sat - 100_000 // 0.001 LTC fee
	var raw string
	n.RPC(t, "createrawtransaction", &raw,
		[]map[string]any{{"txid": in.TxID, "vout": in.Vout}},
		[]map[string]json.Number{{addr: Amount(sat)}, {n.NewAddress(t, wallet, "bech32"): Amount(change)}})
	return n.sign(t, wallet, raw)
}
