package bitcoin

import (
	"math/big"

	"github.com/btcsuite/btcd/address/v2/bech32"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/invoiced/invoiced/chain"
)

// rbfSequenceLimit is BIP125's bound: an input with a lower sequence number
// signals that its transaction may be replaced.
const rbfSequenceLimit = 0xfffffffe

// signalsRBF reports whether tx itself signals replaceability (BIP125).
func signalsRBF(tx *wire.MsgTx) bool {
	for _, in := range tx.TxIn {
		if in.Sequence < rbfSequenceLimit {
			return true
		}
	}
	return false
}

// appendOutputs appends to dst an Output for every output of tx that pays
// a standard address.
func appendOutputs(dst []chain.Output, tx *wire.MsgTx, txid string, rbf bool, currency string, params *chaincfg.Params) []chain.Output {
	for i, out := range tx.TxOut {
		addr, ok := outputAddress(out.PkScript, params)
		if !ok {
			continue
		}
		dst = append(dst, chain.Output{
			Currency: currency,
			TxID:     txid,
			Index:    uint32(i),
			Address:  addr,
			Amount:   big.NewInt(out.Value),
			RBF:      rbf,
		})
	}
	return dst
}

// outputAddress returns the address a script pays, for the script classes
// a deposit address can have. Bare pubkey and multisig scripts are skipped
// although txscript names addresses for them: those are the P2PKH encodings
// of the keys, and a payment to one is not a payment to that P2PKH address.
// OP_RETURN, pay-to-anchor, unknown witness versions and non-standard
// scripts have no address.
func outputAddress(script []byte, params *chaincfg.Params) (string, bool) {
	class, addrs, _, err := txscript.ExtractPkScriptAddrs(script, params)
	if err != nil || len(addrs) != 1 {
		return "", false
	}
	switch class {
	case txscript.PubKeyHashTy, txscript.ScriptHashTy:
		return addrs[0].EncodeAddress(), true
	case txscript.WitnessV0PubKeyHashTy, txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy:
		w, ok := addrs[0].(witnessAddress)
		if !ok {
			return "", false
		}
		return segwitAddress(w.Hrp(), w.WitnessVersion(), w.WitnessProgram())
	}
	return "", false
}

// witnessAddress is what the address package's segwit types have in common.
type witnessAddress interface {
	Hrp() string
	WitnessVersion() byte
	WitnessProgram() []byte
}

// segwitAddress encodes a witness program as bech32 (v0) or bech32m (v1).
// The address package's EncodeAddress does the same and then decodes its
// own result as a check, which is over half the cost of a 10,000-output
// block; the program here comes from a script txscript already classified,
// and the encodings are tested against the BIP173/BIP350 vectors.
func segwitAddress(hrp string, version byte, program []byte) (string, bool) {
	conv, err := bech32.ConvertBits(program, 8, 5, true)
	if err != nil {
		return "", false
	}
	data := make([]byte, 0, len(conv)+1)
	data = append(data, version)
	data = append(data, conv...)
	var s string
	if version == 0 {
		s, err = bech32.Encode(hrp, data)
	} else {
		s, err = bech32.EncodeM(hrp, data)
	}
	return s, err == nil
}
