package hd

import "fmt"

// bech32Chars is the bech32 alphabet as a character class: the lowercase
// letters and digits without 1, b, i and o.
const bech32Chars = "[02-9ac-hj-np-z]"

// base58Chars is the base58 alphabet: without 0, O, I and l.
const base58Chars = "[1-9A-HJ-NP-Za-km-z]"

// base58Lead is the first character of a legacy (base58check) address per
// currency and network: P2PKH and P2SH version bytes.
var base58Lead = map[string]map[Net]string{
	"BTC": {Mainnet: "[13]", Testnet: "[mn2]", Regtest: "[mn2]"},
	"LTC": {Mainnet: "[LM3]", Testnet: "[mnQ2]", Regtest: "[mnQ2]"},
}

// AddressPattern is the regular expression every address of currency on
// net matches, as the currencies endpoint publishes it (wallet_pattern):
// for BTC and LTC a lowercase bech32 segwit address of the network's HRP
// (v0 key or script hash, v1 taproot) or a legacy base58 address of the
// network's version bytes; for ETH and ERC-20 tokens a 0x account of 40 hex
// digits in either case (EIP-55 mixes them; every network shares the
// form). The deposit addresses this package and the dev chain derive match
// it. It is anchored and uses only syntax common to RE2, PCRE and
// JavaScript, so a merchant's front end can check a customer's address
// with it. It tells a well-formed address from a typo; it does not verify
// checksums.
func AddressPattern(currency string, net Net) (string, error) {
	switch currency {
	case "ETH", "USDT":
		return "^0x[0-9a-fA-F]{40}$", nil
	}
	hrps, ok := bip84HRP[currency]
	if !ok || !net.valid() {
		return "", fmt.Errorf("address pattern of %q on %q: unknown currency or network", currency, net)
	}
	return "^(" + hrps[net] + "1(q" + bech32Chars + "{38}|[qp]" + bech32Chars + "{58})|" +
		base58Lead[currency][net] + base58Chars + "{25,34})$", nil
}
