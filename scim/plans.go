package scim

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// planCache keeps each tenant's plan names for a moment: every user's
// description names its plan, and plans change rarely (operators set
// them). Like the shell's tenant cache it is per replica and short-lived:
// a new or renamed plan shows within planTTL.
type planCache struct {
	mu      sync.Mutex
	entries map[string]planEntry
}

type planEntry struct {
	plans   map[string]usher.Plan
	expires time.Time
}

const planTTL = 2 * time.Second

func newPlanCache() *planCache { return &planCache{entries: map[string]planEntry{}} }

func (c *planCache) get(ctx context.Context, rd *store.Tx, tenant string) (map[string]usher.Plan, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[tenant]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.plans, nil
	}
	p, err := rd.PlanNames(ctx, tenant)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 10_000 {
		c.entries = map[string]planEntry{} // bounded: start over
	}
	c.entries[tenant] = planEntry{plans: p, expires: now.Add(planTTL)}
	return p, nil
}

// attrCache keeps the catalogue entries users refer to (role, groups,
// department, job profile) for a moment, as planCache keeps plans: a
// lookup by userName then costs no query for their names. A change
// through this handler forgets the tenant's at once (a group's new
// displayName); one elsewhere shows within attrTTL.
type attrCache struct {
	mu      sync.Mutex
	entries map[string]attrEntry // tenant, then id
}

type attrEntry struct {
	attr    usher.Attribute
	expires time.Time
}

const attrTTL = 2 * time.Second

func newAttrCache() *attrCache { return &attrCache{entries: map[string]attrEntry{}} }

// get returns the entries of ids in tenant that exist, reading only those
// not seen a moment ago.
func (c *attrCache) get(ctx context.Context, rd *store.Tx, tenant string, ids []string) (map[string]usher.Attribute, error) {
	now := time.Now()
	out := make(map[string]usher.Attribute, len(ids))
	var missing []string
	c.mu.Lock()
	for _, id := range ids {
		if e, ok := c.entries[tenant+"\x00"+id]; ok && now.Before(e.expires) {
			out[id] = e.attr
		} else {
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	read, err := rd.AttributesByID(ctx, tenant, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 10_000 {
		c.entries = map[string]attrEntry{} // bounded: start over
	}
	for id, a := range read {
		out[id] = a
		c.entries[tenant+"\x00"+id] = attrEntry{attr: a, expires: now.Add(attrTTL)}
	}
	return out, nil
}

// forget drops tenant's entries.
func (c *attrCache) forget(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, tenant+"\x00") {
			delete(c.entries, k)
		}
	}
}
