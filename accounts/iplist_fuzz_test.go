package accounts

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseIPList checks the api_allowed_ips parser against a plain reading
// of its contract: blank is the empty list; otherwise every comma-separated
// entry, trimmed, must be an IP address (no zone) or a CIDR block, and the
// list allows each address it names and every address inside each block.
func FuzzParseIPList(f *testing.F) {
	for _, s := range []string{"", " ", "192.168.1.1", "10.0.0.0/8, 2001:db8::/32", "::ffff:10.0.0.1", "fe80::1%eth0", "1.2.3.4/33", "1.2.3.4,", ",", "10.1.2.3/8", "::/0,0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseIPList(s)
		if strings.TrimSpace(s) == "" {
			if err != nil || !l.Empty() {
				t.Fatalf("blank %q: %v, empty=%v", s, err, l.Empty())
			}
			return
		}
		var addrs []netip.Addr
		valid := true
		for _, item := range strings.Split(s, ",") {
			item = strings.TrimSpace(item)
			if p, err := netip.ParsePrefix(item); err == nil && strings.Contains(item, "/") {
				addrs = append(addrs, p.Masked().Addr(), p.Addr())
				continue
			}
			a, err := netip.ParseAddr(item)
			if err != nil || a.Zone() != "" || strings.Contains(item, "/") {
				valid = false
				break
			}
			addrs = append(addrs, a)
		}
		if (err == nil) != valid {
			t.Fatalf("ParseIPList(%q) error %v, but every entry valid=%v", s, err, valid)
		}
		if err != nil {
			return
		}
		if l.Empty() {
			t.Fatalf("ParseIPList(%q) is empty (allows everyone)", s)
		}
		for _, a := range addrs {
			if !l.Allows(a) {
				t.Fatalf("ParseIPList(%q) does not allow %v, which it lists", s, a)
			}
		}
	})
}
