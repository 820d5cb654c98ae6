package persistence

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/google/uuid"
)

// Keyspace. Every key starts with one prefix byte naming its record family;
// this file is the only place that builds keys, so the table below is the
// whole on-disk layout. u64 is a big-endian uint64, so numeric order is byte
// order. str(s) is one length byte followed by the bytes of s, so a string in
// the middle of a key can never run into the next field ("BTC" vs "BTCX").
//
//	prefix  record            key                                              value
//	------  ----------------  -----------------------------------------------  -------------------------------------------
//	0x01    stream head       0x01 stream(16) 0x00                             u64 current version
//	0x01    stream event      0x01 stream(16) 0x01 u64(version)                opaque event
//	0x01    stream snapshot   0x01 stream(16) 0x02                             u64 version, opaque snapshot (latest only)
//	0x02    claim order_id    0x02 0x01 project(16) order_id                   caller's value
//	0x02    claim idem. key   0x02 0x02 project(16) idempotency_key            caller's value
//	0x02    claim address     0x02 0x03 str(currency) address                  invoice(16)
//	0x02    claim proj. name  0x02 0x04 account(16) name                       project(16)
//	0x03    derivation index  0x03 str(currency) u64(index)                    address
//	0x04    list index        0x04 family(1) project(16) [str(status)]         empty for created_at families,
//	                            [str(currency)] sortvalue invoice(16)          else u64 created_at nanos str(currency)
//	0x05    list total        0x05 project(16) mask(1) [str(status)]           not written since index layout 3, which
//	                            [str(currency)]                                deletes them (totals are in memory)
//	0x06    account           0x06 account(16)                                 record (format byte + JSON)
//	0x07    account key hash  0x07 sha256(32)                                  account(16)
//	0x08    project           0x08 project(16)                                 record (format byte + JSON)
//	0x09    project key hash  0x09 sha256(32)                                  project(16)
//	0x0A    expiry schedule   0x0A u64(expires_at nanos) invoice(16)           empty
//	0x0B    watch list        0x0B str(currency) address                       invoice(16) u64(until nanos, 0 = open)
//	0x0C    chain state       0x0C network                                     opaque (the chain monitor's cursor record)
//	0x0D    outbox record     0x0D invoice(16) u64(seq) 0x00                   format 0x01, uvarint(len(header)), header JSON, body
//	0x0D    outbox state      0x0D invoice(16) u64(seq) 0x01                   format 0x01, JSON delivery state
//	0x0E    outbox due        0x0E u64(at nanos) invoice(16) u64(seq)          empty
//	0x0F    outbox counter    0x0F kind(1)                                     int64 big-endian, summed by counterMerger
//	0x10    meta              0x10 kind(1)                                     0x01 index layout: u64 (see upgrade.go)
//	0x11    audit event       0x11 owner(16) u64(at nanos) event(16)           record (format byte + JSON)
//	0x12    created counter   0x12 project(16) mask(1) [str(status)]           int64 big-endian, summed by counterMerger
//	                            [str(currency)] shift(1) u64(bucket)
//
// Outbox records and their delivery states share one prefix per invoice, so
// one iterator reads an invoice's whole webhook queue in order (seq is the
// stream version of the event the webhook reports). Every pending state has
// exactly one due key, at its next attempt time; delivered and dead ones have
// none. Outbox counter kinds: 0x01 backlog (pending records), 0x02 dead
// letters.
//
// Account and project records list their live keys (hash, id, prefix,
// expiry); a key hash index entry (0x07, 0x09) is written with its key and
// never deleted, also when the key expires or is revoked and leaves the
// record: a hash is never indexed twice, so a retired key cannot be reused
// or revived (a bootstrap account key that was rolled is refused, not
// recreated as a new account). Authentication goes by the record's keys.
// Audit events of one project or account (owner) are in time order.
//
// Stream records share one prefix so Load reads head, snapshot and events
// through one iterator, i.e. one consistent view. The claim kind byte is the
// ClaimKind value; the last field of a claim key is unbounded because nothing
// follows it.
//
// List index families: family = SortField<<2 | mask, where mask bit 0 means
// the key carries str(status) and bit 1 str(currency). Ten of the sixteen
// are written (see hasFamily): created_at with every mask, the other sorts
// without and with status; every list query is one contiguous range of one
// project, filtered by the value when its sort has no currency family.
// sortvalue is:
//
//	created_at, updated_at  u64(nanos ^ 1<<63); negative nanos are clamped to 0
//	fiat, crypto amount     0x00 when absent (nil), else 0x01 len(1) big-endian magnitude
//
// big.Int.Bytes has no leading zeros, so a shorter magnitude is a smaller
// number and the length byte keeps the order; absent sorts before zero.
// Every sortvalue encoding is prefix-free, so the trailing invoice id breaks
// ties in id order in both directions.
//
// Created counters use the same mask, for all invoices, per status, per
// currency and per status+currency, split by creation time at each shift
// of createdShifts: bucket = created nanos >> shift, so a created range is
// counted from O(levels × fan-out) counters and the index keys of two
// partial finest buckets (see createdCount). The store mirrors every
// created counter in memory (see counterCache); the coarsest buckets of a
// filter add up to its total, so a filter without a created range reads
// no key for its total.
const (
	prefixStream        byte = 0x01
	prefixClaim         byte = 0x02
	prefixDerivation    byte = 0x03
	prefixIndex         byte = 0x04
	prefixCounter       byte = 0x05
	prefixAccount       byte = 0x06
	prefixAccountKey    byte = 0x07
	prefixProject       byte = 0x08
	prefixProjectKey    byte = 0x09
	prefixExpiry        byte = 0x0A
	prefixWatch         byte = 0x0B
	prefixChain         byte = 0x0C
	prefixOutbox        byte = 0x0D
	prefixOutboxDue     byte = 0x0E
	prefixOutboxCounter byte = 0x0F
	prefixMeta          byte = 0x10
	prefixAudit         byte = 0x11
	prefixCreated       byte = 0x12
)

// Sub-records of an outbox entry.
const (
	outboxRecordTag byte = 0x00
	outboxStateTag  byte = 0x01
)

// Outbox counter kinds.
const (
	outboxBacklog byte = 0x01
	outboxDead    byte = 0x02
)

// Sub-records of a stream, in key order: head sorts before the events and
// the snapshot after them.
const (
	streamHead     byte = 0x00
	streamEvent    byte = 0x01
	streamSnapshot byte = 0x02
)

// Filter mask bits of index families and counters.
const (
	maskStatus   byte = 1 << 0
	maskCurrency byte = 1 << 1
	numMasks          = 4
	numFamilies       = 4 * numMasks
)

// maxString is the longest status, currency or other string a key can embed
// with a one-byte length.
const maxString = 255

// streamKeyLen is the length of a stream's head and snapshot keys.
const streamKeyLen = 1 + 16 + 1

func streamKey(stream uuid.UUID, tag byte) []byte {
	k := make([]byte, 0, 1+16+1+8)
	k = append(k, prefixStream)
	k = append(k, stream[:]...)
	return append(k, tag)
}

func eventKey(stream uuid.UUID, version uint64) []byte {
	return binary.BigEndian.AppendUint64(streamKey(stream, streamEvent), version)
}

// eventVersion reads the version from an event key.
func eventVersion(key []byte) uint64 {
	return binary.BigEndian.Uint64(key[len(key)-8:])
}

func claimKey(kind ClaimKind, scope []byte, name string) []byte {
	k := make([]byte, 0, 2+len(scope)+len(name))
	k = append(k, prefixClaim, byte(kind))
	k = append(k, scope...)
	return append(k, name...)
}

// appendStr appends s with its one-byte length; callers check the length
// with checkString first.
func appendStr(k []byte, s string) []byte {
	k = append(k, byte(len(s)))
	return append(k, s...)
}

func checkString(what, s string) error {
	if len(s) > maxString {
		return fmt.Errorf("%s is %d bytes, more than %d: %w", what, len(s), maxString, ErrInvalidArgument)
	}
	return nil
}

func derivationPrefix(currency string) []byte {
	return appendStr([]byte{prefixDerivation}, currency)
}

func derivationKey(currency string, index uint64) []byte {
	return binary.BigEndian.AppendUint64(derivationPrefix(currency), index)
}

func addressClaimScope(currency string) []byte {
	return appendStr(nil, currency)
}

func accountKey(id uuid.UUID) []byte      { return append([]byte{prefixAccount}, id[:]...) }
func accountHashKey(h [32]byte) []byte    { return append([]byte{prefixAccountKey}, h[:]...) }
func projectKey(id uuid.UUID) []byte      { return append([]byte{prefixProject}, id[:]...) }
func projectHashKey(h [32]byte) []byte    { return append([]byte{prefixProjectKey}, h[:]...) }
func projectNameScope(a uuid.UUID) []byte { return a[:] }
func auditPrefix(owner uuid.UUID) []byte  { return append([]byte{prefixAudit}, owner[:]...) }

func auditKey(owner uuid.UUID, at int64, id uuid.UUID) []byte {
	k := binary.BigEndian.AppendUint64(auditPrefix(owner), uint64(clampNanos(at)))
	return append(k, id[:]...)
}

func outboxPrefix(invoice uuid.UUID) []byte {
	k := make([]byte, 0, 1+16+8+1)
	k = append(k, prefixOutbox)
	return append(k, invoice[:]...)
}

func outboxKey(invoice uuid.UUID, seq uint64, tag byte) []byte {
	return append(binary.BigEndian.AppendUint64(outboxPrefix(invoice), seq), tag)
}

func outboxDueKey(at int64, invoice uuid.UUID, seq uint64) []byte {
	k := make([]byte, 0, 1+8+16+8)
	k = append(k, prefixOutboxDue)
	k = binary.BigEndian.AppendUint64(k, uint64(clampNanos(at)))
	k = append(k, invoice[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func outboxCounterKey(kind byte) []byte { return []byte{prefixOutboxCounter, kind} }

// family names the index family of a sort field and filter mask.
func family(sort SortField, mask byte) byte { return byte(sort)<<2 | mask }

// hasFamily reports whether family f is written. Every filter combination
// has its own family for the created_at sort (the default and by far the
// most used); the other sorts have families for no filter and for a status
// filter only, and a currency filter scans those and skips other
// currencies by the index value. That keeps 10 families instead of 16:
// a create writes 10 index keys, a status change rewrites 6 instead of 10.
func hasFamily(f byte) bool {
	return SortField(f>>2) == SortCreatedAt || f&maskCurrency == 0
}

// appendFilter appends the filter strings the mask selects; index keys and
// counter keys share this encoding.
func appendFilter(k []byte, mask byte, status, currency string) []byte {
	if mask&maskStatus != 0 {
		k = appendStr(k, status)
	}
	if mask&maskCurrency != 0 {
		k = appendStr(k, currency)
	}
	return k
}

// indexPrefix is the range of one family of one project with the given
// filter values. Its capacity leaves room for a typical sortvalue and the
// invoice id that complete an index key.
func indexPrefix(sort SortField, mask byte, project uuid.UUID, status, currency string) []byte {
	return appendIndexPrefix(make([]byte, 0, 2+16+2+len(status)+len(currency)+40+16), sort, mask, project, status, currency)
}

// appendIndexPrefix appends indexPrefix to k, so a row's keys in every
// family can share one allocation (see indexEntries).
func appendIndexPrefix(k []byte, sort SortField, mask byte, project uuid.UUID, status, currency string) []byte {
	k = append(k, prefixIndex, family(sort, mask))
	k = append(k, project[:]...)
	return appendFilter(k, mask, status, currency)
}

// createdShifts are the bucket widths of the created counters, coarsest
// first: 2^48 ns (3.3 days), 2^38 ns (4.6 minutes), 2^28 ns (268 ms). A
// fan-out of 1,024 per level bounds a range count at about a thousand
// counters per level and side, while the finest bucket bounds the index
// keys counted one by one to those created in two 268 ms windows. Every
// create merges into one counter per shift and filter mask.
var createdShifts = [...]byte{48, 38, 28}

// createdPrefix is the range of one filter combination's created counters
// of one shift.
func createdPrefix(project uuid.UUID, mask byte, status, currency string, shift byte) []byte {
	return appendCreatedPrefix(make([]byte, 0, createdKeyLen(status, currency)), project, mask, status, currency, shift)
}

// appendCreatedPrefix appends createdPrefix to k, so a commit's created
// counter keys can share one allocation (see appendCounters).
func appendCreatedPrefix(k []byte, project uuid.UUID, mask byte, status, currency string, shift byte) []byte {
	k = append(k, prefixCreated)
	k = append(k, project[:]...)
	k = append(k, mask)
	k = appendFilter(k, mask, status, currency)
	return append(k, shift)
}

// createdKeyLen is the most a created counter key of status and currency
// takes.
func createdKeyLen(status, currency string) int {
	return 1 + 16 + 1 + 2 + len(status) + len(currency) + 1 + 8
}

func createdKey(project uuid.UUID, mask byte, status, currency string, shift byte, bucket uint64) []byte {
	return binary.BigEndian.AppendUint64(createdPrefix(project, mask, status, currency, shift), bucket)
}

// invoiceFromIndexKey reads the invoice id that ends every index key.
func invoiceFromIndexKey(key []byte) uuid.UUID {
	var id uuid.UUID
	copy(id[:], key[len(key)-16:])
	return id
}

// clampNanos keeps timestamps non-negative, as IndexRow documents.
func clampNanos(n int64) int64 { return max(n, 0) }

func appendTime(k []byte, nanos int64) []byte {
	return binary.BigEndian.AppendUint64(k, uint64(clampNanos(nanos))^(1<<63))
}

const (
	amountAbsent  byte = 0x00
	amountPresent byte = 0x01
)

func appendAmount(k []byte, a *big.Int) ([]byte, error) {
	if a == nil {
		return append(k, amountAbsent), nil
	}
	if a.Sign() < 0 {
		return nil, fmt.Errorf("amount %s is negative: %w", a, ErrInvalidArgument)
	}
	n := (a.BitLen() + 7) / 8
	if n > maxString {
		return nil, fmt.Errorf("amount has %d bytes, more than %d: %w", n, maxString, ErrInvalidArgument)
	}
	k = append(k, amountPresent, byte(n))
	start := len(k)
	k = append(k, make([]byte, n)...)
	a.FillBytes(k[start:])
	return k, nil
}

// familyEnd returns the end of the key family key belongs to: its prefix
// byte's range, or for claims and list indexes the range of its claim kind or
// index family. nil means no end (key is empty or all 0xff).
func familyEnd(key []byte) []byte {
	n := min(len(key), 1)
	if n == 1 && (key[0] == prefixClaim || key[0] == prefixIndex) {
		n = min(len(key), 2)
	}
	return prefixEnd(key[:n])
}

// prefixEnd returns the smallest key greater than every key starting with
// p, or nil (no upper bound) if p is all 0xff.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
