package ledger_test

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/invoiced/invoiced/internal/ledger"
)

// simConfig reads the simulation's seed and size from the environment, so a
// failure can be replayed exactly and a longer run asked for:
// INVOICED_LEDGER_SEED=<seed> INVOICED_LEDGER_PAYMENTS=<n>.
func simConfig(t *testing.T, defaultPayments int) (seed uint64, payments int) {
	t.Helper()
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("INVOICED_LEDGER_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("INVOICED_LEDGER_SEED: %v", err)
		}
		seed = v
	}
	payments = defaultPayments
	if s := os.Getenv("INVOICED_LEDGER_PAYMENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("INVOICED_LEDGER_PAYMENTS: %q", s)
		}
		payments = v
	}
	return seed, payments
}

// chainTx is one simulated transaction paying invoice inv.
type chainTx struct {
	id     string
	inv    int
	amount int64
	height uint64 // 0 = in the mempool
	hash   string
	// sent is what the invoice was last told: (height, hash, conf).
	sentHeight uint64
	sentHash   string
	sentConf   int
	sent       bool
}

// simChain is a chain of one currency as the chain monitor sees it: a
// mempool and blocks that can be reorganised, and the transactions to
// watched addresses it still follows.
type simChain struct {
	currency string
	required int
	height   uint64
	hashes   []string     // hashes[h] of block h
	blocks   [][]*chainTx // blocks[h]
	mempool  []*chainTx
	seq      int
}

func newSimChain(currency string, required int) *simChain {
	return &simChain{currency: currency, required: required, hashes: []string{"genesis"}, blocks: [][]*chainTx{nil}}
}

func (c *simChain) nextHash() string {
	c.seq++
	return fmt.Sprintf("%s-b%d", c.currency, c.seq)
}

// mine appends n blocks, the first holding the whole mempool.
func (c *simChain) mine(n int) {
	for i := range n {
		var txs []*chainTx
		if i == 0 {
			txs, c.mempool = c.mempool, nil
		}
		c.height++
		h := c.nextHash()
		for _, tx := range txs {
			tx.height, tx.hash = c.height, h
		}
		c.hashes = append(c.hashes, h)
		c.blocks = append(c.blocks, txs)
	}
}

// disconnect removes the top depth blocks; their transactions go back to
// the mempool, as a real node's do.
func (c *simChain) disconnect(depth int) {
	for range depth {
		txs := c.blocks[c.height]
		for _, tx := range txs {
			tx.height, tx.hash = 0, ""
		}
		c.mempool = append(txs, c.mempool...)
		c.blocks, c.hashes = c.blocks[:c.height], c.hashes[:c.height]
		c.height--
	}
}

// observation is what the monitor reports for tx now: its block and its
// confirmations, counted up to the required number (more change nothing).
func (c *simChain) observation(tx *chainTx) (height uint64, hash string, conf int) {
	if tx.height == 0 {
		return 0, "", 0
	}
	return tx.height, tx.hash, min(int(c.height-tx.height)+1, c.required)
}

// expiryQueue orders invoices by expiry time.
type expiryQueue []expiryItem

type expiryItem struct {
	at  time.Time
	inv int
}

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(expiryItem)) }
func (q *expiryQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// ledgerSystem is what a simulation drives: the engine directly, or the
// real server with its dev chains. The model is updated by the simulation
// itself; the system only carries out the same operations.
//
// The chain* methods change the chain (a no-op for the engine, which has
// none); observe, revert and expire are what the chain monitor and the
// expiry scheduler send the invoices (a no-op for the server, whose own
// monitor and scheduler do it).
type ledgerSystem interface {
	// create makes invoice i and returns its expiry time.
	create(i int, currency string, amount, allowedError int64, expireMin int, at time.Time) (expiresAt time.Time, err error)
	// patch returns whether the change by hand was accepted.
	patch(i int, to string, at time.Time) (bool, error)
	setTime(now time.Time)

	chainPay(tx *chainTx, currency string) error
	chainMine(currency string, blocks int) error
	chainDisconnect(currency string, depth int) error
	chainDoubleSpend(tx *chainTx, currency string) error

	observe(tx *chainTx, currency string, height uint64, hash string, conf int, at time.Time) error
	revert(tx *chainTx, at time.Time) error
	expire(i int, at time.Time) error
}

// sim is a randomized chain history: invoices created over time, paid in
// part, exactly and too much, on time and late, confirmed, reorganised,
// double-spent, expired and changed by hand.
type sim struct {
	t      *testing.T
	rng    *rand.Rand
	seed   uint64
	now    time.Time
	chains []*simChain
	models []*ledger.Invoice
	curOf  []int // chain index of each invoice
	queue  expiryQueue
	txSeq  int

	// Counts for the report.
	payments, late, partial, exact, over, reorgs, doubleSpends, patches, patchesRefused, expiries int
}

var simCurrencies = []struct {
	code      string
	decimals  int
	required  int
	min, span int64 // invoice amounts: min + [0, span) units
}{
	{"BTC", 8, 2, 10_000, 10_000_000},
	{"LTC", 8, 1, 10_000, 50_000_000},
	{"ETH", 18, 3, 1_000_000_000_000, 50_000_000_000_000_000},
}

func newSim(t *testing.T, seed uint64, start time.Time) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed: seed, now: start}
	for _, c := range simCurrencies {
		s.chains = append(s.chains, newSimChain(c.code, c.required))
	}
	return s
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d (rerun with INVOICED_LEDGER_SEED=%d): %s", s.seed, s.seed, fmt.Sprintf(format, args...))
}

// createInvoice adds an invoice to the model and the system.
func (s *sim) createInvoice(sys ledgerSystem) {
	ci := s.rng.IntN(len(simCurrencies))
	c := simCurrencies[ci]
	amount := c.min + s.rng.Int64N(c.span)
	allowed := []int64{0, 0, 1, 5}[s.rng.IntN(4)]
	expireMin := 2 + s.rng.IntN(29)
	i := len(s.models)
	expiresAt, err := sys.create(i, c.code, amount, allowed, expireMin, s.now)
	if err != nil {
		s.fatalf("create invoice %d: %v", i, err)
	}
	s.models = append(s.models, ledger.NewInvoice(amount, allowed, expiresAt))
	s.curOf = append(s.curOf, ci)
	heap.Push(&s.queue, expiryItem{at: expiresAt, inv: i})
}

// pickInvoice prefers recent invoices (being paid now) but reaches back to
// old ones too, whose payments are late.
func (s *sim) pickInvoice() int {
	n := len(s.models)
	if s.rng.IntN(10) == 0 {
		return s.rng.IntN(n)
	}
	return n - 1 - s.rng.IntN(min(n, 30))
}

// pay sends a payment to an invoice: part of what is missing, exactly it,
// more, or anything (for invoices already paid).
func (s *sim) pay(sys ledgerSystem) {
	i := s.pickInvoice()
	m := s.models[i]
	missing := m.Threshold()
	for _, p := range m.Payments {
		if !p.Late {
			missing -= p.Amount
		}
	}
	var amount int64
	switch k := s.rng.IntN(10); {
	case missing <= 1:
		amount = 1 + s.rng.Int64N(m.Amount)
	case k < 4:
		amount = 1 + s.rng.Int64N(missing-1)
		s.partial++
	case k < 7:
		amount = missing
		s.exact++
	default:
		amount = missing + 1 + s.rng.Int64N(m.Amount)
		s.over++
	}
	s.txSeq++
	tx := &chainTx{id: fmt.Sprintf("tx%d", s.txSeq), inv: i, amount: amount}
	c := s.chains[s.curOf[i]]
	c.mempool = append(c.mempool, tx)
	if err := sys.chainPay(tx, c.currency); err != nil {
		s.fatalf("pay %s to invoice %d: %v", tx.id, i, err)
	}
	s.payments++
	if m.Status == ledger.Expired || m.Status == ledger.Cancelled || m.Status == ledger.Archived || s.now.After(m.ExpiresAt) {
		s.late++
	}
	if err := s.sync(sys, c); err != nil {
		s.fatalf("pay %s to invoice %d: %v", tx.id, i, err)
	}
}

// sync tells every invoice what changed on chain c, as the monitor does
// after each round, and the model the same.
func (s *sim) sync(sys ledgerSystem, c *simChain) error {
	var live []*chainTx
	live = append(live, c.mempool...)
	for h := c.height; h > 0 && c.height-h < uint64(c.required)+4; h-- {
		live = append(live, c.blocks[h]...)
	}
	for _, tx := range live {
		height, hash, conf := c.observation(tx)
		if tx.sent && tx.sentHeight == height && tx.sentHash == hash && tx.sentConf == conf {
			continue
		}
		if err := sys.observe(tx, c.currency, height, hash, conf, s.now); err != nil {
			return err
		}
		tx.sent, tx.sentHeight, tx.sentHash, tx.sentConf = true, height, hash, conf
		s.models[tx.inv].Seen(tx.id, tx.amount, height > 0 && conf >= c.required, s.now)
	}
	return nil
}

// chainEvent mines, reorganises or double-spends on a random chain.
func (s *sim) chainEvent(sys ledgerSystem) {
	c := s.chains[s.rng.IntN(len(s.chains))]
	switch k := s.rng.IntN(20); {
	case k < 14:
		s.mine(sys, c, 1+s.rng.IntN(2))
	case k < 17 && c.height > 0:
		// A reorganisation: the competing chain is longer and holds the
		// same transactions again, or some of them (the rest wait).
		depth := 1 + s.rng.IntN(min(3, int(c.height)))
		c.disconnect(depth)
		if err := sys.chainDisconnect(c.currency, depth); err != nil {
			s.fatalf("reorg of %s: %v", c.currency, err)
		}
		s.reorgs++
		if err := s.sync(sys, c); err != nil {
			s.fatalf("reorg of %s: %v", c.currency, err)
		}
		if s.rng.IntN(3) > 0 {
			s.mine(sys, c, depth+1)
		}
	case len(c.mempool) > 0:
		// A double spend: a conflicting transaction pays someone else, and
		// the payment leaves the mempool for good.
		j := s.rng.IntN(len(c.mempool))
		tx := c.mempool[j]
		c.mempool = append(c.mempool[:j:j], c.mempool[j+1:]...)
		if err := sys.chainDoubleSpend(tx, c.currency); err != nil {
			s.fatalf("double spend of %s: %v", tx.id, err)
		}
		s.doubleSpends++
		if err := sys.revert(tx, s.now); err != nil {
			s.fatalf("double spend of %s: %v", tx.id, err)
		}
		s.models[tx.inv].Gone(tx.id, s.now)
	}
	if err := s.sync(sys, c); err != nil {
		s.fatalf("chain %s: %v", c.currency, err)
	}
}

func (s *sim) mine(sys ledgerSystem, c *simChain, blocks int) {
	c.mine(blocks)
	if err := sys.chainMine(c.currency, blocks); err != nil {
		s.fatalf("mine %s: %v", c.currency, err)
	}
}

// advance moves the clock and expires what is due, as the expiry scheduler
// does.
func (s *sim) advance(sys ledgerSystem, d time.Duration) {
	s.now = s.now.Add(d)
	sys.setTime(s.now)
	for s.queue.Len() > 0 && !s.queue[0].at.After(s.now) {
		it := heap.Pop(&s.queue).(expiryItem)
		if err := sys.expire(it.inv, s.now); err != nil {
			s.fatalf("expire invoice %d: %v", it.inv, err)
		}
		before := s.models[it.inv].Status
		s.models[it.inv].Tick(s.now)
		if before != ledger.Expired && s.models[it.inv].Status == ledger.Expired {
			s.expiries++
		}
	}
}

// patch asks for a random status change by hand.
func (s *sim) patch(sys ledgerSystem) {
	i := s.pickInvoice()
	to := ledger.All[s.rng.IntN(len(ledger.All))]
	s.patches++
	want := s.models[i].ByHand(to) == nil
	got, err := sys.patch(i, to, s.now)
	if err != nil {
		s.fatalf("patch invoice %d to %s: %v", i, to, err)
	}
	if got != want {
		s.fatalf("patch invoice %d to %s: system accepted=%v, model accepted=%v (model %+v)", i, to, got, want, s.models[i])
	}
	if !got {
		s.patchesRefused++
	}
}

// run performs a random history with the given number of payments; check
// is called after every step that touched invoices.
func (s *sim) run(sys ledgerSystem, payments int, step func()) {
	for s.payments < payments {
		switch k := s.rng.IntN(100); {
		case k < 22 || len(s.models) == 0:
			s.createInvoice(sys)
		case k < 62:
			s.pay(sys)
		case k < 82:
			s.chainEvent(sys)
		case k < 86:
			s.patch(sys)
		default:
			s.advance(sys, time.Duration(s.rng.IntN(45_000))*time.Millisecond)
		}
		step()
	}
	// Let everything confirm and every deadline pass.
	for _, c := range s.chains {
		s.mine(sys, c, 5)
		if err := s.sync(sys, c); err != nil {
			s.fatalf("final mining: %v", err)
		}
	}
	s.advance(sys, 24*time.Hour)
	step()
}

func (s *sim) report() string {
	final := map[string]int{}
	for _, m := range s.models {
		final[m.Status]++
	}
	return fmt.Sprintf("seed %d: %d invoices, %d payments (%d partial, %d exact, %d over, %d late), %d reorgs, %d double spends, %d expiries, %d patches (%d refused); final statuses %v",
		s.seed, len(s.models), s.payments, s.partial, s.exact, s.over, s.late, s.reorgs, s.doubleSpends, s.expiries, s.patches, s.patchesRefused, final)
}
