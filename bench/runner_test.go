package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestDrive_RequestCountIsExactAndErrorsStayOutOfLatencies(t *testing.T) {
	var calls atomic.Int64
	op := func(ctx context.Context) error {
		switch calls.Add(1) % 4 {
		case 0:
			return &StatusError{Code: 409, Body: "conflict"}
		case 1:
			time.Sleep(time.Millisecond)
			return nil
		case 2:
			return errors.New("connection reset")
		default:
			return nil
		}
	}
	ops := []Op{op, op, op}
	m := drive(context.Background(), Shape{Conns: 3, Requests: 400}, ops, nil)
	if got := m.ok + m.errors; got != 400 || calls.Load() != 400 {
		t.Fatalf("ok+errors %d, calls %d; want 400 each", got, calls.Load())
	}
	if m.ok != 200 || m.errKinds["409"] != 100 || m.errKinds["transport"] != 100 {
		t.Fatalf("ok %d, errors %v; want 200 ok, 100 409s, 100 transport", m.ok, m.errKinds)
	}
	if m.hist.Count() != uint64(m.ok) {
		t.Fatalf("histogram has %d values, want only the %d successes", m.hist.Count(), m.ok)
	}
	if m.errSamples["409"] != "HTTP 409: conflict" {
		t.Fatalf("409 sample %q", m.errSamples["409"])
	}
	var seriesOK int64
	for _, p := range m.series {
		seriesOK += p.Requests
	}
	if seriesOK != m.ok {
		t.Fatalf("series adds up to %d successes, totals say %d", seriesOK, m.ok)
	}
}

func TestDrive_OpenLoopMeasuresFromTheIntendedTime(t *testing.T) {
	// One worker, a request due every millisecond, and the first answer
	// takes 30ms: the requests due meanwhile start late, and their latency
	// must include the wait. A closed loop over the same ops would see only
	// the first slow request.
	newOp := func() Op {
		first := true
		return func(ctx context.Context) error {
			if first {
				first = false
				time.Sleep(30 * time.Millisecond)
			}
			return nil
		}
	}
	open := drive(context.Background(), Shape{Conns: 1, Requests: 20, Rate: 1000}, []Op{newOp()}, nil)
	if open.ok != 20 {
		t.Fatalf("open loop: %d ok, want 20", open.ok)
	}
	if p50 := open.hist.Quantile(0.5); p50 < 10*time.Millisecond {
		t.Errorf("open loop p50 %v: the requests queued behind the slow one must count their wait (>= 10ms)", p50)
	}
	if open.late < 15 {
		t.Errorf("open loop: %d late starts, want at least 15 of the 19 queued", open.late)
	}

	closed := drive(context.Background(), Shape{Conns: 1, Requests: 20}, []Op{newOp()}, nil)
	if p50 := closed.hist.Quantile(0.5); p50 >= 10*time.Millisecond {
		t.Errorf("closed loop p50 %v: only the first request was slow", p50)
	}
	if closed.late != 0 {
		t.Errorf("closed loop counted %d late starts", closed.late)
	}
}

func TestDrive_OpenLoopKeepsTheRate(t *testing.T) {
	var calls atomic.Int64
	op := func(ctx context.Context) error { calls.Add(1); return nil }
	start := time.Now()
	m := drive(context.Background(), Shape{Conns: 2, Duration: 300 * time.Millisecond, Rate: 100}, []Op{op, op}, nil)
	if m.ok != 30 {
		t.Fatalf("%d requests in 300ms at 100/s, want exactly 30 slots", m.ok)
	}
	if took := time.Since(start); took < 280*time.Millisecond {
		t.Fatalf("finished after %v: slots were sent ahead of schedule", took)
	}
}

func TestDrive_InterruptStopsAndDoesNotCountCancelledRequestsAsErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int64
	block := func(ctx context.Context) error {
		started.Add(1)
		<-ctx.Done() // a request that never answers
		return ctx.Err()
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	begin := time.Now()
	m := drive(ctx, Shape{Conns: 2, Duration: time.Minute}, []Op{block, block}, nil)
	if took := time.Since(begin); took > drainGrace+5*time.Second {
		t.Fatalf("drive took %v after the interrupt", took)
	}
	if m.errors != 0 || m.aborted != 2 || started.Load() != 2 {
		t.Fatalf("errors %d, aborted %d, started %d; want 0, 2, 2", m.errors, m.aborted, started.Load())
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		kind string
	}{
		{&StatusError{Code: 503, Body: "draining"}, "503"},
		{context.DeadlineExceeded, "timeout"},
		{errors.New("dial tcp: connection refused"), "transport"},
	}
	for _, tt := range tests {
		if kind, _ := classify(tt.err); kind != tt.kind {
			t.Errorf("classify(%v) = %q, want %q", tt.err, kind, tt.kind)
		}
	}
}
