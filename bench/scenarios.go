package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/invoiced/invoiced/server"
)

// Env is what request scenarios run against: one server, the run's own
// project and the seeded invoices. It is built once per run and read-only
// afterwards.
type Env struct {
	Client     *http.Client
	BaseURL    string // http://host:port
	ProjectKey string
	// Nonce is unique to the run; every order_id starts with it.
	Nonce string
	// Invoices are the ids of the seeded invoices (Scenario.Seeded).
	Invoices []string
	// SeededAt is just before seeding; list queries filter by it.
	SeededAt time.Time
	// Server is the in-process server, nil when driving -url. (Event
	// scenarios start servers of their own.)
	Server *server.Server
}

// Scenario is a named load of the engine: a stream of requests (NewOp) or
// an event scenario (Run).
//
// A request scenario's workers each get their own Op from NewOp, called
// once before the warmup, so per-worker state (order_id counters, random
// streams) needs no locks; the run's Shape drives them.
//
// An event scenario (payments, expiry, restart, webhooks) is not a stream
// of requests: Run sets up its own load on a server of its own, waits for
// the engine to work through it, and returns its figures; the Shape's
// conns only bound its setup requests.
type Scenario struct {
	Name string
	Help string
	// Seeded scenarios read invoices; the run creates Env.Invoices first.
	Seeded bool
	NewOp  func(env *Env, worker int) Op
	Run    func(ctx context.Context, x *eventRun) (Result, error)
	// InProcess event scenarios need the server in-process (the dev chain,
	// a settable clock or a restart): they cannot drive -url.
	InProcess bool
	// Named scenarios run only when named, not with their group: the
	// storm takes minutes.
	Named bool
}

// Event reports whether s is an event scenario.
func (s Scenario) Event() bool { return s.Run != nil }

// scenarios is the registry, in the order "all" runs them. restart goes
// first among the event scenarios: the servers of the others keep some
// memory until their actors' idle timers fire (see runRestart).
var scenarios = []Scenario{
	{Name: "create", Help: "POST /api/v1/invoices with a unique order_id each (durable: one synced batch per create)", NewOp: func(env *Env, worker int) Op {
		return newCreateOp(env, "c", worker)
	}},
	{Name: "get", Help: "GET /api/v1/invoices/{id} of a random seeded invoice", Seeded: true, NewOp: newGetOp},
	{Name: "list", Help: "GET /api/v1/invoices with rotating status/currency/created filters, sorts, pages and page sizes", Seeded: true, NewOp: newListOp},
	{Name: "mixed", Help: fmt.Sprintf("merchant traffic: %d%% get, %d%% create, %d%% list", mixGet, mixCreate, 100-mixGet-mixCreate), Seeded: true, NewOp: newMixedOp},
	{Name: "restart", InProcess: true, Run: runRestart,
		Help: "-restart-invoices invoices, shutdown, start again on the same data dir: time to /readyz 200 and to the first GET, RSS before and after"},
	{Name: "payments", InProcess: true, Run: runPayments,
		Help: "-blocks dev chain blocks, each paying -block-outputs invoices exactly (plus -watched unpaid ones watched): time from Mine to every invoice completed on /metrics, payments matched/s, per-invoice latency"},
	{Name: "expiry", InProcess: true, Run: runExpiry,
		Help: "-expiry-invoices invoices with expire_min 1 created under a stopped clock, then the clock moved past expires_at: time until /metrics shows them all expired"},
	{Name: "webhooks", Run: runWebhooks,
		Help: "-webhook-invoices invoices with a callback_url to a loopback sink, each cancelled by PATCH: deliveries/s and PATCH-to-delivered latency (with -url: the server must be on this machine and allow private callbacks)"},
	{Name: "storm", InProcess: true, Named: true, Run: runStorm,
		Help: "creates measured while -storm-invoices invoices expire at one instant, their webhooks to a -storm-receiver that is dead or slow (9 s): ratio and p99 to the quiet phase, RSS, backlog, and a healthy project's webhook latency meanwhile"},
}

// Scenario groups, besides single names.
const (
	groupAll      = "all"
	groupRequests = "requests"
	groupEvents   = "events"
)

// The mixed scenario's shares, in percent; list gets the rest.
const (
	mixGet    = 60
	mixCreate = 30
)

// Scenarios returns the registry.
func Scenarios() []Scenario { return slices.Clone(scenarios) }

// LookupScenarios resolves a comma-separated list of names and groups
// ("requests": create, get, list, mixed; "events": restart, payments,
// expiry, webhooks; "all": both) to scenarios in registry order, without
// duplicates. An empty spec is "requests".
func LookupScenarios(spec string) ([]Scenario, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		spec = groupRequests
	}
	want := map[string]bool{}
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case groupAll, groupRequests, groupEvents:
			for _, s := range scenarios {
				if !s.Named && (name == groupAll || (name == groupEvents) == s.Event()) {
					want[s.Name] = true
				}
			}
			continue
		}
		if !slices.ContainsFunc(scenarios, func(s Scenario) bool { return s.Name == name }) {
			return nil, fmt.Errorf("unknown scenario %q; have %s (or the groups %s, %s, %s)", name, strings.Join(scenarioNames(scenarios), ", "), groupRequests, groupEvents, groupAll)
		}
		want[name] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no scenario named in %q", spec)
	}
	var out []Scenario
	for _, s := range scenarios {
		if want[s.Name] {
			out = append(out, s)
		}
	}
	return out, nil
}

func scenarioNames(ss []Scenario) []string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	return names
}

// invoiceBody is a create request for orderID. Currencies, prices and the
// pricing kind rotate with n so that list filters and sorts see variety; the
// JSON is put together from constant pieces rather than encoded.
func invoiceBody(orderID string, n uint64) []byte {
	cryptoPrices := [...]string{"0.0012", "1.5", "0.05", "25.5"}
	currencies := [...]string{"BTC", "LTC", "ETH", "USDT"}
	c := n % uint64(len(currencies))
	b := make([]byte, 0, 160)
	b = append(b, `{"order_id":"`...)
	b = append(b, orderID...)
	if n%5 == 0 {
		b = append(b, `","crypto_amount":"`...)
		b = append(b, cryptoPrices[c]...)
	} else {
		b = append(b, `","fiat_amount":"`...)
		b = strconv.AppendUint(b, 5+n%997, 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, 10+n%90, 10)
		b = append(b, `","fiat_currency":"EUR`...)
	}
	b = append(b, `","currency":"`...)
	b = append(b, currencies[c]...)
	b = append(b, `"}`...)
	return b
}

// newCreateOp creates invoices with order_ids nonce-tag-worker-n: the tag
// keeps scenarios of one run (and the seeding) from repeating an order_id,
// which the API would answer as an idempotent replay instead of a create.
func newCreateOp(env *Env, tag string, worker int) Op {
	url := env.BaseURL + "/api/v1/invoices"
	prefix := env.Nonce + "-" + tag + strconv.Itoa(worker) + "-"
	var n uint64
	return func(ctx context.Context) error {
		n++
		// A fresh body per request: after a transport error the Transport
		// may still be reading the previous one.
		req, err := apiRequest(ctx, http.MethodPost, url, env.ProjectKey, invoiceBody(prefix+strconv.FormatUint(n, 10), n))
		if err != nil {
			return err
		}
		return send(env.Client, req, nil)
	}
}

func newGetOp(env *Env, worker int) Op {
	urls := make([]string, len(env.Invoices))
	for i, id := range env.Invoices {
		urls[i] = env.BaseURL + "/api/v1/invoices/" + id
	}
	rng := rand.New(rand.NewPCG(uint64(worker), 0x9e7))
	return func(ctx context.Context) error {
		if len(urls) == 0 {
			return fmt.Errorf("get: no seeded invoices")
		}
		req, err := apiRequest(ctx, http.MethodGet, urls[rng.IntN(len(urls))], env.ProjectKey, nil)
		if err != nil {
			return err
		}
		return send(env.Client, req, nil)
	}
}

// listQueries are the list requests a list worker cycles through: every
// filter family, each sort field in both orders, later pages and the
// largest page size.
func listQueries(seededAt time.Time) []string {
	after := url.QueryEscape(seededAt.Add(-time.Minute).UTC().Format(time.RFC3339Nano))
	return []string{
		"",
		"?status=new",
		"?currency=BTC",
		"?status=new&currency=ETH",
		"?sort_by=crypto_amount&sort_order=asc",
		"?sort_by=fiat_amount&sort_order=desc&page_size=50",
		"?sort_by=updated_at&sort_order=asc&page=3",
		"?currency=LTC&sort_by=crypto_amount&sort_order=desc&page_size=100",
		"?created_after=" + after + "&page=2",
		"?status=new&currency=USDT&sort_by=fiat_amount&sort_order=asc&page_size=10",
	}
}

func newListOp(env *Env, worker int) Op {
	qs := listQueries(env.SeededAt)
	urls := make([]string, len(qs))
	for i, q := range qs {
		urls[i] = env.BaseURL + "/api/v1/invoices" + q
	}
	i := worker // workers start at different queries
	return func(ctx context.Context) error {
		u := urls[i%len(urls)]
		i++
		req, err := apiRequest(ctx, http.MethodGet, u, env.ProjectKey, nil)
		if err != nil {
			return err
		}
		return send(env.Client, req, nil)
	}
}

func newMixedOp(env *Env, worker int) Op {
	get, create, list := newGetOp(env, worker), newCreateOp(env, "m", worker), newListOp(env, worker)
	rng := rand.New(rand.NewPCG(uint64(worker), 0x31d))
	return func(ctx context.Context) error {
		switch r := rng.IntN(100); {
		case r < mixGet:
			return get(ctx)
		case r < mixGet+mixCreate:
			return create(ctx)
		default:
			return list(ctx)
		}
	}
}
