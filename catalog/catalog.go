// Package catalog owns what a tenant's administrators and operators keep
// for accounts to refer to: the catalogues (roles, departments, job
// profiles, groups) and the plans with their seats. The provisioning path
// checks its references against them (provision's refs.go) and remembers
// the entries found active for a moment; a change here makes it forget
// them, so catalog imports provision and not the other way round.
package catalog

import (
	"context"
	"fmt"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// Service manages the tenants' catalogues and plans.
type Service struct {
	st *store.Store
	// prov remembers the references found active; a change forgets them.
	prov *provision.Service
}

// New returns a Service on st beside prov, the provisioning service whose
// remembered references its changes forget.
func New(st *store.Store, prov *provision.Service) *Service {
	return &Service{st: st, prov: prov}
}

// AttributeInput creates or changes a role, department, job profile or group.
type AttributeInput struct {
	Key         string  `json:"key"`
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Deactivated *bool   `json:"deactivated,omitempty"`
}

func validKind(kind string) error {
	switch kind {
	case usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup:
		return nil
	}
	return usher.Invalid("kind", "unknown catalogue %q", kind)
}

// CreateAttribute adds an entry to one of the tenant's catalogues.
func (s *Service) CreateAttribute(ctx context.Context, actor usher.Actor, tenant usher.Tenant, kind string, in AttributeInput) (usher.Attribute, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Attribute{}, err
	}
	if err := validKind(kind); err != nil {
		return usher.Attribute{}, err
	}
	a := usher.Attribute{}
	var errs usher.Errors
	var err error
	if a.Key, err = usher.CheckKey("key", in.Key); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Name == nil || *in.Name == "" {
		errs = append(errs, usher.Invalid("name", "is required"))
	} else if a.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Description != nil {
		if a.Description, err = usher.CleanText("description", *in.Description, 2000); err != nil {
			errs = append(errs, err.(*usher.Error))
		}
	}
	if err := errs.Err(); err != nil {
		return a, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAttribute(ctx, tenant.ID, kind, &a); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event(kind+".created", kind, a.ID, map[string]string{"key": a.Key}))
	})
	return a, err
}

// UpdateAttribute renames, describes, deactivates or reactivates an entry.
func (s *Service) UpdateAttribute(ctx context.Context, actor usher.Actor, tenant usher.Tenant, kind, id string, in AttributeInput) (usher.Attribute, error) {
	defer s.prov.ForgetRefs(tenant.ID) // after the change commits
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Attribute{}, err
	}
	if err := validKind(kind); err != nil {
		return usher.Attribute{}, err
	}
	if in.Key != "" {
		return usher.Attribute{}, usher.Invalid("key", "cannot be changed")
	}
	var a usher.Attribute
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if a, err = tx.Attribute(ctx, tenant.ID, kind, id); err != nil {
			return err
		}
		was := a
		if in.Name != nil {
			if a.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
				return err
			}
			if a.Name == "" {
				return usher.Invalid("name", "is required")
			}
		}
		if in.Description != nil {
			if a.Description, err = usher.CleanText("description", *in.Description, 2000); err != nil {
				return err
			}
		}
		var owned []string
		if a.Name != was.Name {
			owned = append(owned, "name")
		}
		if in.Deactivated != nil && *in.Deactivated != (was.DeactivatedAt != nil) {
			owned = append(owned, "deactivated")
		}
		if err := provision.CheckManaged(ctx, tx, actor, was.ManagedBy, owned); err != nil {
			return err
		}
		action := kind + ".updated"
		if in.Deactivated != nil {
			a.DeactivatedAt = provision.Deactivation(*in.Deactivated, a.DeactivatedAt, tx)
			if *in.Deactivated {
				action = kind + ".deactivated"
			}
		}
		if err := tx.UpdateAttribute(ctx, tenant.ID, kind, &a); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event(action, kind, a.ID, nil))
	})
	return a, err
}

// PlanInput creates or changes a plan.
type PlanInput struct {
	Key         string  `json:"key"`
	Name        *string `json:"name,omitempty"`
	Seats       *int    `json:"seats,omitempty"`
	Deactivated *bool   `json:"deactivated,omitempty"`
}

// maxSeats bounds a plan: each seat is a row.
const maxSeats = 1_000_000

// CreatePlan adds a user plan with its seats. Operators set licence seats.
func (s *Service) CreatePlan(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in PlanInput) (usher.Plan, error) {
	if err := actor.Require(usher.PrincipalOperator); err != nil {
		return usher.Plan{}, usher.Forbidden("only an operator sets licence seats")
	}
	var p usher.Plan
	var errs usher.Errors
	var err error
	if p.Key, err = usher.CheckKey("key", in.Key); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Name == nil || *in.Name == "" {
		errs = append(errs, usher.Invalid("name", "is required"))
	} else if p.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if in.Seats == nil {
		errs = append(errs, usher.Invalid("seats", "is required"))
	} else if *in.Seats < 0 || *in.Seats > maxSeats {
		errs = append(errs, usher.Invalid("seats", "must be between 0 and %d", maxSeats))
	} else {
		p.Seats = *in.Seats
	}
	if err := errs.Err(); err != nil {
		return p, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPlan(ctx, tenant.ID, &p); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("plan.created", "plan", p.ID, map[string]string{"seats": fmt.Sprint(p.Seats)}))
	})
	return p, err
}

// UpdatePlan renames a plan, changes its seats or deactivates it.
func (s *Service) UpdatePlan(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in PlanInput) (usher.Plan, error) {
	defer s.prov.ForgetRefs(tenant.ID) // after the change commits
	if err := actor.Require(usher.PrincipalOperator); err != nil {
		return usher.Plan{}, usher.Forbidden("only an operator changes plans and seats")
	}
	if in.Key != "" {
		return usher.Plan{}, usher.Invalid("key", "cannot be changed")
	}
	var p usher.Plan
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.Plan(ctx, tenant.ID, id); err != nil {
			return err
		}
		details := map[string]string{}
		if in.Name != nil {
			if p.Name, err = usher.CleanText("name", *in.Name, 200); err != nil {
				return err
			}
			if p.Name == "" {
				return usher.Invalid("name", "is required")
			}
		}
		if in.Seats != nil {
			if *in.Seats < 0 || *in.Seats > maxSeats {
				return usher.Invalid("seats", "must be between 0 and %d", maxSeats)
			}
			details["seats_from"], details["seats_to"] = fmt.Sprint(p.Seats), fmt.Sprint(*in.Seats)
			p.Seats = *in.Seats
		}
		if in.Deactivated != nil {
			p.DeactivatedAt = provision.Deactivation(*in.Deactivated, p.DeactivatedAt, tx)
		}
		if err := tx.UpdatePlan(ctx, tenant.ID, &p); err != nil {
			return err
		}
		if p, err = tx.Plan(ctx, tenant.ID, id); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("plan.updated", "plan", p.ID, details))
	})
	return p, err
}
