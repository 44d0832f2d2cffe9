package provision

import (
	"context"
	"strings"

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
