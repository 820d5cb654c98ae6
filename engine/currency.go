package engine

import (
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strings"
)

// Network says which chain a currency lives on: Name is the chain
// ("bitcoin", "ethereum"), Type the kind of asset on it ("utxo" for a native
// UTXO coin, "evm" for a native EVM coin, "erc20" for a token).
type Network struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Currency describes one payable crypto asset.
type Currency struct {
	Code     string  // the API code, e.g. "BTC"
	Name     string  // human name, e.g. "Bitcoin"
	Decimals int     // smallest unit = 10^-Decimals of a coin
	Network  Network // chain and asset kind
	// URIScheme is the BIP21/EIP-681 scheme of payment URIs ("bitcoin",
	// "litecoin", "ethereum").
	URIScheme string
	// TokenContract is the ERC-20 contract address, empty for native coins.
	TokenContract string
	// Confirmations is how many confirmations make a payment final.
	Confirmations int
	// MinAmount is the smallest invoice amount in units: below it, fees or
	// dust rules make the payment impractical.
	MinAmount Units
	// MaxAmount is the largest invoice amount in units: the coin's supply
	// cap where it has one, a documented bound where it has none (see
	// DefaultCurrencies), or an operator's lower cap. No invoice may ask
	// for more than the currency can ever have.
	MaxAmount Units
	// AddressPattern is the regular expression every address of this
	// currency on the followed network matches (the currencies endpoint's
	// wallet_pattern). The wiring sets it, as only it knows the network;
	// empty when unknown.
	AddressPattern string
}

// DefaultCurrencies returns the built-in registry entries: Bitcoin, Litecoin,
// Ether and Tether USD on Ethereum, with the confirmation defaults of the
// chains issue (BTC 2, LTC 6, ETH and ERC-20 12) and the largest amount of
// an invoice: the supply cap of Bitcoin (21,000,000) and Litecoin
// (84,000,000); Ether and Tether have none, so their bound is a round
// number well above all that exists (1,000,000,000 ETH, about eight times
// the ether in existence; 1,000,000,000,000 USDT, several times all the
// Tether ever issued on every chain).
func DefaultCurrencies() []Currency {
	return []Currency{
		{Code: "BTC", Name: "Bitcoin", Decimals: 8, Network: Network{"bitcoin", "utxo"}, URIScheme: "bitcoin", Confirmations: 2, MinAmount: NewUnits(546), MaxAmount: wholeCoins(21_000_000, 8)},
		{Code: "LTC", Name: "Litecoin", Decimals: 8, Network: Network{"litecoin", "utxo"}, URIScheme: "litecoin", Confirmations: 6, MinAmount: NewUnits(5460), MaxAmount: wholeCoins(84_000_000, 8)},
		{Code: "ETH", Name: "Ether", Decimals: 18, Network: Network{"ethereum", "evm"}, URIScheme: "ethereum", Confirmations: 12, MinAmount: NewUnits(1_000_000_000_000), MaxAmount: wholeCoins(1_000_000_000, 18)},                                                                      // min 0.000001 ETH
		{Code: "USDT", Name: "Tether USD (ERC-20)", Decimals: 6, Network: Network{"ethereum", "erc20"}, URIScheme: "ethereum", TokenContract: "0xdAC17F958D2ee523a2206206994597C13D831ec7", Confirmations: 12, MinAmount: NewUnits(10_000), MaxAmount: wholeCoins(1_000_000_000_000, 6)}, // min 0.01 USDT
	}
}

// wholeCoins is n coins in the units of a currency with decimals.
func wholeCoins(n int64, decimals int) Units {
	return Units{new(big.Int).Mul(big.NewInt(n), pow10(decimals))}
}

// Registry is the set of enabled currencies. It is built once at start and
// read-only afterwards, so it is safe for concurrent use.
type Registry struct {
	byCode map[string]Currency
	codes  []string
}

// NewRegistry builds a registry; codes must be unique upper-case.
func NewRegistry(cs []Currency) (*Registry, error) {
	r := &Registry{byCode: make(map[string]Currency, len(cs))}
	for _, c := range cs {
		if c.Code == "" || c.Code != strings.ToUpper(c.Code) {
			return nil, fmt.Errorf("currency code %q must be non-empty upper case", c.Code)
		}
		if _, dup := r.byCode[c.Code]; dup {
			return nil, fmt.Errorf("currency %s listed twice", c.Code)
		}
		if c.Decimals < 0 || c.Decimals > 18 {
			return nil, fmt.Errorf("currency %s: decimals %d outside 0..18", c.Code, c.Decimals)
		}
		if c.MaxAmount.Cmp(c.MinAmount) < 0 || c.MaxAmount.IsZero() {
			return nil, fmt.Errorf("currency %s: maximum amount %s must be positive and at least the minimum %s",
				c.Code, FormatDecimal(c.MaxAmount, c.Decimals), FormatDecimal(c.MinAmount, c.Decimals))
		}
		r.byCode[c.Code] = c
		r.codes = append(r.codes, c.Code)
	}
	sort.Strings(r.codes)
	return r, nil
}

// Lookup finds a currency by code, case-insensitively.
func (r *Registry) Lookup(code string) (Currency, bool) {
	c, ok := r.byCode[strings.ToUpper(code)]
	return c, ok
}

// All returns the currencies sorted by code.
func (r *Registry) All() []Currency {
	out := make([]Currency, len(r.codes))
	for i, code := range r.codes {
		out[i] = r.byCode[code]
	}
	return out
}

// Codes returns the enabled codes sorted, for error messages.
func (r *Registry) Codes() []string { return append([]string(nil), r.codes...) }

// PaymentURI builds the URI a wallet opens to pay amount to address: BIP21
// for UTXO coins ("bitcoin:bc1...?amount=0.001"), EIP-681 for Ether
// ("ethereum:0x...?value=<wei>") and for ERC-20 tokens
// ("ethereum:<contract>/transfer?address=0x...&uint256=<units>").
func (c Currency) PaymentURI(address string, amount Units) string {
	switch c.Network.Type {
	case "erc20":
		return c.URIScheme + ":" + c.TokenContract + "/transfer?address=" + url.QueryEscape(address) + "&uint256=" + amount.String()
	case "evm":
		return c.URIScheme + ":" + address + "?value=" + amount.String()
	default:
		return c.URIScheme + ":" + address + "?amount=" + FormatDecimal(amount, c.Decimals)
	}
}
