package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// metricsServer answers /metrics with jobs[i] running background jobs on
// its i-th scrape (the last value afterwards); jobs nil = no such metric.
func metricsServer(t *testing.T, jobs []int) (*Env, *atomic.Int64) {
	t.Helper()
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(scrapes.Add(1) - 1)
		fmt.Fprintln(w, "invoiced_http_requests_in_flight 1")
		if jobs != nil {
			n := jobs[min(i, len(jobs)-1)]
			fmt.Fprintf(w, "invoiced_pebble_background_jobs{kind=\"flush\"} 0\ninvoiced_pebble_background_jobs{kind=\"compaction\"} %d\n", n)
		}
	}))
	t.Cleanup(srv.Close)
	return &Env{Client: srv.Client(), BaseURL: srv.URL}, &scrapes
}

func TestQuiesce(t *testing.T) {
	for _, tt := range []struct {
		name        string
		jobs        []int
		wantQuiet   bool
		wantScrapes int64
	}{
		{"idle store", []int{0}, true, quiesceQuiet},
		{"waits for compactions", []int{2, 1, 0, 0, 0}, true, 2 + quiesceQuiet},
		{"a job between quiet polls restarts the count", []int{0, 0, 1, 0, 0, 0}, true, 3 + quiesceQuiet},
		{"older server without the metric", nil, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, scrapes := metricsServer(t, tt.jobs)
			_, quiet := quiesce(context.Background(), env)
			if quiet != tt.wantQuiet || scrapes.Load() != tt.wantScrapes {
				t.Fatalf("quiet %v after %d scrapes, want %v after %d", quiet, scrapes.Load(), tt.wantQuiet, tt.wantScrapes)
			}
		})
	}
}

func TestFinish_NotesTheQuiesceWaits(t *testing.T) {
	rep := &Report{Settings: Settings{Conns: 64, Loop: "closed"}, Scenarios: []Result{
		{Name: "create", Requests: 1, QuiesceS: 0.01}, {Name: "get", Requests: 1, QuiesceS: 2.34},
	}}
	rep.finish()
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "get 2.3s") || strings.Contains(notes, "create 0.0s") {
		t.Fatalf("notes %q: want the get phase's wait and not create's", notes)
	}
}
