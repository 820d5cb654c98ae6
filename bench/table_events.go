package bench

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

// writeEvents writes a block of figures per event scenario.
func writeEvents(b *strings.Builder, results []Result) error {
	for _, r := range results {
		if !r.Event() {
			continue
		}
		b.WriteString("\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		kv := func(k, format string, args ...any) {
			fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, args...)...)
		}
		perItem := func(k string, l Latency, note string) {
			kv(k, "p50 %s  p90 %s  p99 %s  max %s  (%s)", fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P99), fmtMs(l.Max), note)
		}
		switch {
		case r.Payments != nil:
			p := r.Payments
			warm := "each invoice's actor activated by its payment (a create spawns none)"
			if p.Cold {
				warm = "no invoice actor in memory before paying (-cold)"
			}
			fmt.Fprintf(b, "payments on the %s: %d block(s) × %d outputs paying invoices exactly, %d watched addresses (%d more invoices unpaid), %s\n",
				p.Chain, p.Blocks, p.BlockOutputs, p.WatchedAddresses, p.ExtraWatched, warm)
			kv("payments matched/s", "%.0f  (%s payments over the blocks' mine → all completed times)", p.MatchedPerSecond, count(r.Requests))
			kv("mine → all completed", "%s  (per block, from Mine returning)", msList(p.BlockToAllCompletedMs))
			perItem("block → completed", p.BlockToCompleted, fmt.Sprintf("per invoice; /metrics sampled every %s", fmtMs(p.SampleIntervalMs)))
			kv("block → dispatched", "%s  (per block: updated_at, the time the monitor round dispatched the block's payments)", msList(p.BlockToDispatchMs))
			kv("seen in mempool first", "%d  (new → pending before their block, while paying took %s)", p.SeenInMempool, msList(p.PayMs))
			kv("Mine itself", "%s  (dev chain: writes its file; litecoind: generatetoaddress; not counted)", msList(p.MineMs))
			kv("setup", "%.1fs  (creating the invoices)", p.SetupS)
		case r.Expiry != nil:
			e := r.Expiry
			fmt.Fprintf(b, "expiry: %d invoices expiring at the same instant (server clock moved past expires_at; expiry scan every %gs)\n", e.Invoices, e.ExpiryIntervalS)
			kv("all expired after", "%s  (from the clock jump; first after %s)", fmtMs(e.AllExpiredMs), fmtMs(e.FirstExpiredMs))
			kv("expired/s", "%.0f over the whole wait, %.0f after the first", r.Throughput, e.ExpiredPerSecond)
			perItem("clock → expired", r.Latency, fmt.Sprintf("per invoice; /metrics sampled every %s", fmtMs(e.SampleIntervalMs)))
			kv("setup", "%.1fs  (creating the invoices)", e.SetupS)
		case r.Restart != nil:
			x := r.Restart
			fmt.Fprintf(b, "restart: %d invoices, %.0f MB on disk, same data dir\n", x.Invoices, x.StoreMB)
			kv("shutdown", "%s", fmtMs(x.ShutdownMs))
			kv("listening", "%s  (from calling server.Start)", fmtMs(x.StartMs))
			kv("time to ready", "%s  (first /readyz 200)", fmtMs(x.TimeToReadyMs))
			kv("first GET", "%s  (first 200 GET of an invoice created before)", fmtMs(x.FirstGetMs))
			kv("server's RSS", "%.0f MB before (actors passivated), %.0f MB once ready again  (VmRSS less the %.0f MB left after shutdown)", x.ServerBeforeMB, x.ServerAfterMB, x.RSSAfterShutdownMB)
			kv("VmRSS", "%.0f MB before, %.0f MB after shutdown, %.0f MB ready  (client and servers in one process; each after GC)", x.RSSBeforeMB, x.RSSAfterShutdownMB, x.RSSAfterMB)
			kv("peak VmRSS", "%.0f MB  (VmHWM of the whole run, setup load included)", x.PeakRSSMB)
			kv("Go heap in use", "%.0f MB, %.0f MB, %.0f MB", x.HeapBeforeMB, x.HeapAfterShutdownMB, x.HeapAfterMB)
			kv("setup", "%.1fs  (creating the invoices)", x.SetupS)
		case r.Webhooks != nil:
			w := r.Webhooks
			fmt.Fprintf(b, "webhooks: %d invoices cancelled by PATCH, one status_changed webhook each, to a sink on loopback answering 200\n", w.Invoices)
			kv("deliveries/s", "%.0f  (%s delivered, first PATCH → last delivery %.2fs)", w.DeliveriesPerSecond, count(w.Delivered), w.LastDeliveryS)
			perItem("PATCH → delivered", w.CreateToDelivered, "per webhook, from sending the PATCH that commits it")
			kv("PATCH", "%.0f/s  (%.2fs for all)", w.PatchPerSecond, w.PatchS)
			kv("duplicates", "%d", w.Duplicates)
			kv("setup", "%.1fs  (creating the invoices)", w.SetupS)
		case r.Storm != nil:
			st := r.Storm
			fmt.Fprintf(b, "storm: %d invoices expiring at one instant, their webhooks to a %s receiver; creates measured beside the quiet phase\n", st.Invoices, st.Receiver)
			kv("create ratio", "%.2f  (worst window %.0f/s, quiet %.0f/s)", st.CreateRatio, r.Throughput, st.Quiet.Creates)
			kv("p99 ratio", "%.2f  (quiet p99 %s)", st.P99Ratio, fmtMs(st.Quiet.P99Ms))
			kv("RSS growth", "%.0f MB  (client and server in one process)", st.RSSGrowthMB)
			for _, w := range st.Windows {
				kv(fmt.Sprintf("  +%.0fs", w.AtS), "%.0f creates/s, p99 %s, RSS %.0f MB, webhook backlog %.0f, expired %.0f", w.Creates, fmtMs(w.P99Ms), w.RSSMB, w.Backlog, w.Expired)
			}
			perItem("healthy webhooks", st.HealthyToDelivered, fmt.Sprintf("another project's, PATCH → delivered, %d of %d", st.HealthyDelivered, st.HealthySent))
			kv("setup", "%.1fs  (creating the invoices)", st.SetupS)
		default:
			fmt.Fprintf(b, "%s: no figures\n", r.Name)
		}
		kv("errors", "%d", r.Errors)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// msList formats milliseconds as a list: "1.32s 1.41s".
func msList(vs []float64) string {
	if len(vs) == 0 {
		return "-"
	}
	if len(vs) > 6 {
		sorted := slices.Clone(vs)
		slices.Sort(sorted)
		return fmt.Sprintf("min %s  median %s  max %s  (of %d)", fmtMs(sorted[0]), fmtMs(sorted[len(sorted)/2]), fmtMs(sorted[len(sorted)-1]), len(vs))
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmtMs(v)
	}
	return strings.Join(parts, " ")
}

func count(n int64) string { return fmt.Sprintf("%d", n) }
