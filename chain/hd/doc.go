// Package hd derives deposit addresses from a merchant's extended public key
// (BIP32), so the server hands out a fresh address per invoice without ever
// holding a key that can spend: a breach of the server loses no coins.
//
// # Keys
//
// The operator configures the account-level extended public key that the
// merchant's wallet exports:
//
//   - Bitcoin and Litecoin: the BIP84 account m/84'/coin'/0' (coin 0 for BTC,
//     2 for LTC) as zpub, or vpub on testnet, signet and regtest. The plain
//     BIP32 forms xpub/tpub, and Litecoin's Ltub/ttub, are accepted too: the
//     version bytes only say which script a wallet would use.
//   - Ethereum and ERC-20 tokens: the BIP44 account m/44'/60'/0' as xpub.
//
// Private keys (xprv, tprv, zprv, vprv, yprv, Ltpv, ...) are refused, and so
// are keys made for another script (ypub: BIP49 nested segwit; Zpub:
// multisig) or another network (a vpub with Mainnet, a zpub with Regtest).
// Configuration errors end up in logs, so no error repeats more of the
// configured string than its 4-character prefix.
//
// # Addresses
//
// Index i is child i of one non-hardened branch of the account key:
//
//	currency  path below the account  address
//	BTC       0/i                     P2WPKH, bech32 HRP bc, tb (testnet, signet), bcrt (regtest)
//	LTC       0/i                     P2WPKH, bech32 HRP ltc, tltc, rltc
//	ETH       0/i  (BranchETH)        EIP-55 checksummed account
//	USDT      1/i  (BranchUSDT)       EIP-55 checksummed account
//
// Branch 0 is the receive chain every wallet scans, so BTC, LTC and ETH
// deposits appear in a wallet restored from the merchant's mnemonic, provided
// its gap limit is above the run of unpaid invoices (ETH 0/i is what MetaMask
// and Ledger show as account i+1).
//
// # Why each token has its own branch
//
// An ERC-20 deposit address is an ordinary Ethereum account, and the engine
// allocates indexes per currency. If ETH and USDT both used 0/i, the ETH
// invoice and the USDT invoice with the same index would share an address, and
// a payment to it could not be attributed to one invoice. So every EVM
// currency derives from its own branch (NewEthereum takes it explicitly), and
// NewSet refuses two currencies that derive the same address.
//
// The price: wallets show branch 0 only. To see and spend USDT deposits the
// merchant adds the addresses m/44'/60'/0'/1/i (a wallet with custom
// derivation paths, or a sweep tool). A new token takes the next unused branch
// number. A currency's branch never changes once invoices exist: the engine
// stores only the index, and re-deriving on another branch would point old
// invoices at addresses nobody watches.
//
// # Cost and concurrency
//
// Indexes are non-hardened child numbers, 0 to MaxIndex. Each deriver derives
// its branch key once, in its constructor, so Derive costs one public child
// derivation (one elliptic-curve scalar multiplication) and a few hashes. The
// derivers are immutable after construction and safe for concurrent use.
package hd
