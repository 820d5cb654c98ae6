package bench

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"
)

// paymentsCurrency is the dev chain the payments scenario pays on, unless
// Config.Litecoin names a litecoind (then LTC on it).
const paymentsCurrency = "BTC"

// runPayments creates BlockOutputs×Blocks invoices to pay and Watched more
// that stay unpaid, then for each block: pays BlockOutputs invoices exactly
// in the dev chain's mempool (or, with Config.Litecoin, with sendmany from
// the litecoind wallet), mines one block, and waits until /metrics counts
// every one of them completed.
//
// The payments reach the mempool one Pay at a time and the monitor wakes on
// each change, so it may read the mempool between the first Pay and Mine
// and see some of them unconfirmed first (counted in SeenInMempool); the
// rest it meets in the block. The measured time starts when Mine returns.
func runPayments(ctx context.Context, x *eventRun) (Result, error) {
	ev := x.ev
	cfg := x.serverConfig("payments")
	if ev.Cold {
		// Invoice actors passivate one second after their last message, so
		// the wait below ends with none in memory, as when a block comes
		// minutes after checkout.
		cfg.ActorIdle = time.Second
	}
	currency, chainName := paymentsCurrency, "dev chain"
	if x.cfg.Litecoin != nil {
		currency, chainName = "LTC", "litecoind"
		useLitecoin(&cfg, x.cfg.Litecoin)
	}
	s, err := x.startServer(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer s.stop()
	var chain payer
	if x.cfg.Litecoin != nil {
		need := big.NewInt(int64(ev.BlockOutputs*ev.Blocks+1) * 100_000 * 2) // 0.001 LTC each, and fees
		lp, err := newLTCPayer(ctx, x.cfg.Litecoin, need)
		if err != nil {
			return Result{}, fmt.Errorf("payments: %w", err)
		}
		chain = lp
	} else {
		dev := s.srv.DevChain(paymentsCurrency)
		if dev == nil {
			return Result{}, fmt.Errorf("payments: no %s dev chain", paymentsCurrency)
		}
		chain = devPayer{dev}
	}
	prefix := "pay-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	// Paid invoices first (a create spawns no actor; each payment
	// activates its invoice's).
	paid, took1, err := x.createInvoices(ctx, "payments", s.baseURL, s.projectKey, ev.BlockOutputs*ev.Blocks, func(i int) []byte {
		return eventBody(prefix+"p"+strconv.Itoa(i), currency, "0.001", 1440, "")
	})
	if err != nil {
		return Result{}, err
	}
	_, took2, err := x.createInvoices(ctx, "payments", s.baseURL, s.projectKey, ev.Watched, func(i int) []byte {
		return eventBody(prefix+"w"+strconv.Itoa(i), currency, "0.001", 1440, "")
	})
	if err != nil {
		return Result{}, err
	}
	fig := &PaymentsFigures{
		Blocks: ev.Blocks, BlockOutputs: ev.BlockOutputs, ExtraWatched: ev.Watched, Cold: ev.Cold,
		SetupS: (took1 + took2).Seconds(), SampleIntervalMs: ms(sampleInterval), Chain: chainName,
	}
	poll := newClient(1, x.cfg.Timeout)
	defer poll.CloseIdleConnections()
	m0, err := scrape(ctx, poll, s.baseURL)
	if err != nil {
		return Result{}, err
	}
	fig.WatchedAddresses = int64(m0.sum("invoiced_watched_addresses"))
	if ev.Cold {
		x.logf("payments waiting for the invoice actors to passivate")
		if err := waitPassivated(ctx, poll, s.baseURL, ev.Settle); err != nil {
			return Result{}, fmt.Errorf("payments: %w", err)
		}
	}

	res := Result{Name: "payments", Unit: "payments", Payments: fig}
	hist := NewHistogram()
	var measured time.Duration
	var cpu time.Duration
	completed := func(m metricsSample) float64 {
		return m.sum("invoiced_invoice_status_transitions_total", `to="completed"`)
	}
	for b := range ev.Blocks {
		batch := paid[b*ev.BlockOutputs : (b+1)*ev.BlockOutputs]
		before, err := scrape(ctx, poll, s.baseURL)
		if err != nil {
			return Result{}, err
		}
		base := completed(before)
		pending0 := before.sum("invoiced_invoice_status_transitions_total", `from="new"`, `to="pending"`)
		matched0 := before.sum("invoiced_chain_payments_matched_total")
		paying := time.Now()
		payErrors, err := chain.pay(ctx, batch)
		if payErrors > 0 {
			res.noteErrors("pay", int64(payErrors), err)
		}
		t0 := time.Now()
		fig.PayMs = append(fig.PayMs, ms(t0.Sub(paying)))
		if err := chain.mine(ctx); err != nil {
			return Result{}, fmt.Errorf("payments: mine: %w", err)
		}
		mined := time.Now()
		cpu0 := processCPU()
		fig.MineMs = append(fig.MineMs, ms(mined.Sub(t0)))
		want := base + float64(len(batch)-payErrors)
		label := fmt.Sprintf("block %d/%d", b+1, ev.Blocks)
		cv, err := waitCount(ctx, poll, s.baseURL, mined, base, want, ev.Settle, completed, func(el time.Duration, v float64) {
			x.logf("payments %s %5.1fs %6.0f of %d completed", label, el.Seconds(), v, len(batch))
		})
		if err != nil {
			return Result{}, err
		}
		cpu += processCPU() - cpu0
		cv.record(hist)
		done, ok := cv.reached(want)
		if !ok {
			done = cv.at[len(cv.at)-1]
		}
		measured += done
		got := int64(cv.last() - base)
		res.Requests += got
		if miss := int64(len(batch)-payErrors) - got; miss > 0 {
			res.noteErrors("not completed", miss, fmt.Errorf("block %d: %d of %d invoices completed %v after Mine", b+1, got, len(batch), ev.Settle))
		}
		fig.BlockToAllCompletedMs = append(fig.BlockToAllCompletedMs, ms(done))
		res.Series = append(res.Series, cv.series(measured-done)...)
		after, err := scrape(ctx, poll, s.baseURL)
		if err != nil {
			return Result{}, err
		}
		fig.SeenInMempool += int64(after.sum("invoiced_invoice_status_transitions_total", `from="new"`, `to="pending"`) - pending0)
		fig.Matched += int64(after.sum("invoiced_chain_payments_matched_total") - matched0)
		if d, err := dispatchDelay(ctx, x, s, mined, batch); err != nil {
			res.noteErrors("check", 1, err)
		} else {
			fig.BlockToDispatchMs = append(fig.BlockToDispatchMs, d)
		}
		x.logf("payments %s: %d payments completed %s after Mine (Mine took %s)", label, got, fmtMs(ms(done)), fmtMs(ms(mined.Sub(t0))))
	}
	res.ElapsedS = measured.Seconds()
	if measured > 0 {
		res.Throughput = float64(res.Requests) / measured.Seconds()
		res.CPUCores = cpu.Seconds() / measured.Seconds()
	}
	if cpu > 0 {
		res.PerCPUSecond = float64(res.Requests) / cpu.Seconds()
	}
	fig.MatchedPerSecond = res.Throughput
	res.Latency = latencyOf(hist)
	fig.BlockToCompleted = res.Latency
	return res, nil
}

// dispatchDelay checks that the first, middle and last invoice of a block
// are completed and returns the largest updated_at after mined (when Mine
// returned, the block became visible), in milliseconds. Every invoice a
// monitor round applies gets the round's time, so this is when the round
// that applied the block began its dispatch.
func dispatchDelay(ctx context.Context, x *eventRun, s *scenarioServer, mined time.Time, batch []created) (float64, error) {
	var worst time.Duration
	for _, i := range []int{0, len(batch) / 2, len(batch) - 1} {
		var inv struct {
			Status    string    `json:"status"`
			UpdatedAt time.Time `json:"updated_at"`
		}
		if err := callJSON(ctx, x.client, http.MethodGet, s.baseURL+"/api/v1/invoices/"+batch[i].ID, s.projectKey, nil, &inv); err != nil {
			return 0, err
		}
		if inv.Status != "completed" {
			return 0, fmt.Errorf("invoice %s is %s after its block, want completed", batch[i].ID, inv.Status)
		}
		worst = max(worst, inv.UpdatedAt.Sub(mined))
	}
	return ms(worst), nil
}

// noteErrors counts n errors of kind, keeping the first message.
func (r *Result) noteErrors(kind string, n int64, err error) {
	if r.ErrorsByStatus == nil {
		r.ErrorsByStatus, r.ErrorSamples = map[string]int64{}, map[string]string{}
	}
	r.Errors += n
	r.ErrorsByStatus[kind] += n
	if _, ok := r.ErrorSamples[kind]; !ok {
		r.ErrorSamples[kind] = err.Error()
	}
}

// waitPassivated waits until /metrics shows no invoice actor in memory
// (invoiced_actors_live{kind="invoice"}).
func waitPassivated(ctx context.Context, poll *http.Client, baseURL string, settle time.Duration) error {
	live := func(m metricsSample) float64 { return -m.sum("invoiced_actors_live", `kind="invoice"`) }
	cv, err := waitCount(ctx, poll, baseURL, time.Now(), 0, 0, settle, live, nil)
	if err != nil {
		return err
	}
	if cv.last() < 0 {
		return fmt.Errorf("%.0f invoice actors still live after %v", -cv.last(), settle)
	}
	return nil
}
