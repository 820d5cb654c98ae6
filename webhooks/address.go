package webhooks

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
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

// metadata are the cloud instance metadata services (AWS, GCP, Azure and
// others on IPv4; AWS on IPv6), named in refusals because reaching them
// is the usual aim of a forged callback.
var metadata = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}

// refusal says why the SSRF guard refuses ip ("is a loopback address"), or
// "" when deliveries may reach it. IPv4-mapped IPv6 addresses are judged as
// the IPv4 address they carry.
func refusal(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid():
		return "is not a valid IP address"
	case slices.Contains(metadata, ip):
		return "is the cloud metadata address"
	case ip.IsLoopback():
		return "is a loopback address"
	case ip.IsPrivate():
		return "is a private address"
	case ip.IsLinkLocalUnicast():
		return "is a link-local address"
	case ip.IsMulticast():
		return "is a multicast address"
	case ip.IsUnspecified():
		return "is the unspecified address"
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return "is in the reserved range " + p.String()
		}
	}
	if nat64.Contains(ip) {
		a := ip.As16()
		inner := netip.AddrFrom4([4]byte(a[12:]))
		if why := refusal(inner); why != "" {
			return "maps to " + inner.String() + ", which " + why
		}
	}
	return ""
}

// CallbackHostRefusal says why a callback URL's host can never receive a
// webhook when it is a literal IP address the dial-time guard refuses
// ("is the cloud metadata address"), so it is refused when the invoice is
// created rather than on every delivery. Host names return "": they are
// judged on each dial, as the address they resolve to can change. Besides
// the standard IPv4 and IPv6 forms, the legacy IPv4 forms URL parsers and
// resolvers accept (127.1, 0x7f.0.0.1, 2130706433, 0177.0.0.1) count as
// literal addresses.
func CallbackHostRefusal(host string) string {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		var ok bool
		if ip, ok = legacyIPv4(host); !ok {
			return ""
		}
	}
	return refusal(ip)
}

// legacyIPv4 parses the inet_aton forms of an IPv4 address that browsers'
// URL parsers (WHATWG) and C resolvers accept: one to four dot-separated
// parts, each decimal, 0x-hexadecimal or 0-octal, the last filling the
// remaining bytes; a trailing dot is allowed.
func legacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, part := range parts {
		n, ok := inetNumber(part)
		last := i == len(parts)-1
		if !ok || !last && n > 255 || last && n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		if last {
			v |= n
		} else {
			v |= n << (8 * (3 - i))
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// inetNumber parses one part of a legacy IPv4 address.
func inetNumber(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
		if s == "" {
			return 0, true // "0x" is 0
		}
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, 32)
	return n, err == nil
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
	if why := refusal(ip); why != "" {
		return fmt.Errorf("%w: %s %s", ErrRefusedAddress, ip, why)
	}
	return nil
}
