package clock

import (
	"testing"
	"time"
)

func TestTest_WaitsFireWhenTimeIsMovedPastThem(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewTest(start)
	soon, later := c.After(time.Second), c.After(time.Minute)
	if d := <-c.Waits(); d != time.Second {
		t.Fatalf("first wait %s, want 1s", d)
	}
	c.Add(999 * time.Millisecond)
	select {
	case <-soon:
		t.Fatal("a 1 s wait fired after 999 ms")
	default:
	}
	c.Add(time.Millisecond)
	if at := <-soon; !at.Equal(start.Add(time.Second)) {
		t.Fatalf("fired at %s", at)
	}
	select {
	case <-later:
		t.Fatal("a 1 min wait fired after 1 s")
	default:
	}
	c.Set(start.Add(time.Hour))
	<-later
	if !c.Now().Equal(start.Add(time.Hour)) {
		t.Fatalf("now %s", c.Now())
	}
	select {
	case <-c.After(0):
	default:
		t.Fatal("a zero wait did not fire at once")
	}
}
