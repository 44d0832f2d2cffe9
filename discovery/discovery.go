// Package discovery finds OpenID Connect providers by their issuer: the
// discovery document and the key set (go-oidc's Provider, whose key set
// fetches rotated keys when a token names an unknown one), kept a short
// while so that a changed issuer is picked up. Corporate sign-in (sso) and
// linked accounts (linked) both ask here.
package discovery

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TTL is how long a provider is kept before it is discovered again.
const TTL = 10 * time.Minute

// Cache holds discovered providers by issuer.
type Cache struct {
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]entry
}

type entry struct {
	p     *oidc.Provider
	until time.Time
}

// New returns a cache that fetches with client, on the clock now.
func New(client *http.Client, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{client: client, now: now, m: map[string]entry{}}
}

// Provider is issuer's provider, discovered at most TTL ago.
func (c *Cache) Provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[issuer]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.p, nil
	}
	// The key set keeps the context's client for its later fetches, and
	// outlives the request that discovered it.
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), c.client), issuer)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[issuer] = entry{p: p, until: now.Add(TTL)}
	c.mu.Unlock()
	return p, nil
}
