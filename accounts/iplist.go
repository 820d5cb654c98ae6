package accounts

import (
	"fmt"
	"net/netip"
	"strings"
)

// IPList is a project's api_allowed_ips: addresses and CIDR blocks, IPv4 and
// IPv6. The empty list allows every address.
type IPList struct {
	prefixes []netip.Prefix
}

// ParseIPList parses a comma-separated list such as
// "192.168.1.1, 10.0.0.0/8, 2001:db8::/32". Blank input is the empty list.
func ParseIPList(s string) (IPList, error) {
	var l IPList
	if strings.TrimSpace(s) == "" {
		return l, nil
	}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return IPList{}, fmt.Errorf("entry %d is empty", i+1)
		}
		var p netip.Prefix
		if strings.Contains(item, "/") {
			pp, err := netip.ParsePrefix(item)
			if err != nil {
				return IPList{}, fmt.Errorf("entry %d %q is not an IP address or CIDR block", i+1, item)
			}
			p = pp.Masked()
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				// ::ffff:10.0.0.0/104 is 10.0.0.0/8: peers are compared unmapped.
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
		} else {
			a, err := netip.ParseAddr(item)
			if err != nil || a.Zone() != "" {
				return IPList{}, fmt.Errorf("entry %d %q is not an IP address or CIDR block", i+1, item)
			}
			a = a.Unmap() // peers are compared unmapped, so ::ffff:10.0.0.1 is 10.0.0.1
			p = netip.PrefixFrom(a, a.BitLen())
		}
		l.prefixes = append(l.prefixes, p)
	}
	return l, nil
}

// Empty reports whether the list allows every address.
func (l IPList) Empty() bool { return len(l.prefixes) == 0 }

// Allows reports whether addr may use the key. IPv4-mapped IPv6 peers
// (::ffff:10.0.0.1) match IPv4 entries.
func (l IPList) Allows(addr netip.Addr) bool {
	if len(l.prefixes) == 0 {
		return true
	}
	addr = addr.Unmap().WithZone("")
	mapped := netip.AddrFrom16(addr.As16()) // an IPv4 peer as ::ffff:a.b.c.d, for IPv6 blocks covering it
	for _, p := range l.prefixes {
		if p.Contains(addr) || (addr.Is4() && p.Addr().Is6() && p.Contains(mapped)) {
			return true
		}
	}
	return false
}
