package checkout

import (
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"testing"
)

func TestMessages_SameKeys(t *testing.T) {
	en := slices.Sorted(maps.Keys(messages["en"]))
	for lang, m := range messages {
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, en) {
			t.Errorf("%s has keys %v, en has %v", lang, got, en)
		}
	}
}

// TestStreams_Caps: per-IP slots refuse with 429, the total with 503,
// release frees a slot once however often it is called, and close refuses
// everything after.
func TestStreams_Caps(t *testing.T) {
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")
	s := newStreams(3, 2)
	var releases []func()
	for _, step := range []struct {
		ip   netip.Addr
		want int
	}{{a, 0}, {a, 0}, {a, http.StatusTooManyRequests}, {b, 0}, {c, http.StatusServiceUnavailable}} {
		release, status := s.acquire(step.ip)
		if status != step.want {
			t.Fatalf("acquire(%v) = %d, want %d", step.ip, status, step.want)
		}
		if release != nil {
			releases = append(releases, release)
		}
	}
	if n := s.open(); n != 3 {
		t.Fatalf("%d open, want 3", n)
	}
	releases[0]()
	releases[0]()
	if _, status := s.acquire(c); status != 0 {
		t.Fatalf("after a release: %d, want a slot", status)
	}
	if _, status := s.acquire(c); status != http.StatusServiceUnavailable {
		t.Fatalf("double release freed two slots: %d", status)
	}
	s.close()
	releases[1]()
	if _, status := s.acquire(b); status != http.StatusServiceUnavailable {
		t.Fatalf("after close: %d, want 503", status)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("close did not end the streams")
	}
}

// TestQRMatrix_QuietZone: the code has four light modules on every side.
func TestQRMatrix_QuietZone(t *testing.T) {
	mods, err := qrMatrix("bitcoin:bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080?amount=0.00166667")
	if err != nil {
		t.Fatal(err)
	}
	n := len(mods)
	for i := range n {
		for j := range quietZone {
			if mods[i][j] || mods[i][n-1-j] || mods[j][i] || mods[n-1-j][i] {
				t.Fatalf("dark module in the quiet zone near (%d, %d)", i, j)
			}
		}
	}
	if !mods[quietZone][quietZone] {
		t.Fatal("no finder pattern where the code starts")
	}
}
