package webhooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newSender returns a Sender whose idle connections are closed when the test
// ends, so each test's servers see only its own traffic.
func newSender(t *testing.T, opts SenderOptions) *Sender {
	t.Helper()
	s := NewSender(opts)
	t.Cleanup(s.CloseIdleConnections)
	return s
}

// newServer starts a loopback server stopped by the test.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func testDelivery(url string) Delivery {
	return Delivery{
		URL:       url,
		ID:        "evt_0001",
		Body:      []byte(`{"invoice_id":"inv_1","status":"paid","event":"status_changed"}`),
		Keys:      [][32]byte{SigningKey("project-api-key")},
		Timestamp: time.Now(),
	}
}

func TestSend_SignedPOST(t *testing.T) {
	tests := []struct {
		name      string
		userAgent string
		wantUA    string
	}{
		{"default user agent", "", "invoiced-webhooks/1"},
		{"custom user agent", "merchant-test/2", "merchant-test/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDelivery("")
			var hits atomic.Int64
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("read body: %v", err)
				}
				checks := []struct{ name, got, want string }{
					{"method", r.Method, http.MethodPost},
					{"Content-Type", r.Header.Get("Content-Type"), "application/json"},
					{"User-Agent", r.Header.Get("User-Agent"), tt.wantUA},
					{HeaderID, r.Header.Get(HeaderID), d.ID},
					{HeaderTimestamp, r.Header.Get(HeaderTimestamp), strconv.FormatInt(d.Timestamp.Unix(), 10)},
					{"body", string(body), string(d.Body)},
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
					}
				}
				if err := Verify(d.Keys[0], r.Header.Get(HeaderSignature), r.Header.Get(HeaderTimestamp), body, time.Now(), DefaultTolerance); err != nil {
					t.Errorf("receiver Verify: %v", err)
				}
				w.Write([]byte("ok"))
			})
			d.URL = srv.URL + "/hooks/invoiced?shop=1"
			s := newSender(t, SenderOptions{AllowPrivate: true, UserAgent: tt.userAgent})
			res, err := s.Send(context.Background(), d)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.StatusCode != http.StatusOK || string(res.Body) != "ok" || res.Duration <= 0 {
				t.Fatalf("Result = %+v, want 200 %q and a duration", res, "ok")
			}
			if hits.Load() != 1 {
				t.Fatalf("receiver hits = %d, want 1", hits.Load())
			}
		})
	}
}

func TestSend_StatusDecidesOutcome(t *testing.T) {
	tests := []struct {
		status int
		ok     bool
	}{
		{200, true},
		{201, true},
		{204, true},
		{299, true},
		{300, false},
		{304, false},
		{400, false},
		{410, false},
		{500, false},
		{503, false},
	}
	s := newSender(t, SenderOptions{AllowPrivate: true})
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				if tt.status != 204 && tt.status != 304 {
					w.Write([]byte("answer"))
				}
			})
			res, err := s.Send(context.Background(), testDelivery(srv.URL))
			if res.StatusCode != tt.status {
				t.Fatalf("StatusCode = %d, want %d", res.StatusCode, tt.status)
			}
			if tt.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNon2xx) {
				t.Fatalf("Send error = %v, want ErrNon2xx", err)
			}
			if tt.status != 304 && string(res.Body) != "answer" {
				t.Fatalf("Body = %q, want the receiver's answer", res.Body)
			}
		})
	}
}

func TestSend_RedirectNotFollowed(t *testing.T) {
	var targetHits atomic.Int64
	target := newServer(t, func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) })
	origin := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	s := newSender(t, SenderOptions{AllowPrivate: true})
	res, err := s.Send(context.Background(), testDelivery(origin.URL))
	if !errors.Is(err, ErrNon2xx) || res.StatusCode != http.StatusFound {
		t.Fatalf("Send = %d, %v; want 302 and ErrNon2xx", res.StatusCode, err)
	}
	if n := targetHits.Load(); n != 0 {
		t.Fatalf("redirect target got %d requests, want 0", n)
	}
}

func TestSend_RejectsBadDeliveries(t *testing.T) {
	var hits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	hostPort := srv.Listener.Addr().String()
	tests := []struct {
		name   string
		url    string
		id     string
		noKeys bool
	}{
		{"no signing key", "http://" + hostPort + "/", "evt", true},
		{"ftp scheme", "ftp://" + hostPort + "/", "evt", false},
		{"file scheme", "file:///etc/passwd", "evt", false},
		{"gopher scheme", "gopher://" + hostPort + "/", "evt", false},
		{"relative", "/hooks", "evt", false},
		{"no host", "http:///hooks", "evt", false},
		{"empty", "", "evt", false},
		{"unparsable", "http://[::1", "evt", false},
		{"no id", "http://" + hostPort + "/", "", false},
	}
	s := newSender(t, SenderOptions{AllowPrivate: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDelivery(tt.url)
			d.ID = tt.id
			if tt.noKeys {
				d.Keys = nil
			}
			res, err := s.Send(context.Background(), d)
			if !errors.Is(err, ErrInvalidDelivery) || res.StatusCode != 0 {
				t.Fatalf("Send(%q) = %d, %v; want ErrInvalidDelivery and no status", tt.url, res.StatusCode, err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("server got %d requests, want 0", n)
	}
}

func TestSend_SlowReceiverTimesOut(t *testing.T) {
	const attemptTimeout = 200 * time.Millisecond
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * attemptTimeout):
		}
	})
	// Cleanups run last-in first-out: the handler is released before
	// srv.Close waits for it.
	t.Cleanup(func() { close(release) })

	s := newSender(t, SenderOptions{AllowPrivate: true, AttemptTimeout: attemptTimeout})
	res, err := s.Send(context.Background(), testDelivery(srv.URL))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send error = %v, want a deadline exceeded", err)
	}
	if res.StatusCode != 0 {
		t.Fatalf("StatusCode = %d, want 0", res.StatusCode)
	}
	if res.Duration < attemptTimeout || res.Duration > attemptTimeout+time.Second {
		t.Fatalf("Duration = %s, want about %s", res.Duration, attemptTimeout)
	}
}

// TestSend_SlowBodyBoundedByAttemptTimeout: headers arrive at once, then the
// body stalls. The attempt still ends at AttemptTimeout, and since the status
// was 2xx it counts as delivered.
func TestSend_SlowBodyBoundedByAttemptTimeout(t *testing.T) {
	const attemptTimeout = 200 * time.Millisecond
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * attemptTimeout):
		}
	})
	t.Cleanup(func() { close(release) })

	s := newSender(t, SenderOptions{AllowPrivate: true, AttemptTimeout: attemptTimeout})
	res, err := s.Send(context.Background(), testDelivery(srv.URL))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.StatusCode != http.StatusOK || string(res.Body) != "partial" {
		t.Fatalf("Result = %d %q, want 200 %q", res.StatusCode, res.Body, "partial")
	}
	if res.Duration < attemptTimeout || res.Duration > attemptTimeout+time.Second {
		t.Fatalf("Duration = %s, want about %s", res.Duration, attemptTimeout)
	}
}

func TestSend_ResponseBodyCapped(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{"small", 10},
		{"exactly the cap", maxResponseBody},
		{"one over the cap", maxResponseBody + 1},
		{"past the drain bound", maxResponseBody + maxDrain + 1<<20},
	}
	s := newSender(t, SenderOptions{AllowPrivate: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := make([]byte, tt.size)
			for i := range full {
				full[i] = 'a' + byte(i%26)
			}
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write(full) })
			res, err := s.Send(context.Background(), testDelivery(srv.URL))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			want := full[:min(tt.size, 64<<10)]
			if !bytes.Equal(res.Body, want) {
				t.Fatalf("Body has %d bytes, want the first %d of the response", len(res.Body), len(want))
			}
		})
	}
}

// TestSend_ConnectionReuse checks that one transport keeps connections alive
// across sends, that an answer within the drain bound leaves its connection
// reusable, and that a longer one has its connection closed.
func TestSend_ConnectionReuse(t *testing.T) {
	var size atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), int(size.Load())))
	}))
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	s := newSender(t, SenderOptions{AllowPrivate: true})
	steps := []struct {
		respSize  int
		wantConns int64 // after the send
	}{
		{10, 1},
		{10, 1},
		{maxResponseBody + maxDrain/2, 1}, // drained: reusable
		{10, 1},
		{maxResponseBody + 2*maxDrain, 1}, // too long: closed after
		{10, 2},
		{10, 2},
	}
	for i, st := range steps {
		size.Store(int64(st.respSize))
		if _, err := s.Send(context.Background(), testDelivery(srv.URL)); err != nil {
			t.Fatalf("step %d: Send: %v", i, err)
		}
		if got := conns.Load(); got != st.wantConns {
			t.Fatalf("step %d (response %d bytes): %d connections opened, want %d", i, st.respSize, got, st.wantConns)
		}
	}
}

func TestSend_PerHostCap(t *testing.T) {
	const maxPerHost, sends = 2, 6
	var inHandler, peak, hits atomic.Int64
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inHandler.Add(1)
		defer inHandler.Add(-1)
		hits.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)

	s := newSender(t, SenderOptions{AllowPrivate: true, MaxPerHost: maxPerHost})
	errs := make(chan error, sends)
	for range sends {
		go func() {
			_, err := s.Send(context.Background(), testDelivery(srv.URL))
			errs <- err
		}()
	}
	waitFor(t, func() bool { return inHandler.Load() == maxPerHost })
	// Give the other senders time to break the cap if they could.
	time.Sleep(100 * time.Millisecond)
	if n := inHandler.Load(); n != maxPerHost {
		t.Fatalf("%d attempts in the handler, want %d", n, maxPerHost)
	}
	unblock()
	for range sends {
		if err := <-errs; err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if p := peak.Load(); p > maxPerHost {
		t.Fatalf("peak concurrency %d, want at most %d", p, maxPerHost)
	}
	if n := hits.Load(); n != sends {
		t.Fatalf("handler hits = %d, want %d", n, sends)
	}
}

func TestSend_PerHostWaitRespectsContext(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int64
	blocking := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
	})
	other := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	t.Cleanup(func() { close(release) })

	s := newSender(t, SenderOptions{AllowPrivate: true, MaxPerHost: 1})
	first := make(chan error, 1)
	go func() {
		_, err := s.Send(context.Background(), testDelivery(blocking.URL))
		first <- err
	}()
	waitFor(t, func() bool { return hits.Load() == 1 })

	// Another host:port has its own slots.
	if _, err := s.Send(context.Background(), testDelivery(other.URL)); err != nil {
		t.Fatalf("Send to another host while the first is busy: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, err := s.Send(ctx, testDelivery(blocking.URL))
	if !errors.Is(err, context.DeadlineExceeded) || res.StatusCode != 0 {
		t.Fatalf("second Send to a full host = %d, %v; want a deadline exceeded", res.StatusCode, err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("blocking server hits = %d, want 1", n)
	}
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatalf("first Send: %v", err)
	}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
