package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// subject is the desired state of a person and, when they have or get one,
// their account: what a way in asks for, merged over what exists.
type subject struct {
	person  usher.Person
	account *usher.Account // nil for a person without an account
	// creating are the catalogue entries the change itself adds (id →
	// kind), which references may name before they are written.
	creating map[string]string
}

// problems gathers every problem of an input, one per field: the first
// reported, which is the most specific.
type problems struct{ errs usher.Errors }

func (p *problems) add(err error) {
	if err == nil {
		return
	}
	var list usher.Errors
	var e *usher.Error
	switch {
	case errors.As(err, &list):
		for _, x := range list {
			p.add(x)
		}
	case errors.As(err, &e):
		if e.Field != "" && slices.ContainsFunc(p.errs, func(x *usher.Error) bool { return x.Field == e.Field }) {
			return
		}
		p.errs = append(p.errs, e)
	default:
		p.errs = append(p.errs, &usher.Error{Code: usher.CodeInternal, Err: err})
	}
}

func (p *problems) err() error { return p.errs.Err() }

// has reports a problem with one of fields already: a value that was
// refused is not reported again as missing.
func (p *problems) has(fields ...string) bool {
	return slices.ContainsFunc(p.errs, func(x *usher.Error) bool { return slices.Contains(fields, x.Field) })
}

// check is the one validator of a person and their account, for creation
// and for every update: identifiers and text normalized, languages of the
// tenant, the tenant's required fields filled (after defaults), a login to
// sign in with, a plan, and references to active catalogue entries and
// plans of this tenant. old is what exists (nil on creation): a required
// field that was already empty, or a reference that has not changed, is not
// held against an update, so retiring a department does not block changing
// its members' phone numbers; clearing a required field is refused. want
// is normalized in place; every problem comes back at once.
func (s *Service) check(ctx context.Context, r *store.Tx, tenant usher.Tenant, want *subject, old *subject) error {
	var ps problems
	st := tenant.Settings
	p := &want.person
	var err error
	p.FirstName, err = usher.CleanText("first_name", p.FirstName, 100)
	ps.add(err)
	p.LastName, err = usher.CleanText("last_name", p.LastName, 100)
	ps.add(err)
	p.ExternalID, err = usher.CleanText("external_id", p.ExternalID, 200)
	ps.add(err)
	p.Email, err = usher.NormalizeEmail("email", p.Email)
	ps.add(err)
	p.Phone, err = usher.NormalizePhone("phone", p.Phone)
	ps.add(err)
	ps.add(checkLanguage(tenant, p.Language))

	var oldP usher.Person
	var oldA *usher.Account
	if old != nil {
		oldP, oldA = old.person, old.account
	}
	a := want.account
	var asked []string // the groups as given, which errors name by place
	if a == nil {
		// A directory entry without an account is known by its name.
		if p.FirstName == "" {
			ps.add(usher.Invalid("first_name", "is required"))
		}
		if p.LastName == "" {
			ps.add(usher.Invalid("last_name", "is required"))
		}
	} else {
		a.Email, err = usher.NormalizeEmail("email", a.Email)
		ps.add(err)
		a.Phone, err = usher.NormalizePhone("phone", a.Phone)
		ps.add(err)
		a.Username, err = usher.CheckUsername("username", a.Username)
		ps.add(err)
		ps.add(checkLanguage(tenant, a.Language))
		asked = a.GroupIDs
		a.GroupIDs = dedupe(a.GroupIDs)
		if a.PrimaryGroupID != "" {
			a.GroupIDs = slices.DeleteFunc(a.GroupIDs, func(g string) bool { return g == a.PrimaryGroupID })
		}
		var was usher.Account
		if oldA != nil {
			was = *oldA
		}
		// Required fields, after defaults: whatever the way in, the same rule.
		for _, f := range st.RequiredFields {
			field, now, before := requiredValue(f, *p, *a, oldP, was)
			if f == usher.FieldLogin {
				if !ps.has("email", "username", "phone") && a.Email == "" && (a.Username == "" || a.Phone == "") && (oldA == nil || was.Email != "" || (was.Username != "" && was.Phone != "")) {
					ps.add(usher.Invalid("email", "give an email, or a username and a phone number"))
				}
				continue
			}
			if now == "" && (oldA == nil || before != "") && !ps.has(field) {
				ps.add(usher.Invalid(field, "is required in this tenant"))
			}
		}
		if a.Email == "" && a.Username == "" && a.Phone == "" && !ps.has("email", "username", "phone") {
			ps.add(usher.Invalid("email", "an account needs an email, a username or a phone number to sign in with"))
		}
		if a.PlanID == "" {
			if oldA == nil {
				ps.add(usher.Invalid("plan_id", "is required: the tenant has no default plan"))
			} else {
				ps.add(usher.Invalid("plan_id", "an account needs a plan"))
			}
		}
	}

	// References: one query for the catalogue entries, one for a new plan.
	refs := []catalogRef{
		{"department_id", usher.KindDepartment, p.DepartmentID, oldP.DepartmentID},
		{"job_profile_id", usher.KindJobProfile, p.JobProfileID, oldP.JobProfileID},
	}
	if a != nil {
		var was usher.Account
		if oldA != nil {
			was = *oldA
		}
		refs = append(refs, catalogRef{"role_id", usher.KindRole, a.RoleID, was.RoleID},
			catalogRef{"primary_group_id", usher.KindGroup, a.PrimaryGroupID, was.PrimaryGroupID})
		for i, g := range asked {
			if g == "" || !slices.Contains(a.GroupIDs, g) || slices.Index(asked, g) != i {
				continue // the primary group, or given twice
			}
			held := ""
			if slices.Contains(was.GroupIDs, g) || g == was.PrimaryGroupID {
				held = g
			}
			refs = append(refs, catalogRef{fmt.Sprintf("group_ids[%d]", i), usher.KindGroup, g, held})
		}
	}
	// Entries the change itself creates (a provisioning source's new
	// department) are not in the catalogue yet.
	refs = slices.DeleteFunc(refs, func(x catalogRef) bool { return x.id != "" && want.creating[x.id] == x.kind })
	// The tenant's default plan was checked when it was chosen, and plans
	// are never deleted: a creation on it costs no query.
	var plan *catalogRef
	if a != nil && a.PlanID != st.DefaultPlanID {
		plan = &catalogRef{field: "plan_id", kind: planKind, id: a.PlanID}
		if oldA != nil {
			plan.was = oldA.PlanID
		}
	}
	errs, err := s.checkRefs(ctx, r, tenant.ID, refs, plan)
	if err != nil {
		return err
	}
	for _, e := range errs {
		ps.add(e)
	}
	return ps.err()
}

// requiredValue returns the field a required field is reported on, and its
// value now and before.
func requiredValue(f string, p usher.Person, a usher.Account, op usher.Person, oa usher.Account) (field, now, before string) {
	switch f {
	case usher.FieldFirstName:
		return f, p.FirstName, op.FirstName
	case usher.FieldLastName:
		return f, p.LastName, op.LastName
	case usher.FieldEmail:
		return f, a.Email, oa.Email
	case usher.FieldPhone:
		return f, a.Phone, oa.Phone
	case usher.FieldUsername:
		return f, a.Username, oa.Username
	case usher.FieldJobProfile:
		return "job_profile_id", p.JobProfileID, op.JobProfileID
	case usher.FieldDepartment:
		return "department_id", p.DepartmentID, op.DepartmentID
	case usher.FieldRole:
		return "role_id", a.RoleID, oa.RoleID
	case usher.FieldLanguage:
		return f, a.Language, oa.Language
	}
	return f, "set", "set" // an unknown name: the tenant's settings refuse it when saved
}

func checkLanguage(tenant usher.Tenant, lang string) error {
	if lang != "" && !slices.Contains(tenant.Settings.Languages, lang) {
		return usher.Invalid("language", "%q is not one of the tenant's languages (%s)", lang, strings.Join(tenant.Settings.Languages, ", "))
	}
	return nil
}

// checkAdminRole is the one rule for administrator rights: only an operator
// grants or removes tenant-administrator rights, only a tenant
// administrator (or an operator) user-administrator rights.
func checkAdminRole(actor usher.Actor, from, to string) error {
	if from == to {
		return nil
	}
	switch to {
	case usher.AdminNone, usher.AdminUser, usher.AdminTenant:
	default:
		return usher.Invalid("admin_role", "must be %q, %q or empty", usher.AdminUser, usher.AdminTenant)
	}
	if to == usher.AdminTenant || from == usher.AdminTenant {
		if actor.Require(usher.PrincipalOperator) != nil {
			return usher.Forbidden("only an operator can grant or remove tenant-administrator rights")
		}
		return nil
	}
	if actor.Require(usher.AdminTenant) != nil {
		return usher.Forbidden("only a tenant administrator can grant or remove user-administrator rights")
	}
	return nil
}

// organization resolves a person's organization: the tenant's own when id
// is empty; a deactivated one is refused.
func organization(ctx context.Context, r *store.Tx, tenant usher.Tenant, id string) (usher.Organization, error) {
	if id == "" || id == tenant.InternalOrgID {
		// The tenant's own organization: known without a query, never deactivated.
		return usher.Organization{ID: tenant.InternalOrgID, TenantID: tenant.ID, Kind: usher.OrgInternal}, nil
	}
	org, err := r.Organization(ctx, tenant.ID, id)
	if errors.Is(err, usher.ErrNotFound) {
		return org, usher.Unknown("organization_id", "organization")
	} else if err != nil {
		return org, err
	}
	if org.DeactivatedAt != nil {
		return org, usher.Invalid("organization_id", "the organization is deactivated")
	}
	return org, nil
}
