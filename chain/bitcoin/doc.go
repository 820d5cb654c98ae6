// Package bitcoin implements chain.Node over the JSON-RPC interface shared by
// bitcoind and btcd (and Litecoin Core, for LTC), so the chain monitor can
// follow a UTXO chain's blocks and mempool by polling.
//
// Blocks are fetched raw (getblock with verbosity 0) and decoded here with
// the btcd wire and txscript packages: a block of 10,000 outputs costs one
// getblockhash and one getblock round trip and a few milliseconds of decoding,
// where verbose JSON would cost the node and us an order of magnitude more.
// Every output whose script has exactly one standard address (P2PKH, P2SH,
// P2WPKH, P2WSH, P2TR) is reported; OP_RETURN, bare multisig, bare pubkey,
// pay-to-anchor and non-standard scripts have no address a deposit could use
// and are skipped. For LTC (Config.Currency "LTC", Params from NetParams)
// the same decoder follows Litecoin's MWEB framing: the HogEx transaction,
// the extension block after the transactions and MWEB mempool transactions
// (mweb.go says how, and why the node's verbose JSON is not used instead).
//
// # Mempool cost model
//
// Every Mempool call costs one getrawmempool (the node sends every txid in
// its mempool, about 70 bytes each) and the returned slice (one Output per
// address output in the mempool). Only transactions not seen by an earlier
// call are fetched and decoded, with getrawtransaction in JSON-RPC batches
// of up to 64, so a steady-state poll costs O(mempool) for the txid list
// plus O(new transactions) round trips/64 and decoding. The decoded outputs
// are cached by txid, and txids gone from the mempool (mined, replaced,
// evicted) are forgotten on the same call, so the cache holds exactly the
// current mempool: roughly 200 bytes per output and 70 per input.
//
// # RBF
//
// Output.RBF follows BIP125: a transaction signals replaceability when one of
// its inputs has a sequence number below 0xfffffffe. In Mempool the flag is
// also inherited: a transaction spending an output of a signalling mempool
// transaction is reported as replaceable too, because replacing the parent
// evicts it. Nodes running full-RBF (Bitcoin Core 28 and later by default)
// accept a replacement for any unconfirmed transaction, signalled or not: a
// set flag is a certainty, an unset flag is no promise.
//
// # Credentials
//
// The RPC password is sent only as HTTP basic auth. Config.Cookie names the
// node's cookie file instead: read at the first call and again after the
// node answers 401, as it does after a restart (cookie.go). A URL carrying
// credentials has them moved into the config and removed from the URL, so no
// error message, which names the method and the bare URL, ever contains them.
// The package does not log.
package bitcoin
