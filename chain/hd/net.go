package hd

import "fmt"

// Net selects the address and key formats of a network. It says nothing else
// about the network: signet and testnet4 share testnet's formats, so they are
// Testnet here.
type Net string

const (
	Mainnet Net = "mainnet"
	Testnet Net = "testnet"
	Regtest Net = "regtest"
)

// ParseNet parses a network name: mainnet, testnet or regtest, or a name
// bitcoind reports in getblockchaininfo (main, test, testnet4, signet).
func ParseNet(s string) (Net, error) {
	switch s {
	case "mainnet", "main":
		return Mainnet, nil
	case "testnet", "test", "testnet3", "testnet4", "signet":
		return Testnet, nil
	case "regtest":
		return Regtest, nil
	}
	return "", fmt.Errorf("unknown network %q: want mainnet, testnet, signet or regtest", s)
}

func (n Net) valid() bool { return n == Mainnet || n == Testnet || n == Regtest }

// testnet reports whether the network uses the testnet key versions (tpub,
// vpub), as regtest does.
func (n Net) testnet() bool { return n != Mainnet }
