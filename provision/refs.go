package provision

import (
	"context"
	"strings"
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

// planKind is the kind of plans among the remembered references.
const planKind = "plan"

// ForgetRefs forgets the entries and plans of tenantID found active, after
// a change to them (package catalog) commits.
func (s *Service) ForgetRefs(tenantID string) { s.refs.Forget(tenantID) }

// checkRefs is checkCatalogRefs and checkPlanRef (when plan is not nil)
// for a creation or change of an account or person, read outside its
// transaction: entries found active a moment ago are not read again.
func (s *Service) checkRefs(ctx context.Context, r *store.Tx, tenantID string, refs []catalogRef, plan *catalogRef) (usher.Errors, error) {
	// The entries and plans found active a moment ago, remembered so that
	// the rows of an import, which name the same ones, cost no query each.
	now, gen := s.now(), s.refs.Gen()
	active := func(kind, id string) bool { _, ok := s.refs.Get(tenantID, kind+"\x00"+id, now); return ok }
	changed := func(x catalogRef) bool { return x.id != "" && x.id != x.was }
	var rest []catalogRef
	for _, x := range refs {
		if changed(x) && !active(x.kind, x.id) {
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
			s.refs.Put(tenantID, x.kind+"\x00"+x.id, true, gen, now)
		}
	}
	if plan != nil && changed(*plan) && !active(planKind, plan.id) {
		perr, err := checkPlanRef(ctx, r, tenantID, plan.field, plan.id, plan.was)
		if err != nil {
			return nil, err
		}
		if perr != nil {
			errs = append(errs, perr)
		} else {
			s.refs.Put(tenantID, planKind+"\x00"+plan.id, true, gen, now)
		}
	}
	return errs, nil
}
