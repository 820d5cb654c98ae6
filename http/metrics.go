package httpapi

import (
	"net/http"
	"strconv"
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

// routeSlot returns the route pattern slot ServeHTTP put in the context,
// or nil outside ServeHTTP.
func routeSlot(r *http.Request) *string {
	if info, _ := r.Context().Value(requestKey{}).(*requestInfo); info != nil {
		return &info.route
	}
	return nil
}

// labelled wraps h so the request's metrics carry pattern as its route.
func labelled(pattern string, h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if p := routeSlot(r); p != nil {
			*p = pattern
		}
		h(w, r, ps)
	}
}

// router registers routes with their pattern as the metrics label, and
// records each one in routes so the OpenAPI test can compare the document
// with what is really served.
type router struct {
	*httprouter.Router
	routes *[]Route
}

func (rt router) GET(p string, h httprouter.Handle)    { rt.handle(http.MethodGet, p, h) }
func (rt router) POST(p string, h httprouter.Handle)   { rt.handle(http.MethodPost, p, h) }
func (rt router) PATCH(p string, h httprouter.Handle)  { rt.handle(http.MethodPatch, p, h) }
func (rt router) DELETE(p string, h httprouter.Handle) { rt.handle(http.MethodDelete, p, h) }
func (rt router) Handler(method, p string, h http.Handler) {
	rt.handle(method, p, func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { h.ServeHTTP(w, r) })
}

func (rt router) handle(method, p string, h httprouter.Handle) {
	rt.Handle(method, p, labelled(p, h))
	if rt.routes != nil {
		*rt.routes = append(*rt.routes, Route{Method: method, Pattern: p})
	}
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// instrument serves r through next and records its metrics.
func (m *httpMetrics) instrument(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) {
	if m == nil {
		next(w, r)
		return
	}
	route := routeSlot(r)
	if route == nil {
		unmatched := "unmatched"
		route = &unmatched
	}
	rec := &statusRecorder{ResponseWriter: w}
	m.inFlight.Inc()
	start := time.Now()
	defer func() {
		m.inFlight.Dec()
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		m.duration.WithLabelValues(*route, r.Method).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(*route, r.Method, strconv.Itoa(code)).Inc()
	}()
	next(rec, r)
}
