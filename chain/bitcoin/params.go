package bitcoin

import (
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/invoiced/invoiced/chain/hd"
)

// Litecoin's address encodings (Litecoin Core's chainparams.cpp): P2PKH
// versions L and m/n, P2SH versions M and Q (Core's SCRIPT_ADDRESS2; the
// legacy 3/2 forms decode to the same scripts), bech32 ltc, tltc, rltc.
// Only the fields an output script's address needs are set: these Params
// encode addresses and are never registered with chaincfg, whose registry
// of network magic numbers is Bitcoin's.
var (
	litecoinMainNetParams = chaincfg.Params{
		Name: "litecoin-mainnet", PubKeyHashAddrID: 0x30, ScriptHashAddrID: 0x32, Bech32HRPSegwit: "ltc",
	}
	litecoinTestNetParams = chaincfg.Params{
		Name: "litecoin-testnet", PubKeyHashAddrID: 0x6f, ScriptHashAddrID: 0x3a, Bech32HRPSegwit: "tltc",
	}
	litecoinRegtestParams = chaincfg.Params{
		Name: "litecoin-regtest", PubKeyHashAddrID: 0x6f, ScriptHashAddrID: 0x3a, Bech32HRPSegwit: "rltc",
	}
)

// chainNames name each currency's chain in Network: "bitcoin-regtest".
var chainNames = map[string]string{"BTC": "bitcoin", "LTC": "litecoin"}

// NetParams returns the address encoding of currency ("BTC" or "LTC") on
// net, for Config.Params, and the name Config.Net gets ("litecoin-regtest").
func NetParams(currency string, net hd.Net) (*chaincfg.Params, string, error) {
	var p *chaincfg.Params
	switch currency + "/" + string(net) {
	case "BTC/mainnet":
		p = &chaincfg.MainNetParams
	case "BTC/testnet":
		p = &chaincfg.TestNet3Params
	case "BTC/regtest":
		p = &chaincfg.RegressionNetParams
	case "LTC/mainnet":
		p = &litecoinMainNetParams
	case "LTC/testnet":
		p = &litecoinTestNetParams
	case "LTC/regtest":
		p = &litecoinRegtestParams
	default:
		return nil, "", fmt.Errorf("%w: no %s network %q: want BTC or LTC on mainnet, testnet or regtest", errConfig, currency, net)
	}
	return p, chainNames[currency] + "-" + string(net), nil
}
