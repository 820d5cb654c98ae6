package webhooks

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// refusedPrefixes are the ranges a delivery may not reach that netip's
// predicates (loopback, private, link-local, multicast, unspecified) do not
// already cover. The last three are IPv6 forms beyond the usual list, each a
// way to name a local or private host.
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network": 0.x dials the local host on Linux
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT shared space
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, includes broadcast 255.255.255.255
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated), includes :: and ::1
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated), private in practice
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
}

// nat64 is the well-known NAT64 prefix: on a NAT64 network 64:ff9b::a00:1
// reaches 10.0.0.1, so the embedded IPv4 address is what gets judged.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusedIP reports whether the SSRF guard refuses ip. IPv4-mapped IPv6
// addresses are judged as the IPv4 address they carry.
func refusedIP(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if nat64.Contains(ip) {
		a := ip.As16()
		return refusedIP(netip.AddrFrom4([4]byte(a[12:])))
	}
	return false
}

// guardDial is a net.Dialer Control function: it runs after name resolution,
// on each address the dialer is about to connect to, before any packet is
// sent. Judging the dialed address (not an earlier lookup) is what defeats DNS
// rebinding. It fails closed on anything it cannot parse.
func guardDial(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable dial address %q", ErrRefusedAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: dial address %q is not an IP", ErrRefusedAddress, address)
	}
	if refusedIP(ip) {
		return fmt.Errorf("%w: %s is loopback, private, link-local or reserved", ErrRefusedAddress, ip)
	}
	return nil
}
