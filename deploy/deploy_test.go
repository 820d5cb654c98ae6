package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/invoiced/invoiced/internal/apitest"
	"github.com/invoiced/invoiced/server"
)

const (
	dashboardFile = "grafana/invoiced.json"
	alertsFile    = "prometheus/alerts.yml"
	accountKey    = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
)

// metricName finds metric names in PromQL loosely: our own and the Go and
// process collectors'. Histogram series keep their _bucket/_sum/_count
// suffix, which is how they appear in a scrape too.
var metricName = regexp.MustCompile(`\b(?:invoiced|go|process)_[a-zA-Z0-9_]+\b`)

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
	// Templating queries (label_values(...)) reference metrics too.
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func loadAlerts(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var rules []rule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// dashboardExprs are every PromQL expression of the dashboard: panel
// targets and templating queries.
func dashboardExprs(d dashboard) []string {
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		out = append(out, v.Definition)
	}
	return out
}

func alertExprs(rules []rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.Expr
	}
	return out
}

func metricNames(exprs []string) []string {
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			seen[n] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// balanced reports whether the brackets of a PromQL expression pair up,
// outside string literals: a cheap guard against a mangled edit.
func balanced(expr string) bool {
	var stack []rune
	inString := rune(0)
	for _, c := range expr {
		switch {
		case inString != 0:
			if c == inString {
				inString = 0
			}
		case c == '"' || c == '\'':
			inString = c
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			open := map[rune]rune{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && inString == 0
}

// scrapeAfterPayment starts a real dev-mode server, creates an invoice, pays
// and confirms it through /dev/pay and /dev/mine, and returns /metrics.
func scrapeAfterPayment(t *testing.T) string {
	t.Helper()
	srv, err := server.Start(server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), Mode: "dev", BootstrapAccountKey: accountKey,
		ChainPoll: 10 * time.Millisecond, ExpiryInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	base := "http://" + srv.Addr
	call := func(method, path, key, body string, want int) map[string]any {
		t.Helper()
		status, b := apitest.Call(t, base, method, path, key, body)
		if status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
		}
		var out map[string]any
		apitest.Decode(t, b, &out)
		return out
	}
	key := call("POST", "/api/v1/projects", accountKey, `{"name":"ops"}`, 201)["api_key"].(string)
	inv := call("POST", "/api/v1/invoices", key, `{"order_id":"o-1","crypto_amount":"0.001","currency":"BTC"}`, 201)
	id := inv["invoice_id"].(string)
	addr := inv["blockchain_details"].(map[string]any)["blockchainAddress"].(string)
	call("POST", "/dev/pay", "", fmt.Sprintf(`{"currency":"BTC","address":%q,"amount":"0.001"}`, addr), 200)
	call("POST", "/dev/mine", "", `{"currency":"BTC","blocks":1}`, 200)
	// The status counter is bumped by the invoice actor after its commit,
	// so a GET can already read "completed" a moment before the counter
	// moves: wait for the scrape itself to show the transition. It is
	// new->completed when the poller met the payment only in the block.
	scrape := func() string {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s := scrape(); strings.Contains(s, `,to="completed"} 1`) {
			if call("GET", "/api/v1/invoices/"+id, key, "", 200)["status"] != "completed" {
				t.Fatal("the completed transition is counted but the invoice does not read completed")
			}
			return s
		}
		if time.Now().After(deadline) {
			var counted []string
			for _, l := range strings.Split(scrape(), "\n") {
				if strings.HasPrefix(l, "invoiced_invoice_status_transitions_total") {
					counted = append(counted, l)
				}
			}
			t.Fatalf("the paid invoice never completed: status %v, transitions counted %q",
				call("GET", "/api/v1/invoices/"+id, key, "", 200)["status"], counted)
		}
	}
}

// sampleNames are the series names of a text exposition: the name before
// the labels or the value on every sample line.
func sampleNames(scrape string) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(scrape))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func TestDeploy_EveryQueriedMetricIsExposed(t *testing.T) {
	exposed := sampleNames(scrapeAfterPayment(t))
	for file, exprs := range map[string][]string{
		dashboardFile: dashboardExprs(loadDashboard(t)),
		alertsFile:    alertExprs(loadAlerts(t)),
	} {
		names := metricNames(exprs)
		if len(names) < 5 {
			t.Errorf("%s: only %d metrics found (%v); is the parser broken?", file, len(names), names)
		}
		for _, n := range names {
			if !exposed[n] {
				t.Errorf("%s queries %s, which /metrics does not expose", file, n)
			}
		}
	}
}

func TestDashboard_CoversTheOperatorsView(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q", d.UID, d.Title)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the $datasource variable", p.Title)
		}
		if len(p.Targets) == 0 || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q: %d targets, size %dx%d", p.Title, len(p.Targets), p.GridPos.W, p.GridPos.H)
		}
		for _, tg := range p.Targets {
			if !balanced(tg.Expr) || !strings.Contains(tg.Expr, `job=~"$job"`) {
				t.Errorf("panel %q: expression %q is unbalanced or ignores $job", p.Title, tg.Expr)
			}
		}
	}
	used := metricNames(dashboardExprs(d))
	for topic, metric := range map[string]string{
		"request rate and errors": "invoiced_http_requests_total",
		"latency":                 "invoiced_http_request_duration_seconds_bucket",
		"invoices by status":      "invoiced_invoices",
		"payments":                "invoiced_chain_payments_matched_total",
		"webhook backlog":         "invoiced_webhook_backlog",
		"webhook deliveries":      "invoiced_webhook_deliveries_total",
		"Pebble latency":          "invoiced_pebble_wal_fsync_duration_seconds_bucket",
		"chain lag (processed)":   "invoiced_chain_height",
		"chain lag (node)":        "invoiced_chain_node_height",
	} {
		if !slices.Contains(used, metric) {
			t.Errorf("no panel shows %s (%s)", topic, metric)
		}
	}
}

func TestAlerts_WellFormedAndCoverTheOperatorsView(t *testing.T) {
	rules := loadAlerts(t)
	names := map[string]bool{}
	for _, r := range rules {
		if r.Alert == "" || names[r.Alert] {
			t.Errorf("alert name %q missing or repeated", r.Alert)
		}
		names[r.Alert] = true
		if strings.TrimSpace(r.Expr) == "" || !balanced(r.Expr) {
			t.Errorf("%s: expression %q empty or unbalanced", r.Alert, r.Expr)
		}
		if _, err := time.ParseDuration(r.For); err != nil {
			t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary and description are required", r.Alert)
		}
	}
	for _, want := range []string{
		"InvoicedWebhookBacklogGrowing", "InvoicedChainLag", "InvoicedHTTP5xxRate", "InvoicedPebbleFsyncSlow",
	} {
		if !names[want] {
			t.Errorf("no alert %s", want)
		}
	}
}
