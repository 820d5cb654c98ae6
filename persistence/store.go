// Package persistence is invoiced's durable state on Pebble: per-invoice
// event streams with optimistic versions and snapshots, uniqueness claims,
// secondary indexes and counters for list queries, and account and project
// records.
//
// Durability: every write a method reports as successful was committed with
// pebble.Sync, so it survives a crash or power loss. Atomicity: everything
// one Commit writes (events, snapshot, index rows, counter deltas, claims)
// is one Pebble batch, visible all at once or not at all. Concurrent commits
// check in parallel, waiting on each other only for the stripe locks of the
// keys they share, and are written together as one synced batch.
//
// The package stores events and snapshots as opaque bytes and imports no
// other package of this module.
package persistence

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures Open. The zero value works.
type Options struct {
	// FS is the filesystem; nil means vfs.Default. Tests pass vfs.NewMem,
	// vfs.NewCrashableMem or an errorfs.
	FS vfs.FS
	// Logger receives Pebble's own log lines; nil discards them.
	Logger *slog.Logger
	// CacheBytes is the block cache size; 0 means DefaultCacheBytes.
	CacheBytes int64
	// OnFatal is called when Pebble cannot go on (a failed WAL write or
	// fsync, corruption): the write that failed may be visible in memory
	// without being durable, so serving on would answer from state the
	// disk does not have. It must not return; nil logs and exits the
	// process with status 70 so a supervisor restarts it from the WAL.
	// Tests pass a hook that records the call and panics.
	OnFatal func(msg string)
	// ReadOnly opens the store for reading only: the WAL is replayed into
	// memory, nothing is flushed or compacted, and writes fail. A store
	// written by a build older than the index layout does not open so
	// (the upgrade writes).
	ReadOnly bool
	// Clock schedules a Group's wait (nil = the wall clock); tests move
	// it. The server passes its one configured clock.
	Clock Clock
}

// Clock is the part of the server's clock (internal/clock.Clock) the store
// waits on; declared here so the package imports none of the module's.
type Clock interface {
	// After delivers the time once d has passed; the caller may abandon
	// the channel.
	After(d time.Duration) <-chan time.Time
}

// wallClock is the Clock of a store opened without one.
type wallClock struct{}

func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// exitOnFatal is the default OnFatal.
func exitOnFatal(msg string) {
	fmt.Fprintln(os.Stderr, "invoiced: storage failure, stopping:", msg)
	os.Exit(70)
}

// DefaultCacheBytes is the block cache's default size (and that of
// INVOICED_BLOCK_CACHE_MB). The cache fills from reads, so it is part of
// the memory a storm adds (expiries and webhooks read what creates only
// wrote): with 64 MiB a storm grew RSS by 131–162 MB, with 48 by 120–141
// and with 32 by 118–131, against issue 14's bound of 150 MB; gets at
// 1,000,000 invoices held their 10,000-invoice rate with 64 and 48 MiB
// (1.00×, 1.01×) but not with 32 (0.78×). docs/performance.md, "End of
// session 11".
const DefaultCacheBytes = 48 << 20

// l0CompactionThreshold is the number of L0 sublevels that starts a
// compaction (see Open).
const l0CompactionThreshold = 8

// Store is the invoiced database. It is safe for concurrent use.
type Store struct {
	db      *pebble.DB
	stripes stripes
	log     *slog.Logger
	// outboxSignal has room for one signal; see OutboxSignal.
	outboxSignal chan struct{}
	onFatal      func(msg string)
	clock        Clock // schedules Group waits
	// counts mirrors the list counters (see counterCache).
	counts counterCache
	// claims is the negative filter over the claim keys (see claimFilter).
	claims *claimFilter
	// combiner writes concurrent Commits' batches as one (see combiner).
	combiner combiner
	// commitLatency observes every Commit, checks and fsync included.
	commitLatency prometheus.Histogram
}

// memTableSize is the size of Pebble's memtables (see Open). A batch of
// half that or more goes to Pebble as a flushable batch (its
// largeBatchThreshold), which a Group builds in key order (groupbatch.go).
const memTableSize = 16 << 20

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cacheBytes := opts.CacheBytes
	if cacheBytes <= 0 {
		cacheBytes = DefaultCacheBytes
	}
	cache := pebble.NewCache(cacheBytes)
	// The DB takes its own reference; ours is dropped once Open returns.
	defer cache.Unref()

	onFatal := opts.OnFatal
	if onFatal == nil {
		onFatal = exitOnFatal
	}
	lg := pebbleLogger{log: log.With("component", "pebble"), onFatal: onFatal}
	po := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		Merger:             counterMerger,
		Logger:             lg,
		LoggerAndTracer:    lg,
		FormatMajorVersion: pebble.FormatNewest,
		ReadOnly:           opts.ReadOnly,
	}
	// Claim checks and stream heads are point Gets that mostly miss; bloom
	// filters answer those without reading data blocks. Lower levels
	// inherit L0's policy.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// Write amplification. Every commit writes into ~20 separate key ranges
	// (streams, 10 list-index families, claims, schedules) that each grow
	// at their own end, so an L0 file spans the whole keyspace and each
	// L0->Lbase compaction rewrites most of Lbase. Larger memtables and
	// more L0 files per compaction make each rewrite carry more new data;
	// 32 MiB memtables were slower again (bigger flushes stall more
	// writers). Letting L0 collect 16 files and writing 8 MiB L0 files cut
	// compaction CPU in BenchmarkWriteAmp but cost durable creates 5–18 %
	// more CPU each under wrk (more L0 files for every claim's point read),
	// so it was not kept. Measurements: docs/performance.md.
	po.MemTableSize = memTableSize
	po.L0CompactionThreshold = l0CompactionThreshold
	po.L0StopWritesThreshold = 3 * l0CompactionThreshold
	// Each table holds one key family (familySpans). A table spanning
	// the new tails of two families overlaps every older table of the
	// second one in the level below, so each compaction rewrote the whole
	// of those families there, a cost that grew with the store (compaction
	// B per create in BenchmarkWriteAmp: 371 at 50,000 invoices,
	// 1,053-1,611 at 200,000, 2,240 at 500,000). Cut to one family, a
	// table of a family that grows at its end overlaps only that family's
	// last table below, or none and moves down whole (614-665 B at
	// 200,000, 1,113 at 500,000; expiries 24-66 % fewer bytes); what is
	// still rewritten is what is written at random (address claims, watch
	// rows) or in the middle (expiries' status changes). L0's depth is no
	// longer its sublevel count (see L0Depth). Measurements:
	// docs/performance.md, "Compaction and store size, session 12".
	po.Experimental.SpanPolicyFunc = familySpans

	db, err := pebble.Open(dir, po)
	if err != nil {
		if locked(err) {
			err = fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return nil, fmt.Errorf("open store %s: %w", dir, err)
	}
	s := &Store{db: db, log: log, outboxSignal: make(chan struct{}, 1), onFatal: onFatal, clock: opts.Clock,
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "invoiced_pebble_commit_duration_seconds", Help: "Latency of one synced invoice commit: checks, batch and fsync.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100 µs .. 3.3 s
		})}
	if s.clock == nil {
		s.clock = wallClock{}
	}
	s.combiner.commits = newCommitsPerWrite()
	s.stripes.init()
	if err := upgradeIndexes(db); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if err := s.counts.load(db); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	// After the upgrade, which may write: the filter holds every claim key
	// the store holds before it serves a write.
	claims, err := loadClaimFilter(db)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	s.claims = claims
	return s, nil
}

// familySpans ends every table Pebble writes at a key family's end (see
// familyEnd).
func familySpans(start []byte) (pebble.SpanPolicy, []byte, error) {
	return pebble.SpanPolicy{}, familyEnd(start), nil
}

// Close flushes nothing extra (every acknowledged write is already synced)
// and releases the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// DB exposes the Pebble database for metrics and checkpoints. Writing
// through it bypasses the invariants this package keeps.
func (s *Store) DB() *pebble.DB { return s.db }

// syncWrite is the only write option this package uses.
var syncWrite = pebble.Sync

// get returns a copy of the value at key, or ErrNotFound.
func (s *Store) get(key []byte) ([]byte, error) {
	return getFrom(s.db, key)
}

// reader is what pebble.DB and pebble.Snapshot share for reads.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func getFrom(r reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

// exists reports whether key is present.
func (s *Store) exists(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, closer.Close()
}

// locked reports whether pebble.Open failed on the directory lock: the
// fcntl lock another process holds (EAGAIN; EACCES is left out, as it is
// also what an unreadable directory gives), or Pebble's own table of
// directories this process has locked, which answers with a plain error
// of this text (vfs/file_lock_unix.go).
func locked(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || strings.Contains(err.Error(), "lock held by current process")
}
