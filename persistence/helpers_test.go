package persistence

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"
)

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newStore(t testing.TB) *Store { return openStore(t, t.TempDir()) }

// kv is one visible key/value of the database.
type kv struct{ k, v string }

// dump reads every visible key and value (merged counters included) but
// the meta records Open writes, so a test can assert that a failed
// operation wrote nothing at all.
func dump(t testing.TB, s *Store) []kv {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []kv
	for ok := it.First(); ok; ok = it.Next() {
		if it.Key()[0] == prefixMeta {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kv{string(it.Key()), string(v)})
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDump(a, b []kv) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// row builds an index row; fiat < 0 means no fiat amount.
func row(project, invoice uuid.UUID, status, currency string, created int64, fiat int64) *IndexRow {
	r := &IndexRow{
		ProjectID: project, InvoiceID: invoice, Status: status, Currency: currency,
		CreatedAt: created, UpdatedAt: created, Crypto: big.NewInt(1000),
	}
	if fiat >= 0 {
		r.Fiat = big.NewInt(fiat)
	}
	return r
}

// create commits a new stream with one event, a snapshot holding the
// invoice id (so List results can be read back as ids) and the row.
func create(t testing.TB, s *Store, r *IndexRow, claims ...Claim) {
	t.Helper()
	_, err := s.Commit(Commit{
		Stream:          r.InvoiceID,
		Events:          [][]byte{[]byte("created")},
		Snapshot:        r.InvoiceID[:],
		New:             r,
		Claims:          claims,
		ExpectedVersion: 0,
	})
	if err != nil {
		t.Fatalf("create %s: %v", r.InvoiceID, err)
	}
}

func ids(t testing.TB, states []State) []uuid.UUID {
	t.Helper()
	out := make([]uuid.UUID, len(states))
	for i, st := range states {
		s := st.Snapshot
		id, err := uuid.FromBytes(s)
		if err != nil {
			t.Fatalf("snapshot %d is not an id: %x", i, s)
		}
		out[i] = id
	}
	return out
}

// counterValue reads a counter from Pebble (folding its merge operands)
// and checks that the in-memory mirror List uses agrees with it.
func counterValue(t testing.TB, s *Store, project uuid.UUID, mask byte, status, currency string) int64 {
	t.Helper()
	n, err := count(s.db, project, mask, status, currency)
	if err != nil {
		t.Fatal(err)
	}
	if cached := s.counts.total(project, mask, status, currency); cached != n {
		t.Fatalf("counter mirror says %d, Pebble %d", cached, n)
	}
	return n
}

// count reads one total through r: the sum of its created counters of the
// coarsest shift.
func count(r reader, project uuid.UUID, mask byte, status, currency string) (int64, error) {
	prefix := createdPrefix(project, mask, status, currency, createdShifts[0])
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, err
	}
	var sum int64
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, errors.Join(err, it.Close())
		}
		n, err := decodeCount(v)
		if err != nil {
			return 0, errors.Join(err, it.Close())
		}
		sum += n
	}
	return sum, errors.Join(it.Error(), it.Close())
}

func mustGet(t testing.TB, db *pebble.DB, key []byte) []byte {
	t.Helper()
	v, c, err := db.Get(key)
	if err != nil {
		t.Fatalf("get %x: %v", key, err)
	}
	defer c.Close()
	return bytes.Clone(v)
}

func evs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "event-%d", i)
	}
	return out
}

// withFiat returns a copy of r with its fiat amount replaced.
func withFiat(r *IndexRow, cents int64) *IndexRow {
	c := *r
	c.Fiat = big.NewInt(cents)
	return &c
}

func errorsIsInvalid(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// randomAmount returns a uniformly random amount of up to bits bits.
func randomAmount(rng *rand.Rand, bits int) *big.Int {
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return new(big.Int).Rsh(new(big.Int).SetBytes(b), uint(len(b)*8-bits))
}

// powerLoss simulates a power cut under s: it keeps only what fs had
// synced, closes s and returns the store reopened from that state (closed
// when the test ends).
func powerLoss(t *testing.T, fs *vfs.MemFS, s *Store) *Store {
	t.Helper()
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := Open("db", Options{FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
