package webhooks

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestSend_RefusesNonPublicDestinations never lets traffic leave the host:
// the guard refuses at the Control hook, before connect. For the non-loopback
// targets a short deadline bounds the damage if it did not, and the required
// ErrRefusedAddress (not a timeout) proves the refusal came first.
func TestSend_RefusesNonPublicDestinations(t *testing.T) {
	var hits atomic.Int64
	count := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	srv4 := httptest.NewServer(count)
	t.Cleanup(srv4.Close)
	port4 := portOf(t, srv4.Listener.Addr())
	port6 := port4 // a refusal needs no listener; with one, 0 hits also shows nothing arrived
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		srv6 := httptest.NewUnstartedServer(count)
		srv6.Listener = ln
		srv6.Start()
		t.Cleanup(srv6.Close)
		port6 = portOf(t, ln.Addr())
	}

	tests := []struct{ name, url string }{
		{"loopback", "http://127.0.0.1:" + port4 + "/"},
		{"loopback https", "https://127.0.0.1:" + port4 + "/"},
		{"loopback IPv6", "http://[::1]:" + port6 + "/"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + port4 + "/"},
		{"name resolving to loopback", "http://localhost:" + port4 + "/"},
		{"unspecified", "http://0.0.0.0:" + port4 + "/"},
		{"private", "http://10.0.0.1/"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/"},
		{"carrier-grade NAT", "http://100.64.0.1/"},
	}
	s := newSender(t, SenderOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			res, err := s.Send(ctx, testDelivery(tt.url))
			if !errors.Is(err, ErrRefusedAddress) {
				t.Fatalf("Send(%s) error = %v, want ErrRefusedAddress", tt.url, err)
			}
			if res.StatusCode != 0 {
				t.Fatalf("StatusCode = %d, want 0", res.StatusCode)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("loopback servers got %d requests, want 0", n)
	}

	// The same loopback URLs are reachable once the operator allows them, so
	// the refusals above were the guard and nothing else.
	allowing := newSender(t, SenderOptions{AllowPrivate: true})
	for _, url := range []string{"http://127.0.0.1:" + port4 + "/", "http://localhost:" + port4 + "/"} {
		if _, err := allowing.Send(context.Background(), testDelivery(url)); err != nil {
			t.Fatalf("Send(%s) with AllowPrivate: %v", url, err)
		}
	}
}

// TestSend_ResolverOption points a made-up name at a loopback server through
// an injected resolver: delivered when private targets are allowed, refused at
// dial time when not.
func TestSend_ResolverOption(t *testing.T) {
	var hits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	resolver := startLoopbackDNS(t)
	url := "http://merchant.invalid:" + portOf(t, srv.Listener.Addr()) + "/hook"

	allowing := newSender(t, SenderOptions{AllowPrivate: true, Resolver: resolver})
	if _, err := allowing.Send(context.Background(), testDelivery(url)); err != nil {
		t.Fatalf("Send with AllowPrivate: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}

	guarded := newSender(t, SenderOptions{Resolver: resolver})
	if _, err := guarded.Send(context.Background(), testDelivery(url)); !errors.Is(err, ErrRefusedAddress) {
		t.Fatalf("Send with the guard on: %v, want ErrRefusedAddress", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("hits = %d after a refused send, want still 1", n)
	}
}

func portOf(t *testing.T, a net.Addr) string {
	t.Helper()
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatalf("split %s: %v", a, err)
	}
	return port
}

// startLoopbackDNS runs the smallest real name server a test needs, on UDP
// loopback: every A query is answered 127.0.0.1, every other query has no
// records. It returns a resolver that asks only it.
func startLoopbackDNS(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswerLoopback(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	server := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	}
}

// dnsAnswerLoopback builds the response to query q (RFC 1035 section 4), or
// nil if q is not a one-question query it can parse.
func dnsAnswerLoopback(q []byte) []byte {
	const headerLen = 12
	if len(q) < headerLen || q[4] != 0 || q[5] != 1 {
		return nil
	}
	i := headerLen
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	end := i + 5 // root label, QTYPE, QCLASS
	isA := q[i+1] == 0 && q[i+2] == 1

	resp := append([]byte{}, q[0], q[1]) // ID
	resp = append(resp, 0x85, 0x80)      // response, authoritative, recursion desired and available, no error
	resp = append(resp, 0, 1)            // QDCOUNT
	if isA {
		resp = append(resp, 0, 1) // ANCOUNT
	} else {
		resp = append(resp, 0, 0)
	}
	resp = append(resp, 0, 0, 0, 0) // NSCOUNT, ARCOUNT
	resp = append(resp, q[headerLen:end]...)
	if isA {
		resp = append(resp,
			0xc0, headerLen, // name: pointer to the question's
			0, 1, 0, 1, // type A, class IN
			0, 0, 0, 60, // TTL
			0, 4, 127, 0, 0, 1)
	}
	return resp
}
