package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// eventCurrencies rotate over the expiry and webhooks scenarios' invoices.
var eventCurrencies = [...]string{"BTC", "LTC", "ETH", "USDT"}

// serverExpiryInterval is the server's default expiry scan interval, which
// the scenario keeps: what operators run.
const serverExpiryInterval = time.Second

// runExpiry creates ExpiryInvoices invoices with expire_min 1 while the
// server's clock (Config.Now) stands still, so they all expire at the same
// instant, then moves the clock a second past it and waits until /metrics
// shows them all expired (invoiced_invoices{status="expired"}).
func runExpiry(ctx context.Context, x *eventRun) (Result, error) {
	ev := x.ev
	clock := &benchClock{}
	t0 := time.Now().Truncate(time.Second)
	clock.freeze(t0)
	cfg := x.serverConfig("expiry")
	cfg.Clock, cfg.ExpiryInterval = clock, serverExpiryInterval
	s, err := x.startServer(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	defer s.stop()
	prefix := "exp-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	_, took, err := x.createInvoices(ctx, "expiry", s.baseURL, s.projectKey, ev.ExpiryInvoices, func(i int) []byte {
		return eventBody(prefix+strconv.Itoa(i), eventCurrencies[i%len(eventCurrencies)], "0.01", 1, "")
	})
	if err != nil {
		return Result{}, err
	}
	fig := &ExpiryFigures{Invoices: ev.ExpiryInvoices, SetupS: took.Seconds(), ExpiryIntervalS: serverExpiryInterval.Seconds(), SampleIntervalMs: ms(sampleInterval)}
	res := Result{Name: "expiry", Unit: "expiries", Expiry: fig}
	poll := newClient(1, x.cfg.Timeout)
	defer poll.CloseIdleConnections()
	expired := func(m metricsSample) float64 { return m.sum("invoiced_invoices", `status="expired"`) }
	m0, err := scrape(ctx, poll, s.baseURL)
	if err != nil {
		return Result{}, err
	}
	base := expired(m0)
	if base != 0 {
		return Result{}, fmt.Errorf("expiry: %.0f invoices expired before the clock moved", base)
	}

	// Every invoice expires at t0+1m; the clock jumps a second past that
	// and runs on from there.
	cpu0 := processCPU()
	moved := time.Now()
	clock.run(t0.Add(time.Minute + time.Second))
	target := base + float64(ev.ExpiryInvoices)
	cv, err := waitCount(ctx, poll, s.baseURL, moved, base, target, ev.Settle, expired, func(el time.Duration, v float64) {
		x.logf("expiry   %5.1fs %6.0f of %d expired", el.Seconds(), v, ev.ExpiryInvoices)
	})
	if err != nil {
		return Result{}, err
	}
	cpu := processCPU() - cpu0
	hist := NewHistogram()
	cv.record(hist)
	res.Requests = int64(cv.last() - base)
	all, ok := cv.reached(target)
	if !ok {
		all = cv.at[len(cv.at)-1]
		res.noteErrors("not expired", int64(ev.ExpiryInvoices)-res.Requests,
			fmt.Errorf("%d of %d invoices expired %v after the clock passed expires_at", res.Requests, ev.ExpiryInvoices, ev.Settle))
	}
	first, _ := cv.first()
	fig.FirstExpiredMs, fig.AllExpiredMs = ms(first), ms(all)
	if all > first {
		fig.ExpiredPerSecond = float64(res.Requests) / (all - first).Seconds()
	}
	res.ElapsedS = all.Seconds()
	if all > 0 {
		res.Throughput = float64(res.Requests) / all.Seconds()
		res.CPUCores = cpu.Seconds() / all.Seconds()
	}
	if cpu > 0 {
		res.PerCPUSecond = float64(res.Requests) / cpu.Seconds()
	}
	res.Latency = latencyOf(hist)
	res.Series = cv.series(0)
	x.logf("expiry   %d invoices expired %s after the clock passed expires_at (first after %s)", res.Requests, fmtMs(ms(all)), fmtMs(ms(first)))
	return res, nil
}
