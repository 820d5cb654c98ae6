// Package ethereum implements chain.Node over the standard Ethereum JSON-RPC
// interface (geth, and any node serving the eth_ methods), so the chain
// monitor can follow an EVM chain's native coin and ERC-20 tokens by
// polling. It speaks plain JSON-RPC over net/http: go-ethereum is not a
// dependency of the server.
//
// # What a block reports
//
// BlockAt costs one eth_getBlockByNumber with full transactions, then one
// round trip (a JSON-RPC batch when both are needed) for
// eth_getBlockReceipts and eth_getLogs, both asked by block hash so that a
// reorg between the calls cannot mix two blocks.
//
//   - Native transfers: one output per transaction with a recipient and a
//     value above zero whose receipt says it succeeded (Index 0, Address the
//     EIP-55 form of "to", Amount in wei). A transaction that reverts keeps
//     its value, and since EIP-7702 an account's code may revert even a plain
//     transfer, so receipts are checked for every such transaction. A node
//     without eth_getBlockReceipts (geth before 1.13, some providers) is
//     asked eth_getTransactionReceipt per candidate, in batches of 100.
//   - Token transfers: one output per ERC-20 Transfer log of a configured
//     contract paying a non-zero amount (Address the EIP-55 form of the
//     indexed "to"). Failed transactions leave no logs, so no receipt is
//     needed. Logs of the Transfer topic with another shape (ERC-721 indexes
//     a token id) are skipped.
//
// Not reported: ETH moved by contract code, that is by an internal call
// (a payer paying from a Safe or another contract wallet, some exchanges'
// withdrawals), which only tracing (debug_traceBlock, trace_block) would
// show; beacon-chain withdrawals; block rewards and fees; token transfers
// without a standard Transfer log. Such an ETH payment to a deposit address
// goes unnoticed by the engine until an operator reconciles it.
//
// Every address reported is EIP-55 checksummed, the form chain/hd and
// chain/devchain hand out, because the monitor compares addresses as
// strings.
//
// # Token transfers: Index
//
// The engine keys a payment by (currency, txid, index), and the same
// payment must keep its key from the mempool to the block, or it would be
// counted twice until the mempool copy is reverted. A token output's Index
// is therefore not its log index but its position among the Transfer logs
// of the same token contract in the same transaction: 0 for the first, 1
// for the next. The log index is unknown while a transaction is pending,
// and it changes when a reorg mines the transaction at another place in
// another block; the position is known from calldata for a direct transfer
// or transferFrom call (its one Transfer log is position 0, which Mempool
// reports) and survives a reorg. A batch payout paying several deposit
// addresses in one transaction gives each its own key. Every Transfer log
// of the token counts toward the position, including the skipped ones
// (zero amounts, other shapes), so a key never depends on what this
// package chose to report.
//
// One case still changes key: a token that emits more than one Transfer
// per transfer call, such as a fee-on-transfer token logging the fee
// first. Mempool reports the recipient at position 0 with the full amount
// and the block at position 1 with the net amount; the monitor reverts the
// pending copy once it is missing. Such tokens are not supported as
// payment currencies.
//
// # Mempool
//
// Mempool reads geth's txpool_content (the txpool API must be enabled:
// --http.api eth,txpool). Only pending transactions count, not queued ones
// (a nonce gap ahead of them). It reports native value transfers and
// direct transfer and transferFrom calls of configured tokens decoded from
// calldata, with the Index the mined Transfer log gets (above); token
// transfers made through other contracts are seen once mined. A pending
// transaction may still revert: it then never appears in a block and the
// monitor reverts the unconfirmed payment. A node without txpool_content
// makes Mempool return nil, and payments are seen when mined. Each call
// fetches the whole pool: fine for a private node, megabytes per poll on a
// busy public one.
//
// # Credentials
//
// Credentials in the URL (http://user:pass@host) are sent as basic auth.
// Hosted providers put an API key in the path or query, so no error names
// more of the URL than scheme and host. The package does not log.
package ethereum
