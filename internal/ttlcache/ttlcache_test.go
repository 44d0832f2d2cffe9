package ttlcache

import (
	"fmt"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	c := New[string, int](2 * time.Second)
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

	c.Put("acme", "a", 1, c.Gen(), t0)
	if v, ok := c.Get("acme", "a", t0.Add(1999*time.Millisecond)); !ok || v != 1 {
		t.Fatalf("within the TTL: %d %v", v, ok)
	}
	if _, ok := c.Get("acme", "a", t0.Add(2*time.Second)); ok {
		t.Fatal("kept past the TTL")
	}
	if _, ok := c.Get("globex", "a", t0); ok {
		t.Fatal("another tenant's entry")
	}

	// A read begun before a Forget is not put back after it.
	c.Put("globex", "g", 7, c.Gen(), t0)
	gen := c.Gen()
	c.Forget("acme")
	if _, ok := c.Get("acme", "a", t0); ok {
		t.Fatal("kept after Forget")
	}
	if v, ok := c.Get("globex", "g", t0); !ok || v != 7 {
		t.Fatal("Forget dropped another tenant's entry")
	}
	c.Put("acme", "a", 2, gen, t0)
	if _, ok := c.Get("acme", "a", t0); ok {
		t.Fatal("a read from before Forget was put back")
	}
	c.Put("acme", "a", 3, c.Gen(), t0)
	if v, ok := c.Get("acme", "a", t0); !ok || v != 3 {
		t.Fatalf("after Forget, a new read: %d %v", v, ok)
	}
}

func TestCacheBounded(t *testing.T) {
	c := New[int, bool](time.Minute)
	now := time.Now()
	for i := range maxEntries - 1 {
		c.Put(fmt.Sprint("t", i%7), i, true, c.Gen(), now)
	}
	c.Put("t0", 0, true, c.Gen(), now) // an entry replaced is not counted twice
	if c.n != maxEntries-1 {
		t.Fatalf("counted %d entries, want %d", c.n, maxEntries-1)
	}
	c.Forget("t1")
	if want := maxEntries - 1 - (maxEntries-1+5)/7; c.n != want {
		t.Fatalf("after Forget %d entries, want %d", c.n, want)
	}
	for i := range maxEntries {
		c.Put("t9", -i-1, true, c.Gen(), now)
		if c.n > maxEntries {
			t.Fatalf("%d entries, more than %d", c.n, maxEntries)
		}
	}
	// Full, it started over once: the first of t9's entries are gone.
	if _, ok := c.Get("t9", -1, now); ok {
		t.Fatal("a full cache did not start over")
	}
	if _, ok := c.Get("t9", -maxEntries, now); !ok {
		t.Fatal("the last entry put is missing")
	}
}
