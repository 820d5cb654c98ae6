package chainwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/invoiced/invoiced/actors/invoice"
	"github.com/invoiced/invoiced/chain"
	"github.com/invoiced/invoiced/engine"
	"github.com/invoiced/invoiced/internal/backoff"
	"github.com/invoiced/invoiced/persistence"
)

// recentWindow is how many recent block hashes a monitor keeps to find the
// fork point of a reorganisation.
const recentWindow = 100

// reorgMargin is how many blocks beyond its required confirmations a
// payment stays followed for reorganisations. Its block hash is then deeper
// than any reorganisation the network has seen in years, and forgetting it
// keeps the monitor's state (rewritten every round) proportional to the
// payments of the last few blocks, not of the last recentWindow blocks.
const reorgMargin = 6

// maxBlocksPerRound bounds one round's catch-up, so progress is persisted
// regularly while a monitor that was down walks many blocks.
const maxBlocksPerRound = 500

// monitorState is a chain monitor's durable state: its cursor, the hashes
// of the blocks below it, and the payments to watched addresses it is still
// following (unconfirmed, or recent enough to be reorganised away). It is
// stored in the binary form of state.go; the JSON names read the records
// written before it.
type monitorState struct {
	Height uint64     `json:"height"`
	Hash   string     `json:"hash"`
	Recent []string   `json:"recent"` // hashes of heights Height-len+1 .. Height
	Pay    []*tracked `json:"payments"`
}

// tracked is a payment to a watched address that the monitor follows.
type tracked struct {
	Currency string   `json:"currency"`
	TxID     string   `json:"txid"`
	Index    uint32   `json:"index"`
	Address  string   `json:"address"`
	Amount   *big.Int `json:"amount"`
	RBF      bool     `json:"rbf,omitempty"`
	Height   uint64   `json:"height,omitempty"` // 0 = unconfirmed
	Hash     string   `json:"hash,omitempty"`
	// Sent is what the invoice last durably applied: (height, hash,
	// confirmations). Nothing is sent while it matches.
	SentHeight uint64 `json:"sent_height,omitempty"`
	SentHash   string `json:"sent_hash,omitempty"`
	SentConf   int    `json:"sent_conf,omitempty"`
	Sent       bool   `json:"sent,omitempty"`
	// Missing counts rounds in which an unconfirmed payment was in neither
	// the mempool nor a block; at 2 it is reverted (dropped or replaced).
	Missing int `json:"missing,omitempty"`
}

// Monitor follows one network's node: a persisted cursor (height and hash),
// reorganisations found by parent-hash mismatch and rolled back, payments
// to watched addresses routed to their address watchers, and the cursor
// advanced only after those payments are durably applied.
//
// Invariants:
//
//  1. Payments are recorded before any invoice applies them: a round that
//     found new payments saves them (under the old cursor) in the batch of
//     the round's group commit (persistence.Store.NewChainGroup), so they
//     are durable no later than any invoice's commit, and after a crash the
//     monitor still follows, and if need be reverts, every payment an
//     invoice may have applied.
//  2. The cursor advances only past blocks whose payments are durably
//     applied: the state with the new cursor is saved after every watcher's
//     invoice has answered (applyChanges); a failure leaves the changes
//     unsent, and the next round sends them again (observations are
//     idempotent).
//  3. One round at a time: rounds run on the monitor's own ticking actor.
//
// Locks: state, byKey, tip, failures and skip are the monitor actor's,
// used only in its rounds; mu guards cursor, lastErr, lastOK and rounds,
// which readiness checks read.
type Monitor struct {
	r       *Router
	node    chain.Node
	network string
	log     *slog.Logger

	state monitorState // owned by the monitor actor's rounds
	byKey map[string]*tracked

	retry    backoff.Backoff
	poll     time.Duration
	tip      uint64 // the node's height at the last poll
	failures int    // consecutive failed rounds
	skip     int    // ticks left to skip after a failure

	mu      sync.Mutex
	cursor  chain.Cursor // guarded by mu
	lastErr error        // guarded by mu
	lastOK  time.Time    // guarded by mu
	rounds  int          // guarded by mu
}

// changer is implemented by nodes that can say when they changed (the dev
// chain), so the monitor polls at once instead of at its next tick.
type changer interface{ Changed() <-chan struct{} }

// StartMonitor starts following node every poll interval until ctx ends.
// It loads the monitor's state from the store; a network never followed
// before starts at its current tip.
func (r *Router) StartMonitor(ctx context.Context, node chain.Node, poll time.Duration) (*Monitor, error) {
	m := r.newMonitor(node, poll)
	b, err := r.cfg.Store.ChainState(m.network)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if m.state, err = decodeState(b); err != nil {
			return nil, fmt.Errorf("chain state of %s: %w", m.network, err)
		}
		for _, t := range m.state.Pay {
			m.byKey[t.key()] = t
		}
	}
	var wake <-chan struct{}
	if c, ok := node.(changer); ok {
		wake = c.Changed()
	}
	m.cursor = chain.Cursor{Height: m.state.Height, Hash: m.state.Hash}
	r.cfg.System.StartTicking(ctx, poll, wake, m.round)
	return m, nil
}

func (r *Router) newMonitor(node chain.Node, poll time.Duration) *Monitor {
	return &Monitor{
		r: r, node: node, network: node.Network(), poll: poll, log: r.cfg.Logger.With("network", node.Network()), byKey: map[string]*tracked{},
		// After failures the node is retried with exponential backoff (the
		// poll interval doubling up to a minute), not hammered every tick.
		retry: backoff.Backoff{Min: 2 * poll, Max: time.Minute},
	}
}

func (t *tracked) key() string { return paymentKey(t.Currency, t.TxID, t.Index) }

// paymentKey names a payment (an output) in the monitor's byKey.
func paymentKey(currency, txid string, index uint32) string {
	return currency + "/" + txid + "/" + strconv.FormatUint(uint64(index), 10)
}

// Err reports the last round's failure (nil after a good round), for
// readiness: a monitor that cannot reach its node is not ready.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastOK.IsZero() && m.lastErr == nil {
		return fmt.Errorf("%s: not synced yet", m.network)
	}
	return m.lastErr
}

// Cursor returns the height and hash the monitor has durably processed.
func (m *Monitor) Cursor() chain.Cursor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursor
}

func (m *Monitor) round(ctx context.Context) {
	// The backoff counts ticks (one per poll interval), the monitor's own
	// unit of time, so a test clock standing still does not stop retries.
	if m.skip > 0 {
		m.skip--
		return
	}
	err := m.follow(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rounds++
	if err != nil {
		m.r.metrics.nodeErrors.WithLabelValues(m.network).Inc()
		if m.lastErr == nil || m.lastErr.Error() != err.Error() {
			m.log.Warn("chain monitor round failed", slog.Any("err", err), slog.Int("failures", m.failures+1))
		}
		m.lastErr = err
		m.failures++
		wait, _ := m.retry.Wait(m.failures)
		m.skip = int(wait/m.poll) - 1
		return
	}
	m.lastErr, m.lastOK, m.failures, m.skip = nil, m.r.cfg.Clock.Now(), 0, 0
}

// follow is one round: read the mempool, walk the chain from the cursor to
// the tip (rolling back over reorganisations), send what changed to the
// watchers, and persist the new state once they have applied it.
func (m *Monitor) follow(ctx context.Context) error {
	// The mempool is read before the tip: a transaction mined in between is
	// then found in a block, never mistaken for dropped.
	mempool, err := m.node.Mempool(ctx)
	if err != nil {
		return fmt.Errorf("mempool: %w", err)
	}
	tip, err := m.node.Tip(ctx)
	if err != nil {
		return fmt.Errorf("tip: %w", err)
	}
	m.r.metrics.chainTip.WithLabelValues(m.network).Set(float64(tip.Height))
	m.tip = tip.Height
	durable := monitorState{Height: m.state.Height, Hash: m.state.Hash, Recent: append([]string(nil), m.state.Recent...)}
	tracking := len(m.state.Pay)
	start := m.r.cfg.Clock.Now()
	for steps := 0; steps < maxBlocksPerRound && (m.state.Height != tip.Height || m.state.Hash != tip.Hash); steps++ {
		if err := m.pace(ctx, start, steps); err != nil {
			return err
		}
		if m.state.Hash == "" {
			// Never followed (or lost in a reorganisation deeper than the
			// window): start at the tip; the mempool scan still finds
			// payments not yet mined.
			m.state.Height, m.state.Hash, m.state.Recent = tip.Height, tip.Hash, []string{tip.Hash}
			m.log.Info("chain monitor starts at the tip", slog.Uint64("height", tip.Height))
			break
		}
		if m.state.Height >= tip.Height {
			m.rollback()
			continue
		}
		b, err := m.node.BlockAt(ctx, m.state.Height+1)
		if errors.Is(err, chain.ErrNotFound) {
			if tip, err = m.node.Tip(ctx); err != nil {
				return fmt.Errorf("tip: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("block %d: %w", m.state.Height+1, err)
		}
		if b.Parent != m.state.Hash {
			m.rollback()
			continue
		}
		m.connect(b)
	}
	m.matchMempool(mempool)
	m.sweepWatches()
	var writeAhead []byte
	if len(m.state.Pay) > tracking {
		// Write-ahead: new payments are recorded (under the old cursor)
		// no later than any invoice applies them, so after a crash the
		// monitor still knows to follow, and if need be revert, every
		// payment an invoice may have applied. The record goes in the
		// round's group batch rather than in a synced write of its own
		// before the round starts.
		durable.Pay = m.state.Pay
		writeAhead = encodeState(durable)
	}
	return m.applyChanges(ctx, writeAhead)
}

// pace waits until a walk that started at start may take its next step
// within the catch-up budget: a second's worth of blocks (CatchUpRate) go
// at once, as a burst, and each one beyond it CatchUpRate-th of a second
// later, so a monitor a few blocks behind never waits and one a day
// behind walks at the configured rate.
func (m *Monitor) pace(ctx context.Context, start time.Time, steps int) error {
	rate := m.r.cfg.CatchUpRate
	if steps < rate {
		return nil
	}
	due := start.Add(time.Duration(steps-rate+1) * time.Second / time.Duration(rate))
	wait := due.Sub(m.r.cfg.Clock.Now())
	if wait <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-m.r.cfg.Clock.After(wait):
		return nil
	}
}

// rollback disconnects the cursor's block: payments it confirmed become
// unconfirmed until a new block or the mempool shows them again.
func (m *Monitor) rollback() {
	m.r.metrics.reorgs.WithLabelValues(m.network).Inc()
	m.log.Info("block disconnected", slog.Uint64("height", m.state.Height), slog.String("hash", m.state.Hash))
	for _, t := range m.state.Pay {
		if t.Height >= m.state.Height {
			t.Height, t.Hash = 0, ""
		}
	}
	n := len(m.state.Recent)
	if n <= 1 {
		m.log.Error("reorganisation deeper than the monitor's window; resuming at the tip", slog.Int("window", recentWindow))
		m.state.Recent, m.state.Hash = nil, ""
		return
	}
	m.state.Recent = m.state.Recent[:n-1]
	m.state.Hash = m.state.Recent[n-2]
	m.state.Height--
}

// connect appends b to the cursor and tracks its outputs to watched
// addresses.
func (m *Monitor) connect(b chain.Block) {
	m.state.Height, m.state.Hash = b.Height, b.Hash
	m.state.Recent = append(m.state.Recent, b.Hash)
	if n := len(m.state.Recent); n > recentWindow {
		m.state.Recent = append([]string(nil), m.state.Recent[n-recentWindow:]...)
	}
	for _, o := range b.Outputs {
		t := m.track(o)
		if t == nil {
			m.r.metrics.unwatched.WithLabelValues(o.Currency).Inc()
			continue
		}
		t.Height, t.Hash, t.Missing = b.Height, b.Hash, 0
	}
}

// track returns the tracked payment for o, adding it if o pays a watched
// address; nil if it does not.
func (m *Monitor) track(o chain.Output) *tracked {
	if _, ok := m.r.cfg.Watches.lookup(o.Currency, o.Address); !ok {
		return nil
	}
	k := paymentKey(o.Currency, o.TxID, o.Index)
	if t, ok := m.byKey[k]; ok {
		return t
	}
	t := &tracked{Currency: o.Currency, TxID: o.TxID, Index: o.Index, Address: o.Address, Amount: new(big.Int).Set(o.Amount), RBF: o.RBF}
	m.r.metrics.matched.WithLabelValues(o.Currency).Inc()
	m.byKey[k] = t
	m.state.Pay = append(m.state.Pay, t)
	return t
}

// matchMempool tracks new unconfirmed payments and counts the rounds in
// which an unconfirmed one is nowhere to be seen.
func (m *Monitor) matchMempool(mempool []chain.Output) {
	inPool := make(map[string]bool, len(mempool))
	for _, o := range mempool {
		if t := m.track(o); t != nil {
			inPool[t.key()] = true
		}
	}
	for _, t := range m.state.Pay {
		switch {
		case t.Height > 0 || inPool[t.key()]:
			t.Missing = 0
		default:
			t.Missing++
		}
	}
}

// sweepWatches ends the watches whose grace period is over, once a minute
// or so (every 60 rounds).
func (m *Monitor) sweepWatches() {
	if m.rounds%60 != 0 {
		return
	}
	now := m.r.cfg.Clock.Now().UnixNano()
	for _, cur := range m.node.Currencies() {
		ended := m.r.cfg.Watches.expired(cur, now)
		for i, addr := range ended {
			if err := m.r.cfg.Store.Unwatch(cur, addr); err != nil {
				m.log.Warn("unwatch failed", slog.Any("err", err))
				m.r.cfg.Watches.retry(cur, ended[i:])
				return
			}
			m.r.cfg.Watches.remove(cur, addr, now)
		}
	}
}

// applyChanges sends every change since the last round to the address
// watchers, concurrently, waits until all are durably applied, then prunes
// and persists the state. writeAhead (nil: none) is the encoded state the
// round's group commit writes before, or with, any invoice's commit. A
// failure leaves the changes marked unsent, so the next round sends them
// again (observations are idempotent).
func (m *Monitor) applyChanges(ctx context.Context, writeAhead []byte) error {
	now := m.r.cfg.Clock.Now()
	byAddr := make(map[watchKey][]change, len(m.state.Pay))
	for i, t := range m.state.Pay {
		c := change{t: t, at: i, height: t.Height, hash: t.Hash}
		if t.Height > 0 {
			c.conf = int(m.state.Height-t.Height) + 1
			if req := m.required(t.Currency); c.conf > req {
				c.conf = req // confirmations beyond the required ones change nothing
			}
		}
		switch {
		case t.Height == 0 && t.Missing >= 2:
			// Reverted even if never reported: it may have been applied
			// before a crash, and reverting an unknown payment is a no-op.
			c.revert = true
		case t.Sent && t.SentHeight == c.height && t.SentHash == c.hash && t.SentConf == c.conf:
			continue
		}
		k := watchKey{t.Currency, t.Address}
		byAddr[k] = append(byAddr[k], c)
	}

	// What each address watcher was sent. Each invoice's answer comes back
	// on answers, tagged with its request, rather than by a protoactor
	// future per request (a registered process and a timer each), and the
	// round waits for all of them for at most the request timeout.
	type request struct {
		key      watchKey
		changes  []change
		answered bool
		err      error
	}
	requests := make([]request, 0, len(byAddr))
	answers := make(chan answer, len(byAddr)) // a late answer never blocks its actor
	// One group commit for the round (one synced batch): every invoice
	// commits what it decided as a member of the group, each still
	// deciding on its own state in its own actor, and none answers
	// before the batch is durable. A member that does not come
	// (a lost message) holds the others for at most half the request
	// timeout.
	// Every new payment is unsent, so byAddr holds it and the group writes
	// the write-ahead record.
	var group *persistence.Group
	if writeAhead != nil {
		group = m.r.cfg.Store.NewChainGroup(len(byAddr), m.r.cfg.RequestTimeout/2, m.network, writeAhead)
	} else {
		group = m.r.cfg.Store.NewGroup(len(byAddr), m.r.cfg.RequestTimeout/2)
	}
	for k, changes := range byAddr {
		w, ok := m.r.cfg.Watches.lookup(k.currency, k.address)
		if !ok {
			// The watch ended meanwhile: stop following its payments.
			for _, c := range changes {
				c.t.Missing = -1
			}
			group.Leave()
			continue
		}
		cmds := make([]engine.Command, len(changes))
		for i, c := range changes {
			if c.revert {
				cmds[i] = engine.RevertPayment{TxID: c.t.TxID, Index: c.t.Index, Reason: "dropped from the chain", At: now}
				continue
			}
			cmds[i] = engine.ObservePayment{TxID: c.t.TxID, Index: c.t.Index, Amount: engine.UnitsFromBig(c.t.Amount),
				Height: c.height, BlockHash: c.hash, Confirmations: c.conf, RBF: c.t.RBF, At: now}
		}
		i := len(requests)
		// the round needs only the error: an answer holding the Reply's
		// invoice was 368 bytes, copied in and out of a channel as long
		// as the round
		reply := func(rep invoice.Reply) { answers <- answer{i: i, err: rep.Err} }
		m.r.watchers.Send(k, m.r.watcherFor(k), watchMsg{invoice: w.invoice, cmds: cmds, group: group, answer: reply})
		requests = append(requests, request{key: k, changes: changes})
	}
	// The state to save once every invoice has answered, encoded while
	// they work rather than after the last answer: the round's tail is
	// then one synced write.
	final := m.settled(func(settle func(change)) {
		for _, req := range requests {
			for _, c := range req.changes {
				settle(c)
			}
		}
	})
	unanswered := m.await(ctx, answers, len(requests), func(i int, err error) {
		requests[i].answered, requests[i].err = true, err
	})
	var errs []error
	for _, req := range requests {
		err := req.err
		if !req.answered {
			err = fmt.Errorf("actor %v: %w", req.key, unanswered)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range req.changes {
			c.settle(c.t)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("apply chain changes: %w", errors.Join(errs...))
	}
	m.prune() // m.state is now what final holds
	if err := m.r.cfg.Store.PutChainState(m.network, final); err != nil {
		return err
	}
	m.mu.Lock()
	m.cursor = chain.Cursor{Height: m.state.Height, Hash: m.state.Hash}
	m.mu.Unlock()
	m.r.metrics.chainHeight.WithLabelValues(m.network).Set(float64(m.state.Height))
	lag := 0.0
	if m.tip > m.state.Height {
		lag = float64(m.tip - m.state.Height)
	}
	m.r.metrics.chainLag.WithLabelValues(m.network).Set(lag)
	return nil
}

// change is what a round sends an invoice about tracked payment t, the
// at-th of the monitor's state.
type change struct {
	t      *tracked
	at     int
	revert bool
	height uint64
	hash   string
	conf   int
}

// settle records in t (c's payment or a copy of it) that c was durably
// applied.
func (c change) settle(t *tracked) {
	t.Sent, t.SentHeight, t.SentHash, t.SentConf = true, c.height, c.hash, c.conf
	if c.revert {
		t.Sent = false
		t.Missing = -1 // marks it for removal by prune
	}
}

// settled encodes the state as it will be once the changes each hands to
// its settle are applied and the state pruned, without changing the
// state: the round computes it while the invoices work, and saves it only
// if every change was applied.
func (m *Monitor) settled(each func(settle func(change))) []byte {
	copies := make([]tracked, len(m.state.Pay))
	for i, t := range m.state.Pay {
		copies[i] = *t
	}
	each(func(c change) { c.settle(&copies[c.at]) })
	st := monitorState{Height: m.state.Height, Hash: m.state.Hash, Recent: m.state.Recent, Pay: make([]*tracked, 0, len(copies))}
	for i := range copies {
		if !m.forgets(&copies[i]) {
			st.Pay = append(st.Pay, &copies[i])
		}
	}
	return encodeState(st)
}

// answer is the error of an invoice's Reply to the i-th request of a
// round (nil: applied).
type answer struct {
	i   int
	err error
}

// await hands each of n answers to got as it comes, until all have come,
// the request timeout has passed or ctx has ended; it returns why the
// answers that did not come are missing.
func (m *Monitor) await(ctx context.Context, answers <-chan answer, n int, got func(int, error)) error {
	timeout := time.NewTimer(m.r.cfg.RequestTimeout)
	defer timeout.Stop()
	for ; n > 0; n-- {
		select {
		case a := <-answers:
			got(a.i, a.err)
		case <-timeout.C:
			return actor.ErrTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// prune forgets reverted payments and confirmed payments buried
// reorgMargin blocks beyond their required confirmations.
func (m *Monitor) prune() {
	kept := m.state.Pay[:0]
	for _, t := range m.state.Pay {
		if m.forgets(t) {
			delete(m.byKey, t.key())
			continue
		}
		kept = append(kept, t)
	}
	m.state.Pay = kept
}

// forgets reports whether prune drops t: reverted, or buried reorgMargin
// blocks beyond its required confirmations.
func (m *Monitor) forgets(t *tracked) bool {
	gone := t.Missing == -1
	deep := t.Height > 0 && t.Sent && t.SentHeight == t.Height &&
		m.state.Height-t.Height+1 >= uint64(m.required(t.Currency)+reorgMargin)
	return gone || deep
}

func (m *Monitor) required(currency string) int {
	if c, ok := m.r.cfg.Rules.Currencies.Lookup(currency); ok && c.Confirmations > 0 {
		return c.Confirmations
	}
	return 1
}
