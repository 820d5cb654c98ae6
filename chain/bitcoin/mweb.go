package bitcoin

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/wire/v2"
)

// Litecoin's MWEB (MimbleWimble extension blocks, LIP 2 and 3) changes the
// serialization in two places, and only there, as Litecoin Core 0.21.2
// shows on regtest (chain/bitcoin/testdata has the captured blocks):
//
//  1. A transaction's segwit flag byte gains bit 3 (mwebFlag). After the
//     witnesses, before the lock time, comes an optional MWEB transaction:
//     0x00 for none, or 0x01 and the MWEB data. In a block only the HogEx
//     (the integrating transaction, last in the block) has the bit, with no
//     MWEB data; peg-in transactions are stored in the block without their
//     MWEB part. In the mempool the bit marks every transaction with an
//     MWEB part: a peg-in (canonical inputs and a witness v9 output), or an
//     MWEB-only transaction (no canonical input or output: a transfer inside
//     MWEB, or a peg-out, whose canonical output is created by the next
//     block's HogEx).
//  2. After the last transaction a block carries its extension block: 0x01
//     and the MWEB block. A block before activation has nothing there.
//
// The canonical transaction id is the hash of version, inputs, outputs and
// lock time, MWEB data excluded, as for segwit. So the decoder here does not
// parse MWEB data at all: it finds where a transaction's canonical part
// ends, rebuilds the plain Bitcoin serialization and lets wire decode that.
// An MWEB-only transaction has nothing to report and an id of another kind
// (the MWEB transaction's hash), so it is skipped. This keeps the one raw
// decoder for BTC and LTC (a few microseconds per transaction, where the
// node's verbose JSON would cost it and us an order of magnitude more) and
// depends only on the framing above, not on the MWEB data's format.
const mwebFlag = 0x08

// segwitMarker is the byte after the version that says a flag byte follows;
// witnessFlag is the flag bit of segwit's witnesses.
const (
	segwitMarker = 0x00
	witnessFlag  = 0x01
)

// errMWEBOnly is a transaction without canonical inputs or outputs.
var errMWEBOnly = errors.New("MWEB-only transaction")

// readTxMWEB decodes the transaction at r's position in raw (r reads raw),
// which may carry Litecoin's MWEB flag. In a block (inBlock) the MWEB part
// must be empty and the transaction ends at its lock time; a standalone
// transaction is the rest of raw, its lock time the last 4 bytes. A
// transaction without the flag is decoded by wire as it stands.
func readTxMWEB(raw []byte, r *bytes.Reader, inBlock bool) (*wire.MsgTx, error) {
	pos := len(raw) - r.Len()
	var tx wire.MsgTx
	if len(raw)-pos < 6 || raw[pos+4] != segwitMarker || raw[pos+5]&mwebFlag == 0 {
		if err := tx.Deserialize(r); err != nil {
			return nil, err
		}
		return &tx, nil
	}
	plain, n, err := stripMWEB(raw[pos:], inBlock)
	if err != nil {
		return nil, err
	}
	if _, err := r.Seek(int64(pos+n), io.SeekStart); err != nil {
		return nil, err
	}
	pr := bytes.NewReader(plain)
	if err := tx.Deserialize(pr); err != nil {
		return nil, err
	}
	if pr.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the canonical transaction", pr.Len())
	}
	return &tx, nil
}

// stripMWEB returns the Bitcoin serialization of the MWEB-flagged
// transaction at the start of raw (the MWEB bit and data removed, the
// marker too when no witness remains) and how many bytes of raw it took.
func stripMWEB(raw []byte, inBlock bool) (plain []byte, n int, err error) {
	flags := raw[5]
	if flags&^(mwebFlag|witnessFlag) != 0 {
		return nil, 0, fmt.Errorf("unknown transaction flags %#x", flags)
	}
	s := scanner{b: raw, pos: 6}
	nIn := s.count()
	for i := uint64(0); i < nIn && s.err == nil; i++ {
		s.skip(36) // outpoint
		s.skip(int(s.count()))
		s.skip(4) // sequence
	}
	nOut := s.count()
	for i := uint64(0); i < nOut && s.err == nil; i++ {
		s.skip(8) // value
		s.skip(int(s.count()))
	}
	if nIn == 0 && nOut == 0 && s.err == nil {
		return nil, 0, errMWEBOnly
	}
	bodyEnd := s.pos
	if flags&witnessFlag != 0 {
		for i := uint64(0); i < nIn && s.err == nil; i++ {
			items := s.count()
			for j := uint64(0); j < items && s.err == nil; j++ {
				s.skip(int(s.count()))
			}
		}
	}
	witnessEnd := s.pos
	var lockTime []byte
	if inBlock {
		if s.err == nil && (s.pos >= len(raw) || raw[s.pos] != 0x00) {
			return nil, 0, errors.New("transaction in a block carries MWEB data")
		}
		s.skip(1)
		lockTime = s.take(4)
		n = s.pos
	} else {
		if s.err == nil && len(raw)-4 < s.pos {
			s.err = errors.New("no lock time after the MWEB part")
		}
		if s.err == nil {
			lockTime = raw[len(raw)-4:]
			n = len(raw)
		}
	}
	if s.err != nil {
		return nil, 0, fmt.Errorf("MWEB transaction: %w", s.err)
	}
	plain = make([]byte, 0, witnessEnd+4)
	plain = append(plain, raw[:4]...) // version
	if flags&witnessFlag != 0 {
		plain = append(plain, segwitMarker, witnessFlag)
		plain = append(plain, raw[6:witnessEnd]...)
	} else {
		plain = append(plain, raw[6:bodyEnd]...)
	}
	plain = append(plain, lockTime...)
	return plain, n, nil
}

// scanner walks a serialization by its length prefixes; the first error
// sticks and makes every later step a no-op.
type scanner struct {
	b   []byte
	pos int
	err error
}

func (s *scanner) count() uint64 {
	if s.err != nil {
		return 0
	}
	r := bytes.NewReader(s.b[s.pos:])
	v, err := wire.ReadVarInt(r, 0)
	if err != nil {
		s.err = fmt.Errorf("at byte %d: %w", s.pos, err)
		return 0
	}
	if v > uint64(len(s.b)) {
		s.err = fmt.Errorf("at byte %d: count %d exceeds the %d bytes", s.pos, v, len(s.b))
		return 0
	}
	s.pos += len(s.b[s.pos:]) - r.Len()
	return v
}

func (s *scanner) skip(n int) { s.take(n) }

func (s *scanner) take(n int) []byte {
	if s.err != nil {
		return nil
	}
	if n < 0 || len(s.b)-s.pos < n {
		s.err = fmt.Errorf("at byte %d: want %d bytes, %d left", s.pos, n, len(s.b)-s.pos)
		return nil
	}
	b := s.b[s.pos : s.pos+n]
	s.pos += n
	return b
}

// readBlockMWEB decodes a Litecoin block into msg: the header, the
// transactions (readTxMWEB), then the extension block, skipped.
func readBlockMWEB(raw []byte, r *bytes.Reader, msg *wire.MsgBlock) error {
	if err := msg.Header.Deserialize(r); err != nil {
		return err
	}
	count, err := wire.ReadVarInt(r, 0)
	if err != nil {
		return err
	}
	// The smallest transaction is 10 bytes: never allocate for more.
	if count > uint64(r.Len())/10 {
		return fmt.Errorf("%d transactions cannot fit in %d bytes", count, r.Len())
	}
	msg.Transactions = make([]*wire.MsgTx, 0, count)
	for i := uint64(0); i < count; i++ {
		tx, err := readTxMWEB(raw, r, true)
		if err != nil {
			return fmt.Errorf("transaction %d: %w", i, err)
		}
		msg.Transactions = append(msg.Transactions, tx)
	}
	return skipExtensionBlock(r)
}

// skipExtensionBlock accepts what follows a Litecoin block's transactions:
// nothing (before MWEB activation) or an extension block (0x01 and its
// data, which the monitor has no use for: MWEB outputs have no address a
// deposit could use).
func skipExtensionBlock(r *bytes.Reader) error {
	if r.Len() == 0 {
		return nil
	}
	b, _ := r.ReadByte()
	if b != 0x01 {
		return fmt.Errorf("%d bytes after the last transaction, not an MWEB extension block", r.Len()+1)
	}
	_, err := r.Seek(0, io.SeekEnd)
	return err
}
