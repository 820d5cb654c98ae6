// Package devchain is the built-in development chain: it lets a newcomer run
// invoiced with no Bitcoin or Ethereum node and no wallet.
//
// For now it provides only a Deriver, which turns (currency, index) into a
// well-formed regtest/dev address by keyed hashing. The addresses have the shape
// of real ones (bech32 P2WPKH for BTC and LTC, EIP-55 hex for ETH and USDT) so
// the rest of the system, and a developer looking at them, handles them exactly
// as it will real ones. They are not derived from any key pair, so nobody can
// spend from them: never use this package where real funds can arrive.
package devchain
