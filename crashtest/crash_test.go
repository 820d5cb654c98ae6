package crashtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s: want a positive integer, got %q", name, v)
	}
	return n
}

// TestCrash_KillAtRandomMoments is the crash harness (see the package
// comment). INVOICED_CRASH_ITERATIONS sets the number of kills (default 8,
// about 20 s; 3 under the race detector); INVOICED_CRASH_SEED replays the timing choices.
func TestCrash_KillAtRandomMoments(t *testing.T) {
	def := 8
	if raceEnabled {
		def = 3 // the race detector makes each check of the store ~5x slower; CI runs the default without it too
	}
	iterations := envInt(t, "INVOICED_CRASH_ITERATIONS", def)
	if testing.Short() {
		iterations = min(iterations, 2)
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("INVOICED_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("INVOICED_CRASH_SEED: %v", err)
		}
	}
	t.Logf("crash test: %d iterations, seed %d (INVOICED_CRASH_SEED to replay the timing)", iterations, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	a := newAcked()
	sk := newSink(t)

	p := startProc(t, dir)
	var proj struct {
		ProjectID uuid.UUID `json:"project_id"`
		APIKey    string    `json:"api_key"`
	}
	p.mustDo("POST", "/api/v1/projects", accountKey, `{"name":"crash"}`, 201, &proj)
	sk.key.Store(proj.APIKey)
	// The sink fails some first attempts in the first quarter of the kills
	// only, so their retries (10 s later, the first step of the fixed retry
	// schedule) are due before the run ends. Runs of fewer than 4 kills
	// (-short, the race run) would only wait for them: they fail none.
	failKills := iterations / 4
	defer func() {
		if p != nil {
			p.kill()
		}
	}()

	var checkedPaid, checkedStreams int
	for i := range iterations {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		sk.failing.Store(i < failKills)
		l := &load{p: p, key: proj.APIKey, a: a, callback: sk.url()}
		go func() {
			defer close(done)
			l.run(ctx, seed+uint64(i))
		}()
		// Let the load run, then kill in the middle of it: requests are in
		// flight, commits half way through the pipeline.
		time.Sleep(time.Duration(100+rng.IntN(1100)) * time.Millisecond)
		p.kill()
		cancel()
		<-done

		facts := verifyStore(t, dir, a)
		checkedStreams += facts.report.Streams

		p = startProc(t, dir)
		checkedPaid += settle(t, p, dir, proj.APIKey, a)
		var list struct {
			Pagination struct {
				Total int `json:"total_records"`
			} `json:"pagination"`
		}
		p.mustDo("GET", "/api/v1/invoices?page_size=1", proj.APIKey, "", 200, &list)
		if want := facts.byProject[proj.ProjectID]; list.Pagination.Total != want {
			t.Fatalf("iteration %d: list total %d after restart, the store holds %d invoices of the project", i, list.Pagination.Total, want)
		}
		a.mu.Lock()
		t.Logf("kill %d survived: %d invoices, %d PATCHes, %d payments, %d mines acknowledged so far; %d invoices with payments matched the chain; cursors %v",
			i+1, len(a.invoices), len(a.patches), a.payments, a.mines, checkedPaid, facts.cursors)
		a.mu.Unlock()
	}
	// Every webhook owed is delivered: wait for the backlog to drain (the
	// retries of failed attempts included), then compare the store's
	// outbox with what the sink received.
	sk.failing.Store(false)
	waitStart := time.Now()
	settled := awaitWebhooks(t, p, sk, 60*time.Second)
	waited := time.Since(waitStart)
	// A graceful stop leaves a store as consistent as a crash does.
	if err := p.stop(); err != nil {
		t.Fatalf("graceful stop: %v\n%s", err, p.stderr)
	}
	p = nil
	facts := verifyStore(t, dir, a)
	checkStart := time.Now()
	wf := verifyWebhooks(t, dir, facts, a, sk, settled)
	t.Logf("webhooks: %d owed, %d in the outbox, all received (%d pending, written after the backlog drained); %d deliveries to the sink: %d duplicates (a kill between delivery and its record), %d retried after a 500; waited %s for the backlog, checked in %s",
		wf.owed, wf.records, wf.late, wf.deliveries, wf.duplicates, wf.retried, waited.Round(time.Millisecond), time.Since(checkStart).Round(time.Millisecond))
	a.mu.Lock()
	defer a.mu.Unlock()
	t.Logf("%d kill iterations survived (seed %d): %d requests (%d 2xx, %d refused or cut by a kill, %d other); acknowledged %d invoices, %d PATCHes, %d payments, %d mines; final store %d invoices, %d events; %s",
		iterations, seed, a.sent, a.ok2xx, a.failed, a.other, len(a.invoices), len(a.patches), a.payments, a.mines,
		facts.report.Streams, facts.report.Events, fmt.Sprintf("%d stream checks, %d invoices with payments matched to the chain", checkedStreams, checkedPaid))
}
