package scim

import (
	"context"
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
