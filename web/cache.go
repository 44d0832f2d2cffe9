package web

import (
	"sync"
	"time"
)

// ttlCache keeps answers that every API call needs (the token behind a
// bearer secret, the tenant behind a slug) for a moment, so a request costs
// no database round trip for them. It is not shared state: each replica
// reads the database again after ttl, and a change made through this
// replica is forgotten at once. Changes made through another replica reach
// this one within ttl.
type ttlCache[V any] struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]cacheEntry[V]
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](ttl time.Duration, max int, now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, now: now, entries: map[string]cacheEntry[V]{}}
}

func (c *ttlCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || c.now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Bounded: start over rather than track recency.
		c.entries = map[string]cacheEntry[V]{}
	}
	c.entries[key] = cacheEntry[V]{v: v, expires: c.now().Add(c.ttl)}
}

// forget drops every entry for which drop reports true.
func (c *ttlCache[V]) forget(drop func(key string, v V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if drop(k, e.v) {
			delete(c.entries, k)
		}
	}
}
