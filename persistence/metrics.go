package persistence

import (
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// StatusTotals returns the number of invoices per status across all
// projects, summed from the in-memory mirror of the per-project status
// counters (no invoice, and no Pebble key, is read).
func (s *Store) StatusTotals() (map[string]int64, error) {
	out := map[string]int64{}
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	for k, series := range s.counts.series {
		// project(16) mask(1) str(status), see seriesKey
		if len(k) < 18 || k[16] != maskStatus || int(k[17]) != len(k)-18 {
			continue
		}
		out[k[18:]] += series.total
	}
	return out, nil
}

// Collector exposes the store's health to Prometheus: commit and WAL fsync latency,
// compactions, disk usage, read amplification, and invoices by status. It
// reads pebble.Metrics at scrape time, so it costs nothing between scrapes.
func (s *Store) Collector() prometheus.Collector { return storeCollector{s} }

type storeCollector struct{ s *Store }

var (
	descFsync = prometheus.NewDesc("invoiced_pebble_wal_fsync_duration_seconds",
		"Latency of Pebble's WAL fsyncs.", nil, nil)
	descCompactions = prometheus.NewDesc("invoiced_pebble_compactions_total",
		"Compactions Pebble has run.", nil, nil)
	descBackground = prometheus.NewDesc("invoiced_pebble_background_jobs",
		"Pebble flushes and compactions running now, by kind.", []string{"kind"}, nil)
	descDebt = prometheus.NewDesc("invoiced_pebble_compaction_debt_bytes",
		"Bytes Pebble estimates it must compact to bring the LSM back into shape; growing debt means writes outpace compactions.", nil, nil)
	descDisk = prometheus.NewDesc("invoiced_pebble_disk_usage_bytes",
		"Disk space used by the store (sstables, WAL, blobs).", nil, nil)
	descReadAmp = prometheus.NewDesc("invoiced_pebble_read_amplification",
		"Pebble read amplification: the L0 depth (L0Depth) plus the non-empty levels below.", nil, nil)
	descMemtable = prometheus.NewDesc("invoiced_pebble_memtable_bytes",
		"Bytes allocated by Pebble's memtables.", nil, nil)
	descStatus = prometheus.NewDesc("invoiced_invoices",
		"Invoices by status, all projects.", []string{"status"}, nil)
	descScrapeErr = prometheus.NewDesc("invoiced_store_scrape_errors",
		"1 if the last scrape could not read the store's counters.", nil, nil)
)

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	c.s.commitLatency.Describe(ch)
	c.s.combiner.commits.Describe(ch)
	for _, d := range []*prometheus.Desc{descFsync, descCompactions, descBackground, descDebt, descDisk, descReadAmp, descMemtable, descStatus, descScrapeErr} {
		ch <- d
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.commitLatency.Collect(ch)
	c.s.combiner.commits.Collect(ch)
	m := c.s.db.Metrics()
	if h := m.LogWriter.FsyncLatency; h != nil {
		if metric, err := toSeconds(h); err == nil {
			ch <- metric
		}
	}
	ch <- prometheus.MustNewConstMetric(descCompactions, prometheus.CounterValue, float64(m.Compact.Count))
	ch <- prometheus.MustNewConstMetric(descBackground, prometheus.GaugeValue, float64(m.Flush.NumInProgress), "flush")
	ch <- prometheus.MustNewConstMetric(descBackground, prometheus.GaugeValue, float64(m.Compact.NumInProgress), "compaction")
	ch <- prometheus.MustNewConstMetric(descDebt, prometheus.GaugeValue, float64(m.Compact.EstimatedDebt))
	ch <- prometheus.MustNewConstMetric(descDisk, prometheus.GaugeValue, float64(m.DiskSpaceUsage()))
	ch <- prometheus.MustNewConstMetric(descReadAmp, prometheus.GaugeValue, float64(readAmp(m)))
	ch <- prometheus.MustNewConstMetric(descMemtable, prometheus.GaugeValue, float64(m.MemTable.Size))
	totals, err := c.s.StatusTotals()
	failed := 0.0
	if err != nil {
		failed = 1
	}
	for status, n := range totals {
		ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, float64(n), status)
	}
	ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, failed)
}

// L0Depth is the most L0 tables any one key is in, less those being
// compacted: what slows reads and brings a write stall near. Pebble
// publishes it only inside L0's fill factor, 2 × depth ÷ the compaction
// threshold (or L0's file count ÷ 500 when that is more). L0's sublevel
// count is not it: each table holds one key family (familySpans), and
// tables that each overlap the one before stack into more sublevels than
// any key has tables (BenchmarkWriteAmp's store at rest: 7 to 17
// sublevels while Pebble saw nothing to compact, a depth of 3 at most).
func L0Depth(m *pebble.Metrics) int {
	return int(math.Round(m.Levels[0].FillFactor * l0CompactionThreshold / 2))
}

// readAmp is how many tables a point read may consult: L0's depth and one
// per non-empty level below.
func readAmp(m *pebble.Metrics) int {
	n := L0Depth(m)
	for _, l := range m.Levels[1:] {
		if l.TablesCount > 0 {
			n++
		}
	}
	return n
}

// toSeconds re-exports Pebble's fsync histogram (observed in nanoseconds)
// under our name in seconds, the Prometheus base unit.
func toSeconds(h prometheus.Histogram) (prometheus.Metric, error) {
	var d dto.Metric
	if err := h.Write(&d); err != nil || d.Histogram == nil {
		return nil, fmt.Errorf("read fsync histogram: %v", err)
	}
	scale := float64(time.Second)
	buckets := make(map[float64]uint64, len(d.Histogram.Bucket))
	for _, b := range d.Histogram.Bucket {
		buckets[b.GetUpperBound()/scale] = b.GetCumulativeCount()
	}
	return prometheus.NewConstHistogram(descFsync, d.Histogram.GetSampleCount(), d.Histogram.GetSampleSum()/scale, buckets)
}
