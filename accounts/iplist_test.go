package accounts

import (
	"net/netip"
	"testing"
)

func TestParseIPList(t *testing.T) {
	tests := []struct {
		in      string
		ok      bool
		allowed []string
		denied  []string
	}{
		{"", true, []string{"1.2.3.4", "::1"}, nil},
		{"  ", true, []string{"1.2.3.4"}, nil},
		{"192.168.1.1", true, []string{"192.168.1.1", "::ffff:192.168.1.1"}, []string{"192.168.1.2"}},
		{"10.0.0.0/8,172.16.1.100", true, []string{"10.255.0.1", "172.16.1.100"}, []string{"11.0.0.1", "172.16.1.101"}},
		{"10.1.2.3/8", true, []string{"10.9.9.9"}, nil}, // host bits are masked off
		{"2001:db8::/32, ::1", true, []string{"2001:db8::5", "::1"}, []string{"2001:db9::1", "127.0.0.1"}},
		{"::ffff:10.0.0.1", true, []string{"10.0.0.1", "::ffff:10.0.0.1"}, []string{"10.0.0.2"}},
		{"::ffff:10.0.0.0/104", true, []string{"10.9.9.9"}, []string{"11.0.0.1"}},
		{"10.0.0.0/33", false, nil, nil},
		{"300.1.1.1", false, nil, nil},
		{"10.0.0.1,", false, nil, nil},
		{"example.com", false, nil, nil},
		{"fe80::1%eth0", false, nil, nil},
	}
	for _, tt := range tests {
		l, err := ParseIPList(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseIPList(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		for _, a := range tt.allowed {
			if !l.Allows(netip.MustParseAddr(a)) {
				t.Errorf("%q should allow %s", tt.in, a)
			}
		}
		for _, a := range tt.denied {
			if l.Allows(netip.MustParseAddr(a)) {
				t.Errorf("%q should deny %s", tt.in, a)
			}
		}
	}
}

func TestWellFormedKey(t *testing.T) {
	k, err := NewKey()
	if err != nil || !WellFormedKey(k) {
		t.Fatalf("NewKey() = %q, %v", k, err)
	}
	for _, bad := range []string{"", k[:63], k + "0", "G" + k[1:], "A" + k[1:]} {
		if WellFormedKey(bad) {
			t.Errorf("WellFormedKey(%q) = true", bad)
		}
	}
}
