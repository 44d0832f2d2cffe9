// Package ttlcache remembers per tenant, for a moment, what a replica read
// from the database and will likely read again at once (the catalogue
// entries an import's rows name, a tenant's plans, that a tenant has no
// SSO connection). Entries expire after a fixed time, so a change made
// through another replica shows within it; a change through this replica
// forgets its tenant's entries at once.
//
// A read that raced with a change must not put back what the change made
// stale: Put takes the generation Gen gave before the read, and a Forget
// since then makes it a no-op.
package ttlcache

import (
	"sync"
	"time"
)

// maxEntries bounds the memory: a full cache starts over.
const maxEntries = 10_000

// Cache maps a tenant's keys to values that expire after its TTL. The zero
// value is not usable; make one with New.
type Cache[K comparable, V any] struct {
	ttl time.Duration

	mu  sync.Mutex
	gen uint64
	n   int
	m   map[string]map[K]entry[V] // tenant, then key
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New makes a cache whose entries live ttl.
func New[K comparable, V any](ttl time.Duration) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, m: map[string]map[K]entry[V]{}}
}

// Get returns tenant's value of key if it was put less than the TTL
// before now.
func (c *Cache[K, V]) Get(tenant string, key K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[tenant][key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Gen is the generation to give Put for what is read after it.
func (c *Cache[K, V]) Gen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Put remembers tenant's value of key from now, unless a Forget came
// since gen was taken.
func (c *Cache[K, V]) Put(tenant string, key K, v V, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.n >= maxEntries {
		c.m, c.n = map[string]map[K]entry[V]{}, 0
	}
	t := c.m[tenant]
	if t == nil {
		t = map[K]entry[V]{}
		c.m[tenant] = t
	}
	if _, ok := t[key]; !ok {
		c.n++
	}
	t[key] = entry[V]{v: v, expires: now.Add(c.ttl)}
}

// Forget drops tenant's entries, and makes Puts of reads begun before it
// no-ops.
func (c *Cache[K, V]) Forget(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.n -= len(c.m[tenant])
	delete(c.m, tenant)
}
