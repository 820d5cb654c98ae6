package webhooks

import (
	"errors"
	"net/netip"
	"testing"
)

func TestRefusedIP(t *testing.T) {
	tests := []struct {
		addr    string
		refused bool
	}{
		// IPv4 refused
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"192.0.0.8", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		// IPv4 allowed, including the neighbours of refused ranges
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"172.15.255.255", false},
		{"172.32.0.0", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"192.0.1.1", false},
		{"198.17.255.255", false},
		{"198.20.0.0", false},
		{"169.253.255.255", false},
		{"11.0.0.1", false},
		{"223.255.255.255", false},
		// IPv6 refused
		{"::1", true},
		{"::", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"febf::1", true},
		{"fec0::1", true},
		{"ff02::1", true},
		{"ff05::2", true},
		{"::7f00:1", true},       // IPv4-compatible 127.0.0.1
		{"64:ff9b::a00:1", true}, // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", true},
		{"64:ff9b:1::808:808", true}, // local-use NAT64
		// IPv6 allowed
		{"2001:4860:4860::8888", false},
		{"2606:4700:4700::1111", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"fbff::1", false},
		// IPv4-mapped IPv6: judged as the IPv4 address
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:100.64.0.1", true},
		{"::ffff:0.0.0.0", true},
		{"::ffff:255.255.255.255", true},
		{"::ffff:8.8.8.8", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			if why := refusal(ip); (why != "") != tt.refused {
				t.Fatalf("refusal(%s) = %q, want refused %v", tt.addr, why, tt.refused)
			}
		})
	}
}

func TestGuardDial(t *testing.T) {
	tests := []struct {
		address string
		refused bool
	}{
		{"127.0.0.1:80", true},
		{"[::1]:443", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"[fe80::1%eth0]:80", true},
		{"93.184.215.14:443", false},
		{"[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443", false},
		{"not-an-ip:80", true},
		{"garbage", true},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := guardDial("tcp", tt.address, nil)
			if got := errors.Is(err, ErrRefusedAddress); got != tt.refused {
				t.Fatalf("guardDial(%s) = %v, want refused=%v", tt.address, err, tt.refused)
			}
			if !tt.refused && err != nil {
				t.Fatalf("guardDial(%s) = %v", tt.address, err)
			}
		})
	}
}

// TestCallbackHostRefusal: a callback URL's literal IP is judged as the
// dial-time guard judges it, with the reason; legacy IPv4 spellings are
// the addresses they spell; host names are left to the dial.
func TestCallbackHostRefusal(t *testing.T) {
	tests := []struct {
		host string
		want string // "" = allowed now
	}{
		{"169.254.169.254", "is the cloud metadata address"},
		{"fd00:ec2::254", "is the cloud metadata address"},
		{"::ffff:169.254.169.254", "is the cloud metadata address"},
		{"127.0.0.1", "is a loopback address"},
		{"::1", "is a loopback address"},
		{"10.1.2.3", "is a private address"},
		{"fd12::1", "is a private address"},
		{"169.254.1.1", "is a link-local address"},
		{"fe80::1%eth0", "is a link-local address"},
		{"224.0.0.1", "is a multicast address"},
		{"0.0.0.0", "is the unspecified address"},
		{"100.64.0.1", "is in the reserved range 100.64.0.0/10"},
		{"64:ff9b::a00:1", "maps to 10.0.0.1, which is a private address"},
		{"127.1", "is a loopback address"},                 // legacy: 127.0.0.1
		{"0x7f.0.0.1", "is a loopback address"},            // hexadecimal part
		{"0177.0.0.1", "is a loopback address"},            // octal part
		{"2130706433", "is a loopback address"},            // one 32-bit number
		{"0xa9fea9fe", "is the cloud metadata address"},    // 169.254.169.254
		{"169.254.43518", "is the cloud metadata address"}, // last part fills two bytes
		{"127.0.0.1.", "is a loopback address"},            // trailing dot
		{"8.8.8.8", ""},
		{"2001:4860:4860::8888", ""},
		{"134744072", ""},                    // 8.8.8.8
		{"example.com", ""},                  // a name: judged at dial time
		{"localhost", ""},                    // a name, refused when dialed
		{"1.2.3.4.5", ""},                    // not an address
		{"256.0.0.1", ""},                    // not an address: a name to resolve
		{"08.0.0.1", ""},                     // 8 is not octal
		{"0x", "is the unspecified address"}, // "0x" is 0
		{"1e100.net", ""},
	}
	for _, tt := range tests {
		if got := CallbackHostRefusal(tt.host); got != tt.want {
			t.Errorf("CallbackHostRefusal(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}
