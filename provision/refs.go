package provision

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// catalogRef is a reference in an input to an entry of one of the tenant's
// catalogues, with the value it had before (so an unchanged reference to an
// entry retired since does not block saving the rest).
type catalogRef struct{ field, kind, id, was string }

// checkCatalogRefs refuses, naming the field, every reference that changed
// and is not an active entry of its kind in the tenant; one query for all.
func checkCatalogRefs(ctx context.Context, r *store.Tx, tenantID string, refs []catalogRef) (usher.Errors, error) {
	var ids []string
	for _, x := range refs {
		if x.id != "" && x.id != x.was {
			ids = append(ids, x.id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := r.ActiveAttributes(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	var errs usher.Errors
	for _, x := range refs {
		if x.id != "" && x.id != x.was && found[x.id] != x.kind {
			errs = append(errs, usher.Unknown(x.field, kindName(x.kind)))
		}
	}
	return errs, nil
}

// kindName is a catalogue's entry in words: "job profile" for job_profiles.
func kindName(kind string) string {
	return strings.TrimSuffix(strings.ReplaceAll(kind, "_", " "), "s")
}

// checkPlanRef refuses a changed reference to a plan that is not an active
// plan of the tenant, naming the field.
func checkPlanRef(ctx context.Context, r *store.Tx, tenantID, field, id, was string) (*usher.Error, error) {
	if id == "" || id == was {
		return nil, nil
	}
	// Not r.Plan: its count of the seats used grows with the plan.
	name, deactivated, err := r.PlanRef(ctx, tenantID, id)
	switch {
	case usher.ErrorCode(err) == usher.CodeNotFound:
		return usher.Unknown(field, "plan"), nil
	case err != nil:
		return nil, err
	case deactivated:
		return usher.Invalid(field, "the plan %q is deactivated", name), nil
	}
	return nil, nil
}

// refTTL bounds how long a catalogue entry or plan deactivated through
// another replica is still taken as active here, as for noSSOTTL. (A
// creation's references are read before its transaction anyway.)
const refTTL = 2 * time.Second

// refCache remembers for a moment the catalogue entries and plans found
// active, so that the rows of an import, which name the same department,
// job profile, role and plan, cost no query each. A change to an entry or a
// plan through this replica forgets its tenant's at once.
type refCache struct {
	mu  sync.Mutex
	gen uint64 // changes at every forget, so an answer read before it is not kept
	m   map[string]time.Time
}

func refKey(tenantID, kind, id string) string { return tenantID + "\x00" + kind + "\x00" + id }

func (c *refCache) active(tenantID, kind, id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return now.Before(c.m[refKey(tenantID, kind, id)])
}

func (c *refCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *refCache) put(tenantID, kind, id string, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= 10_000 {
		c.m = map[string]time.Time{} // bounded: start over
	}
	c.m[refKey(tenantID, kind, id)] = now.Add(refTTL)
}

func (c *refCache) forget(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k := range c.m {
		if strings.HasPrefix(k, tenantID+"\x00") {
			delete(c.m, k)
		}
	}
}

// planKind is the refCache's kind for plans.
const planKind = "plan"

// checkRefs is checkCatalogRefs and checkPlanRef (when plan is not nil)
// for a creation or change of an account or person, read outside its
// transaction: entries found active a moment ago are not read again.
func (s *Service) checkRefs(ctx context.Context, r *store.Tx, tenantID string, refs []catalogRef, plan *catalogRef) (usher.Errors, error) {
	now, gen := s.now(), s.refs.generation()
	changed := func(x catalogRef) bool { return x.id != "" && x.id != x.was }
	var rest []catalogRef
	for _, x := range refs {
		if changed(x) && !s.refs.active(tenantID, x.kind, x.id, now) {
			rest = append(rest, x)
		}
	}
	errs, err := checkCatalogRefs(ctx, r, tenantID, rest)
	if err != nil {
		return nil, err
	}
	refused := map[string]bool{}
	for _, e := range errs {
		refused[e.Field] = true
	}
	for _, x := range rest {
		if changed(x) && !refused[x.field] {
			s.refs.put(tenantID, x.kind, x.id, gen, now)
		}
	}
	if plan != nil && changed(*plan) && !s.refs.active(tenantID, planKind, plan.id, now) {
		perr, err := checkPlanRef(ctx, r, tenantID, plan.field, plan.id, plan.was)
		if err != nil {
			return nil, err
		}
		if perr != nil {
			errs = append(errs, perr)
		} else {
			s.refs.put(tenantID, planKind, plan.id, gen, now)
		}
	}
	return errs, nil
}
