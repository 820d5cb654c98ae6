package persistence

import (
	"bufio"
	"flag"
	"os"
	"testing"

	"github.com/google/uuid"
)

// loadStore and loadIDs name a store written by the server (its data
// directory's store/) and a file of its invoice ids, one a line, for
// BenchmarkLoadStored: bench/wrk/ratio.sh seeds such a store through the
// API and keeps the ids it created.
var (
	loadStore = flag.String("load-store", "", "store directory for BenchmarkLoadStored (a copy: opening it may compact it)")
	loadIDs   = flag.String("load-ids", "", "file of stream ids, one a line, that BenchmarkLoadStored loads round-robin")
	loadCache = flag.Int64("load-cache-mb", 0, "block cache of BenchmarkLoadStored's store in MiB (0: the default)")
)

// BenchmarkLoadStored loads the streams of -load-ids round-robin from the
// store in -load-store, the way a GET that misses the caches does, and
// reports the block cache's hits and misses per load: what a load costs in
// a store as the server shaped it (levels, L0 files spanning the keyspace),
// which a bulk fill does not reproduce.
func BenchmarkLoadStored(b *testing.B) {
	if *loadStore == "" || *loadIDs == "" {
		b.Skip("needs -load-store and -load-ids")
	}
	f, err := os.Open(*loadIDs)
	if err != nil {
		b.Fatal(err)
	}
	var ids []uuid.UUID
	for sc := bufio.NewScanner(f); sc.Scan(); {
		ids = append(ids, uuid.MustParse(sc.Text()))
	}
	if err := f.Close(); err != nil || len(ids) == 0 {
		b.Fatalf("%s: %d ids, %v", *loadIDs, len(ids), err)
	}
	s, err := Open(*loadStore, Options{CacheBytes: *loadCache << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	b.ReportAllocs()
	before := s.db.Metrics().BlockCache
	i := 0
	for b.Loop() {
		if snap, _, events, err := s.Load(ids[i%len(ids)]); err != nil || snap == nil && len(events) == 0 {
			b.Fatalf("load %s: %d events, %v", ids[i%len(ids)], len(events), err)
		}
		i++
	}
	after := s.db.Metrics().BlockCache
	b.ReportMetric(float64(after.Hits-before.Hits)/float64(i), "block-hits/op")
	b.ReportMetric(float64(after.Misses-before.Misses)/float64(i), "block-misses/op")
}
