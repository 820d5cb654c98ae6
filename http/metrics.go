package httpapi

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
)

// httpMetrics are the request metrics. The route label is the router
// pattern ("/api/v1/invoices/:invoice_id"), never the raw path, so the label
// set stays bounded; requests no route matched are "unmatched".
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// newHTTPMetrics returns nil without a registry: nothing is measured then.
func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	if reg == nil {
		return nil
	}
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "invoiced_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "invoiced_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "invoiced_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight)
	return m
}

// routeMetrics are one route's series, resolved when the route is
// registered: looking children up by label values (hashing the strings
// under the vector's lock) on every request was a tenth of a cached GET's
// handler time.
type routeMetrics struct {
	route, method string
	duration      prometheus.Observer
	requests      *prometheus.CounterVec
	// codes holds the counters of the status codes seen so far, copied on
	// write: a route answers a handful of codes.
	codes atomic.Pointer[[]codeCounter]
}

type codeCounter struct {
	code int
	c    prometheus.Counter
}

// forRoute resolves pattern's series for method; nil without metrics.
func (m *httpMetrics) forRoute(pattern, method string) *routeMetrics {
	if m == nil {
		return nil
	}
	return &routeMetrics{route: pattern, method: method, duration: m.duration.WithLabelValues(pattern, method), requests: m.requests}
}

// counter is the requests counter of code.
func (rm *routeMetrics) counter(code int) prometheus.Counter {
	for {
		old := rm.codes.Load()
		if old != nil {
			for _, c := range *old {
				if c.code == code {
					return c.c
				}
			}
		}
		c := rm.requests.WithLabelValues(rm.route, rm.method, strconv.Itoa(code))
		next := append([]codeCounter{{code, c}}, derefCodes(old)...)
		if rm.codes.CompareAndSwap(old, &next) {
			return c
		}
	}
}

func derefCodes(p *[]codeCounter) []codeCounter {
	if p == nil {
		return nil
	}
	return *p
}

// labelled wraps h so the request's metrics are rm's (nil: none).
func labelled(rm *routeMetrics, h httprouter.Handle) httprouter.Handle {
	if rm == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if t, ok := w.(*tracked); ok {
			t.route = rm
		}
		h(w, r, ps)
	}
}

// router registers routes with their pattern as the metrics label, and
// records each one in routes so the OpenAPI test can compare the document
// with what is really served.
type router struct {
	*httprouter.Router
	routes  *[]Route
	metrics *httpMetrics
}

func (rt router) GET(p string, h httprouter.Handle)    { rt.handle(http.MethodGet, p, h) }
func (rt router) POST(p string, h httprouter.Handle)   { rt.handle(http.MethodPost, p, h) }
func (rt router) PATCH(p string, h httprouter.Handle)  { rt.handle(http.MethodPatch, p, h) }
func (rt router) DELETE(p string, h httprouter.Handle) { rt.handle(http.MethodDelete, p, h) }
func (rt router) Handler(method, p string, h http.Handler) {
	rt.handle(method, p, func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { h.ServeHTTP(w, r) })
}

func (rt router) handle(method, p string, h httprouter.Handle) {
	rt.Handle(method, p, labelled(rt.metrics.forRoute(p, method), h))
	if rt.routes != nil {
		*rt.routes = append(*rt.routes, Route{Method: method, Pattern: p})
	}
}

// tracked is the ResponseWriter ServeHTTP hands down: it remembers the
// status code written and the route's metrics (set by labelled), in the one
// allocation a request's bookkeeping takes.
type tracked struct {
	http.ResponseWriter
	code  int
	route *routeMetrics // nil: no route matched, or no metrics
}

func (t *tracked) WriteHeader(code int) {
	if t.code == 0 {
		t.code = code
	}
	t.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (t *tracked) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t *tracked) Write(b []byte) (int, error) {
	if t.code == 0 {
		t.code = http.StatusOK
	}
	return t.ResponseWriter.Write(b)
}

// serve serves r through next as t and records its metrics.
func (m *httpMetrics) serve(t *tracked, r *http.Request, next func(http.ResponseWriter, *http.Request)) {
	if m == nil {
		next(t, r)
		return
	}
	m.inFlight.Inc()
	start := time.Now()
	defer m.done(t, r, start)
	next(t, r)
}

// done records a request served by t since start.
func (m *httpMetrics) done(t *tracked, r *http.Request, start time.Time) {
	m.inFlight.Dec()
	code := t.code
	if code == 0 {
		code = http.StatusOK
	}
	took := time.Since(start).Seconds()
	if t.route == nil {
		m.duration.WithLabelValues("unmatched", r.Method).Observe(took)
		m.requests.WithLabelValues("unmatched", r.Method, strconv.Itoa(code)).Inc()
		return
	}
	t.route.duration.Observe(took)
	t.route.counter(code).Inc()
}
