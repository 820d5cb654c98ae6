package persistence

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2/batchrepr"
)

// A Group's batch is built in key order, on every CPU.
//
// Pebble commits a batch above its large-batch threshold (half a
// memtable) as a flushable batch, and to make one it sorts every record
// by key with sort.Sort on the committing goroutine before the commit
// pipeline (pebble's newFlushableBatch). A chain round's 10,000 payments
// are 170,000 records; that sort was the round's serial tail, one CPU busy
// and the others idle (docs/performance.md, "Block match, session 11").
// Go's sort is linear on records already in order, so the group orders
// them itself, as a sample sort: the key space is cut into ranges at keys
// of a sample of the members' records, each part of the members deals its
// records out to the ranges (on its own goroutine, after its checks), and
// each range is sorted and copied into its place in the batch on its own
// goroutine.
//
// The order changes nothing a reader sees: a batch is applied atomically,
// and records of one key (which members do not write today) keep their
// order, so the last one written still wins: a key's records all fall in
// one range, dealt out in member order, and the sort is stable.

// flushable reports whether the batches of ms make a batch Pebble takes
// as a flushable batch, which is worth building in key order; a smaller
// one goes into the memtable record by record, in any order.
func flushable(ms []*member) bool {
	size := 0
	for _, m := range ms {
		size += len(m.b.Repr())
	}
	return size >= memTableSize/2
}

// groupRec is one record of a member's batch.
type groupRec struct {
	rec    []byte // kind, key and value as a batch encodes them
	keyLen uint32
	keyOff uint8 // where the key starts in rec (after kind and length)
}

func (r *groupRec) key() []byte { return r.rec[r.keyOff : uint32(r.keyOff)+r.keyLen] }

// piece is the records of one part of a group that fall in one key range,
// in member order, and their size in bytes.
type piece struct {
	recs []groupRec
	size int
}

// splitKeys returns n-1 keys that cut the records of ms into n ranges of
// about the same number of records, judged from a sample of ms.
func splitKeys(ms []*member, n int) [][]byte {
	if n <= 1 {
		return nil
	}
	var sample []groupRec
	step := max(1, len(ms)/256)
	for i := 0; i < len(ms); i += step {
		sample, _ = appendRecords(sample, ms[i].b.Repr()) // a bad batch fails in deal
	}
	sortRecs(sample)
	splits := make([][]byte, 0, n-1)
	for j := 1; j < n && len(sample) > 0; j++ {
		splits = append(splits, sample[j*len(sample)/n].key())
	}
	return splits
}

// deal returns the records of the members in ms that passed their checks,
// a piece per key range that splits cut (len(splits)+1 pieces). A member
// whose batch cannot be read fails.
func deal(ms []*member, splits [][]byte) []piece {
	n := 0
	for _, m := range ms {
		if m.err == nil {
			n += int(m.b.Count())
		}
	}
	// The records are read twice, to count each range's records and then
	// to put them in place, rather than read once into a slice as long as
	// all the ranges together (5 MB for a chain round).
	ranges := make([]int32, 0, n)
	counts := make([]int, len(splits)+1)
	pieces := make([]piece, len(splits)+1)
	for _, m := range ms {
		if m.err != nil {
			continue
		}
		before := len(ranges)
		err := eachRecord(m.b.Repr(), func(r groupRec) {
			j := rangeOf(splits, r.key())
			ranges = append(ranges, int32(j))
			counts[j]++
		})
		if err != nil {
			m.err = fmt.Errorf("commit stream %s: %w", m.c.Stream, err)
			for _, j := range ranges[before:] {
				counts[j]--
			}
			ranges = ranges[:before]
		}
	}
	place(pieces, counts, len(ranges))
	i := 0
	for _, m := range ms {
		if m.err == nil {
			_ = eachRecord(m.b.Repr(), func(r groupRec) { // read above without error
				p := &pieces[ranges[i]]
				p.recs = append(p.recs, r)
				p.size += len(r.rec)
				i++
			})
		}
	}
	return pieces
}

// dealRecs deals recs out to the key ranges splits cut, keeping their
// order within a range.
func dealRecs(recs []groupRec, splits [][]byte) []piece {
	counts := make([]int, len(splits)+1)
	for i := range recs {
		counts[rangeOf(splits, recs[i].key())]++
	}
	pieces := make([]piece, len(splits)+1)
	place(pieces, counts, len(recs))
	for _, r := range recs {
		j := rangeOf(splits, r.key())
		pieces[j].recs = append(pieces[j].recs, r)
		pieces[j].size += len(r.rec)
	}
	return pieces
}

// place gives each piece room for counts[j] records, cut from one slice of
// n records.
func place(pieces []piece, counts []int, n int) {
	all := make([]groupRec, n)
	for j, c := range counts {
		pieces[j].recs, all = all[:0:c], all[c:]
	}
}

// rangeOf is the key range of key: the number of splits at or below it.
func rangeOf(splits [][]byte, key []byte) int {
	j, _ := slices.BinarySearchFunc(splits, key, func(split, key []byte) int {
		if bytes.Compare(split, key) <= 0 {
			return -1
		}
		return 1
	})
	return j
}

// appendRecords appends the records of a batch's representation to recs.
func appendRecords(recs []groupRec, repr []byte) ([]groupRec, error) {
	err := eachRecord(repr, func(r groupRec) { recs = append(recs, r) })
	return recs, err
}

// eachRecord calls f with each record of a batch's representation.
func eachRecord(repr []byte, f func(groupRec)) error {
	for r := batchrepr.Read(repr); len(r) > 0; {
		rec := []byte(r)
		_, key, _, ok, err := r.Next()
		if !ok {
			return err
		}
		rec = rec[:len(rec)-len(r)]
		f(groupRec{
			rec:    rec,
			keyOff: uint8(cap(rec) - cap(key)), // key is inside rec
			keyLen: uint32(len(key)),
		})
	}
	return nil
}

// sortedRepr returns a batch representation of count records holding the
// records of parts (each dealt out to the same key ranges) in key order:
// each range's pieces, in part order, are sorted and copied into the
// range's place on their own goroutine.
func sortedRepr(parts [][]piece, count uint32) []byte {
	ranges := len(parts[0])
	// starts[j] is where range j's records go.
	starts := make([]int, ranges+1)
	starts[0] = batchrepr.HeaderLen
	for j := range ranges {
		starts[j+1] = starts[j]
		for _, p := range parts {
			starts[j+1] += p[j].size
		}
	}
	repr := make([]byte, starts[ranges])
	batchrepr.SetCount(repr, count)
	inParallel(ranges, func(j int) {
		n := 0
		for _, p := range parts {
			n += len(p[j].recs)
		}
		recs := make([]groupRec, 0, n)
		for _, p := range parts {
			recs = append(recs, p[j].recs...)
		}
		sortRecs(recs)
		dst := repr[starts[j]:starts[j+1]]
		for _, r := range recs {
			dst = dst[copy(dst, r.rec):]
		}
	})
	return repr
}

// sortRecs sorts recs by key, records of one key in their order, with a
// most-significant-byte radix sort: the keys of a group share long
// prefixes (a project's index rows agree on their first 20 bytes and
// more), which a comparison sort compares again at every step, while a
// radix pass reads one byte per record and skips the bytes every key of a
// bucket shares. On a chain round's records it took a third of the time of
// slices.SortFunc. The distribution is stable, so records of one key keep
// their order in recs.
func sortRecs(recs []groupRec) {
	sortRecsFrom(recs, make([]groupRec, len(recs)), make([]uint16, len(recs)), 0)
}

// sortRecsFrom sorts recs, whose keys agree on their first depth bytes,
// using scratch and buckets (each as long as recs).
func sortRecsFrom(recs, scratch []groupRec, buckets []uint16, depth int) {
	for len(recs) > 24 {
		// Bucket 0 holds the keys that end at depth: they sort first.
		var counts [257]int
		for i := range recs {
			b := bucket(&recs[i], depth)
			buckets[i] = b
			counts[b]++
		}
		if b := buckets[0]; b != 0 && counts[b] == len(recs) {
			// one bucket: skip what every key shares
			depth += sharedPrefix(recs, depth)
			continue
		}
		var starts [258]int
		for b := range counts {
			starts[b+1] = starts[b] + counts[b]
		}
		next := starts
		for i, b := range buckets[:len(recs)] {
			scratch[next[b]] = recs[i]
			next[b]++
		}
		copy(recs, scratch)
		// Bucket 0's keys are equal (all end at depth): already in order.
		last := 0
		for b := 1; b < len(counts); b++ {
			if counts[b] > 1 {
				last = b
			}
		}
		for b := 1; b < last; b++ {
			if counts[b] > 1 {
				lo, hi := starts[b], starts[b+1]
				sortRecsFrom(recs[lo:hi], scratch[lo:hi], buckets[lo:hi], depth+1)
			}
		}
		if last == 0 {
			return
		}
		lo, hi := starts[last], starts[last+1]
		recs, scratch, buckets, depth = recs[lo:hi], scratch[lo:hi], buckets[lo:hi], depth+1
	}
	// insertion sort: stable, and quick for a few records
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && bytes.Compare(recs[j-1].key()[depth:], recs[j].key()[depth:]) > 0; j-- {
			recs[j-1], recs[j] = recs[j], recs[j-1]
		}
	}
}

// bucket is r's bucket at depth: 0 if its key ends before depth, else the
// key's byte there plus one.
func bucket(r *groupRec, depth int) uint16 {
	if depth >= int(r.keyLen) {
		return 0
	}
	return uint16(r.rec[int(r.keyOff)+depth]) + 1
}

// sharedPrefix is the number of bytes from depth on that every key of
// recs (at least one) has in common.
func sharedPrefix(recs []groupRec, depth int) int {
	first := recs[0].key()[depth:]
	n := len(first)
	for i := 1; i < len(recs) && n > 0; i++ {
		k := recs[i].key()[depth:]
		n = min(n, len(k))
		if bytes.Equal(k[:n], first[:n]) {
			continue
		}
		for j := range n {
			if k[j] != first[j] {
				n = j
				break
			}
		}
	}
	return n
}
