package scim

import (
	"context"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/ttlcache"
	"github.com/usherhq/usher/store"
)

// namesTTL is how long a user's description may show a plan's or a
// catalogue entry's name changed through another replica (or, for plans,
// by an operator) before it was read again. Every user's description names
// its plan, role, groups, department and job profile, which change rarely:
// a lookup by userName then costs no query for their names.
const namesTTL = 2 * time.Second

// planCache is the cache of each tenant's plans by id.
type planCache = ttlcache.Cache[string, map[string]usher.Plan]

// attrCache is the cache of the catalogue entries users refer to, by tenant
// and id. A change of groups through this handler forgets its tenant's at
// once (a group's new displayName).
type attrCache = ttlcache.Cache[string, usher.Attribute]

// planNames returns tenant's plans, read at most once per namesTTL.
func planNames(ctx context.Context, c *planCache, rd *store.Tx, tenant string) (map[string]usher.Plan, error) {
	now := time.Now()
	if p, ok := c.Get(tenant, "", now); ok {
		return p, nil
	}
	gen := c.Gen()
	p, err := rd.PlanNames(ctx, tenant)
	if err != nil {
		return nil, err
	}
	c.Put(tenant, "", p, gen, now)
	return p, nil
}

// attributes returns the entries of ids in tenant that exist, reading only
// those not seen a moment ago.
func attributes(ctx context.Context, c *attrCache, rd *store.Tx, tenant string, ids []string) (map[string]usher.Attribute, error) {
	now := time.Now()
	out := make(map[string]usher.Attribute, len(ids))
	var missing []string
	for _, id := range ids {
		if a, ok := c.Get(tenant, id, now); ok {
			out[id] = a
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	gen := c.Gen()
	read, err := rd.AttributesByID(ctx, tenant, missing)
	if err != nil {
		return nil, err
	}
	for id, a := range read {
		out[id] = a
		c.Put(tenant, id, a, gen, now)
	}
	return out, nil
}
