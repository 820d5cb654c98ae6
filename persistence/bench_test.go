package persistence

import (
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// createCommit is a realistic invoice create: one ~400-byte event, a
// ~600-byte snapshot, a new index row, an order_id claim and an address
// claim.
func createCommit(project uuid.UUID, n uint64, rng *rand.Rand) Commit {
	id := uuid.New()
	r := &IndexRow{
		ProjectID: project, InvoiceID: id,
		Status: testStatuses[rng.IntN(len(testStatuses))], Currency: testCurrencies[rng.IntN(len(testCurrencies))],
		CreatedAt: int64(n) * 1_000_000, UpdatedAt: int64(n) * 1_000_000,
		Fiat:   big.NewInt(int64(rng.IntN(1_000_000))),
		Crypto: new(big.Int).Mul(big.NewInt(int64(rng.IntN(1_000_000))), big.NewInt(1_000_000_000_000)),
	}
	return Commit{
		Stream:   id,
		Events:   [][]byte{make([]byte, 400)},
		Snapshot: append(id[:], make([]byte, 584)...),
		New:      r,
		Claims: []Claim{
			OrderIDClaim(project, fmt.Sprintf("order-%d", n), id[:]),
			AddressClaim("BTC", n, fmt.Sprintf("bc1qbench%d", n), id),
		},
	}
}

func BenchmarkCommitCreateSync(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := newStore(b)
		project := uuid.New()
		rng := rand.New(rand.NewPCG(1, 1))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Commit(createCommit(project, uint64(i), rng)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A store that has run a while: a create's claim checks miss through
	// several L0 files and the levels below (see openDeepStore).
	b.Run("deep", func(b *testing.B) {
		s, project := openDeepStore(b)
		rng := rand.New(rand.NewPCG(1, 1))
		l0 := s.db.Metrics().Levels[0].TablesCount
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Commit(createCommit(project, uint64(deepInvoices+deepL0Files*deepL0Invoices+1+i), rng)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(l0), "L0-files")
	})
	// Many concurrent writers, as many HTTP requests would be: Pebble
	// groups their fsyncs, so throughput rises while each stays synced.
	b.Run("parallel", func(b *testing.B) {
		s := newStore(b)
		project := uuid.New()
		var n atomic.Uint64
		b.SetParallelism(16)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(n.Add(1<<40), 2))
			for pb.Next() {
				if _, err := s.Commit(createCommit(project, n.Add(1), rng)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// listSizes are the project sizes BenchmarkList runs at; a million
// invoices take a few minutes to write and about 1.5 GB of disk.
var listSizes = flag.String("list-sizes", "10000", "comma-separated project sizes for BenchmarkList, e.g. 10000,1000000")

// bulkFill writes n invoices of project the way Commit writes them (same
// keys and counters, created 1 ms apart) in unsynced batches of 1,000, then
// flushes (settleStore waits for the compactions): a large project in minutes rather than hours of fsyncs.
func bulkFill(b *testing.B, s *Store, project uuid.UUID, n int) { bulkFillRange(b, s, project, 1, n) }

// bulkFillRange is bulkFill of invoices first to last (numbering their
// claims and creation times).
func bulkFillRange(b *testing.B, s *Store, project uuid.UUID, first, last int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(3, uint64(first)))
	batch := s.db.NewBatch()
	for i := first; i <= last; i++ {
		c := createCommit(project, uint64(i), rng)
		c.Snapshot = nil // no snapshot at creation, as the invoice actors write
		deltas := counterDeltas(nil, c.New)
		if err := fillCommitBatch(batch, c, 1); err != nil {
			b.Fatal(err)
		}
		if err := mergeCounts(batch, deltas); err != nil {
			b.Fatal(err)
		}
		s.counts.apply(deltas)
		for _, cl := range c.Claims {
			s.claims.add(cl.key) // as Commit does (claimFilter's invariant 1)
		}
		if i%1000 == 0 || i == last {
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := batch.Close(); err != nil {
		b.Fatal(err)
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
}

// settleStore waits for the compactions a fill started (until L0 is below
// the store's compaction threshold, l0CompactionThreshold sublevels), as a store that grew
// over weeks would have run them: reads through a backlog of L0 files are
// not what the benchmark is after.
func settleStore(b *testing.B, s *Store) {
	b.Helper()
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		m := s.db.Metrics()
		if m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 && m.Levels[0].Sublevels < l0CompactionThreshold {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("store still compacting after 10 minutes")
		}
	}
}

// deepStore, when set, keeps the store BenchmarkCommitCreateSync/deep
// starts from across runs, so a run under valgrind measures commits on a
// store the fill built outside it.
var deepStore = flag.String("deep-store", "", "directory keeping BenchmarkCommitCreateSync/deep's starting store across runs (default: built in a temp dir)")

// The deep store: deepInvoices invoices settled into L5 and L6, then
// deepL0Files flushes of deepL0Invoices each, every one an L0 file
// spanning the keyspace. Pebble compacts L0 from 4 sublevels on here (its
// score reads 0.5 at 2), so 3 is as deep as L0 stays between compactions.
const deepInvoices, deepL0Files, deepL0Invoices = 200_000, 3, 2_000

// openDeepStore opens a copy of the deep store, built first if need be.
func openDeepStore(b *testing.B) (*Store, uuid.UUID) {
	project := uuid.NewSHA1(uuid.Nil, []byte("deep"))
	src := *deepStore
	if src == "" {
		src = filepath.Join(b.TempDir(), "deep")
	}
	if _, err := os.Stat(filepath.Join(src, "filled")); err != nil {
		s, err := Open(src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		bulkFill(b, s, project, deepInvoices)
		settleStore(b, s)
		for f := range deepL0Files {
			first := deepInvoices + f*deepL0Invoices + 1
			bulkFillRange(b, s, project, first, first+deepL0Invoices-1)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "filled"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	dst := filepath.Join(b.TempDir(), "db")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		b.Fatal(err)
	}
	return openStore(b, dst), project
}

// listDir, when set, keeps BenchmarkList's stores (one per size) across
// runs, so a run under valgrind measures List on a store the fill built
// outside it.
var listDir = flag.String("list-dir", "", "directory keeping BenchmarkList's stores across runs (default: a fresh temp dir)")

// listStore opens the store of size invoices, filled unless -list-dir
// already has it; its project id is fixed by the size.
func listStore(b *testing.B, size int) (*Store, uuid.UUID) {
	project := uuid.NewSHA1(uuid.Nil, fmt.Appendf(nil, "list-%d", size))
	if *listDir == "" {
		s := newStore(b)
		bulkFill(b, s, project, size)
		settleStore(b, s)
		return s, project
	}
	dir := filepath.Join(*listDir, fmt.Sprint(size))
	marker := filepath.Join(dir, "filled")
	_, err := os.Stat(marker)
	filled := err == nil
	s := openStore(b, dir)
	if !filled {
		bulkFill(b, s, project, size)
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	settleStore(b, s)
	return s, project
}

// BenchmarkList reads one page of 20 at each size of -list-sizes, for every
// kind of query the API allows; ns/op should not grow with the size.
func BenchmarkList(b *testing.B) {
	queries := []struct {
		name string
		q    Query
	}{
		{"created_desc", Query{SortBy: SortCreatedAt, Desc: true}},
		{"status_currency_fiat_asc", Query{Status: "pending", Currency: "ETH", SortBy: SortFiatAmount}},
		{"created_range_sorted_by_created", Query{CreatedAfter: 2_000_000_000, CreatedBefore: 8_000_000_000, SortBy: SortCreatedAt}},
		{"created_after_sorted_by_created_desc", Query{CreatedAfter: 1_000_000, SortBy: SortCreatedAt, Desc: true}},
		{"created_after_status_currency", Query{CreatedAfter: 1_000_000, Status: "new", Currency: "BTC", SortBy: SortCreatedAt, Desc: true}},
		{"created_range_sorted_by_crypto", Query{CreatedAfter: 2_000_000_000, CreatedBefore: 8_000_000_000, SortBy: SortCryptoAmount, Desc: true}},
		{"page_3_updated", Query{SortBy: SortUpdatedAt, Offset: 40}},
		{"offset_9000_created_desc", Query{SortBy: SortCreatedAt, Desc: true, Offset: 9000}},
		{"offset_9000_crypto_asc", Query{SortBy: SortCryptoAmount, Offset: 9000}},
	}
	for _, f := range strings.Split(*listSizes, ",") {
		size, err := strconv.Atoi(f)
		if err != nil {
			b.Fatalf("-list-sizes: %v", err)
		}
		b.Run(fmt.Sprintf("invoices=%d", size), func(b *testing.B) {
			s, project := listStore(b, size)
			// "_known": every invoice's rendering is known (ListKnown), as
			// for the API's pages once its render cache is warm
			knowAll := func(uuid.UUID, uint64) bool { return true }
			for _, tc := range queries {
				for _, known := range []func(uuid.UUID, uint64) bool{nil, knowAll} {
					name := tc.name
					if known != nil {
						name += "_known"
					}
					b.Run(name, func(b *testing.B) {
						q := tc.q
						q.ProjectID, q.Limit = project, 20
						b.ReportAllocs()
						for b.Loop() {
							snaps, total, err := s.ListKnown(q, known)
							if err != nil || len(snaps) != 20 || total == 0 {
								b.Fatalf("%d items, total %d, %v", len(snaps), total, err)
							}
						}
					})
				}
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	s := newStore(b)
	project := uuid.New()
	rng := rand.New(rand.NewPCG(5, 5))
	c := createCommit(project, 1, rng)
	if _, err := s.Commit(c); err != nil {
		b.Fatal(err)
	}
	// a snapshot followed by three later events, the usual activation
	if _, err := s.Commit(Commit{Stream: c.Stream, ExpectedVersion: 1, Events: [][]byte{make([]byte, 300), make([]byte, 300), make([]byte, 300)}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, _, events, err := s.Load(c.Stream)
		if err != nil || snap == nil || len(events) != 3 {
			b.Fatalf("load: %v", err)
		}
	}
}

// BenchmarkCounterDeltas is the created-counter work of one invoice
// create, which every Commit pays before it takes its locks.
func BenchmarkCounterDeltas(b *testing.B) {
	c := createCommit(uuid.New(), 1, rand.New(rand.NewPCG(1, 1)))
	b.ReportAllocs()
	for b.Loop() {
		if len(counterDeltas(nil, c.New)) == 0 {
			b.Fatal("no deltas")
		}
	}
}

// BenchmarkLoadClaimFilter is what Open adds to build the claim filter of
// a store of 500,000 invoices (1,000,000 claims: an order id and an
// address each); B/op is the transient heap (the hashes, then the
// filter), filter-B what stays.
func BenchmarkLoadClaimFilter(b *testing.B) {
	s, _ := listStore(b, 500_000)
	var f *claimFilter
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if f, err = loadClaimFilter(s.db); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(f.bytes()), "filter-B")
}
