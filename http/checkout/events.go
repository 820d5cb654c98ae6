package checkout

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/invoiced/invoiced/engine"
)

// streams counts the open live status streams, in total and per client IP,
// and ends them all when the server drains.
type streams struct {
	max, maxPerIP int

	mu     sync.Mutex // guards the fields below
	total  int
	perIP  map[netip.Addr]int
	done   chan struct{} // closed by close
	closed bool
}

func newStreams(max, maxPerIP int) *streams {
	return &streams{max: max, maxPerIP: maxPerIP, perIP: map[netip.Addr]int{}, done: make(chan struct{})}
}

// acquire takes a stream slot for ip, or returns the status that refuses
// it: 429 when ip has too many, 503 when the server has.
func (s *streams) acquire(ip netip.Addr) (release func(), status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, http.StatusServiceUnavailable
	case s.perIP[ip] >= s.maxPerIP:
		return nil, http.StatusTooManyRequests
	case s.total >= s.max:
		return nil, http.StatusServiceUnavailable
	}
	s.perIP[ip]++
	s.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.perIP[ip]--; s.perIP[ip] == 0 {
				delete(s.perIP, ip)
			}
		})
	}, 0
}

// open is the number of streams open now.
func (s *streams) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *streams) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// statusView is the live status of a page: the state, and the state
// section as the page renders it, so the script swaps in server-rendered,
// escaped HTML and never builds markup itself.
type statusView struct {
	Status  engine.Status `json:"status"`
	State   string        `json:"state"`
	Final   bool          `json:"final"`
	Version uint64        `json:"version"`
	HTML    string        `json:"html"`
}

func (h *Handler) status(inv engine.Invoice, lang string) ([]byte, error) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, "state", h.view(inv, lang)); err != nil {
		return nil, fmt.Errorf("render state of %s: %w", inv.ID, err)
	}
	return json.Marshal(statusView{Status: inv.Status, State: state(inv.Status), Final: final(inv.Status), Version: inv.Version, HTML: b.String()})
}

// Status serves GET /i/:invoice_id/status: the live status as JSON, for
// browsers that cannot keep a stream open.
func (h *Handler) Status(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	h.secure(w)
	inv, err := h.invoice(ps)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b, err := h.status(inv, pickLanguage(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// Events serves GET /i/:invoice_id/events, the live status as Server-Sent
// Events: a "state" event now and after every commit of the invoice,
// until it is final. It follows the invoice's commits rather than reading
// it on a timer, so an open page costs no store reads and keeps no actor
// alive.
func (h *Handler) Events(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	h.secure(w)
	release, refused := h.streams.acquire(h.cfg.ClientIP(r))
	switch refused {
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "30")
		h.cfg.Error(w, r, refused, "too_many_streams", fmt.Sprintf("at most %d live status streams per client; close other pages or poll the status", h.streams.maxPerIP))
		return
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "30")
		h.cfg.Error(w, r, refused, "streams_unavailable", "no live status stream is available right now; poll the status instead")
		return
	}
	defer release()
	inv, err := h.invoice(ps)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Follow, then read again: a commit between the first read and Follow
	// would otherwise be missed. Older states are skipped by version.
	states, stop := h.cfg.Invoices.Follow(inv.ID)
	defer stop()
	if inv, err = h.invoice(ps); err != nil {
		h.fail(w, r, err)
		return
	}
	lang := pickLanguage(r)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: pass events through at once
	w.WriteHeader(http.StatusOK)
	send := func(chunk string) bool {
		// Each write gets its own deadline: the server's WriteTimeout
		// would end the stream, and a stalled client must not hold a slot.
		rc.SetWriteDeadline(time.Now().Add(h.cfg.Heartbeat + 10*time.Second))
		if _, err := fmt.Fprint(w, chunk); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	sendState := func(inv engine.Invoice) bool {
		b, err := h.status(inv, lang)
		if err != nil {
			h.cfg.Logger.Error("checkout stream", "err", err)
			return false
		}
		return send("event: state\ndata: " + string(b) + "\n\n")
	}
	if !send("retry: 5000\n\n") || !sendState(inv) || final(inv.Status) {
		return
	}
	last := inv.Version
	// The heartbeat keeps proxies and the write deadline above from
	// closing an idle stream: a transport keepalive measured against the
	// network's own wall-clock deadlines, so it runs on the wall clock.
	// No invoice decision depends on it (those take the injected clock).
	heartbeat := time.NewTicker(h.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.streams.done:
			return
		case <-heartbeat.C:
			if !send(": keep-alive\n\n") {
				return
			}
		case next := <-states:
			if next.Version <= last {
				continue
			}
			last = next.Version
			if !sendState(next) || final(next.Status) {
				return
			}
		}
	}
}
