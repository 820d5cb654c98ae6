package invoice

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/invoiced/invoiced/actors/internal/actortest"
	"github.com/invoiced/invoiced/engine"
)

// TestRenderCache_ExactVersionAndByteBound: a read gets only the version it
// asks for, an older version never replaces a newer one, the cache keeps
// its own copy, and however much is kept the bytes held stay within the
// bound, each shard counting exactly what it holds.
func TestRenderCache_ExactVersionAndByteBound(t *testing.T) {
	const bound = 64 << 10
	c := newRenderCache(bound)
	id := uuid.New()
	body := []byte(`{"invoice_id":"v2"}`)
	c.keep(id, 2, body)
	body[2] = 'X' // the caller's buffer is reused
	c.keep(id, 1, []byte(`{"invoice_id":"v1"}`))
	for _, tc := range []struct {
		version uint64
		want    string // "" = a miss
	}{{2, `{"invoice_id":"v2"}`}, {1, ""}, {3, ""}} {
		got, _, ok := c.get(id, tc.version)
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("version %d: %q (%v), want %q", tc.version, got, ok, tc.want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		c.keep(uuid.New(), uint64(1+i%5), bytes.Repeat([]byte("x"), 200+rng.IntN(3000)))
		if n := c.size(); n > bound {
			t.Fatalf("after %d entries the cache holds %d bytes, bound %d", i+1, n, bound)
		}
	}
	for i := range c.shards {
		s := &c.shards[i]
		var sum int64
		for _, j := range s.entries {
			sum += s.ring[j].size
		}
		if sum != s.bytes || s.bytes > s.max {
			t.Errorf("shard %d holds %d bytes, counts %d, bound %d", i, sum, s.bytes, s.max)
		}
	}
	if c.len() < 10 {
		t.Errorf("%d entries left: the cache should be full, not empty", c.len())
	}
	if off := newRenderCache(renderTypical - 1); off.clockCache != nil {
		t.Error("a bound below one entry should disable the cache")
	}
}

// A create's answer is not kept; the first read of the invoice keeps its
// JSON, and the create's answer and the read's are the same bytes.
func TestRenderCache_CreatesAreNotKept(t *testing.T) {
	p := actortest.New(t)
	s, err := New(Config{Store: p.Store, Rules: p.Rules, Deriver: p.Deriver, Rates: p.Rates, RenderCacheBytes: DefaultRenderCacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	project := uuid.New()
	inv, _, err := s.Create(context.Background(), project, engine.CreateRequest{OrderID: "o-1", Currency: "BTC", CryptoAmount: ptr("0.001")}, "")
	if err != nil {
		t.Fatal(err)
	}
	created := s.AppendNewJSON(nil, inv)
	if n := s.rendered.len(); n != 0 {
		t.Fatalf("render cache holds %d entries after a create, want 0", n)
	}
	got, err := s.Get(context.Background(), project, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	read := s.AppendJSON(nil, got)
	if n := s.rendered.len(); n != 1 {
		t.Fatalf("render cache holds %d entries after a read, want 1", n)
	}
	if !bytes.Equal(created, read) {
		t.Fatalf("create answered %s, read %s", created, read)
	}
}
