package provision

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// CreatePerson adds an employee (internal organization, the default) or a
// contact of an external organization, without an account.
func (s *Service) CreatePerson(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in PersonInput) (usher.Person, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Person{}, err
	}
	p, err := cleanPerson(in, tenant)
	if err != nil {
		return p, err
	}
	if p.FirstName == "" || p.LastName == "" {
		var errs usher.Errors
		if p.FirstName == "" {
			errs = append(errs, usher.Invalid("first_name", "is required"))
		}
		if p.LastName == "" {
			errs = append(errs, usher.Invalid("last_name", "is required"))
		}
		return p, errs.Err()
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := s.checkPersonRefs(ctx, tx, tenant.ID, &p); err != nil {
			return err
		}
		if err := tx.InsertPerson(ctx, tenant.ID, &p); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "person.created", "person", p.ID, map[string]string{"organization_id": p.OrganizationID})
	})
	return p, err
}

func (s *Service) checkPersonRefs(ctx context.Context, tx *store.Tx, tenantID string, p *usher.Person) error {
	var org usher.Organization
	var err error
	if p.OrganizationID == "" {
		org, err = tx.InternalOrganization(ctx, tenantID)
	} else {
		org, err = tx.Organization(ctx, tenantID, p.OrganizationID)
	}
	if err != nil {
		return err
	}
	if org.DeactivatedAt != nil {
		return usher.Invalid("organization_id", "the organization is deactivated")
	}
	p.OrganizationID = org.ID
	found, err := tx.ActiveAttributes(ctx, tenantID, []string{p.DepartmentID, p.JobProfileID})
	if err != nil {
		return err
	}
	if p.DepartmentID != "" && found[p.DepartmentID] != usher.KindDepartment {
		return usher.NotFound("department_id", "department")
	}
	if p.JobProfileID != "" && found[p.JobProfileID] != usher.KindJobProfile {
		return usher.NotFound("job_profile_id", "job profile")
	}
	return nil
}

// PersonUpdate changes a person; nil fields stay.
type PersonUpdate struct {
	FirstName    *string `json:"first_name,omitempty"`
	LastName     *string `json:"last_name,omitempty"`
	Email        *string `json:"email,omitempty"`
	Phone        *string `json:"phone,omitempty"`
	DepartmentID *string `json:"department_id,omitempty"`
	JobProfileID *string `json:"job_profile_id,omitempty"`
	Language     *string `json:"language,omitempty"`
	ExternalID   *string `json:"external_id,omitempty"`
	Deactivated  *bool   `json:"deactivated,omitempty"`
}

// UpdatePerson changes directory data. Deactivating a person deactivates
// their account too, which frees its seat.
func (s *Service) UpdatePerson(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in PersonUpdate) (usher.Person, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Person{}, err
	}
	var p usher.Person
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.Person(ctx, tenant.ID, id); err != nil {
			return err
		}
		merged := PersonInput{OrganizationID: p.OrganizationID, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Phone: p.Phone,
			DepartmentID: p.DepartmentID, JobProfileID: p.JobProfileID, Language: p.Language, ExternalID: p.ExternalID}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&merged.FirstName, in.FirstName)
		set(&merged.LastName, in.LastName)
		set(&merged.Email, in.Email)
		set(&merged.Phone, in.Phone)
		set(&merged.DepartmentID, in.DepartmentID)
		set(&merged.JobProfileID, in.JobProfileID)
		set(&merged.Language, in.Language)
		set(&merged.ExternalID, in.ExternalID)
		// Every problem at once, as on creation.
		np, err := cleanPerson(merged, tenant)
		var errs usher.Errors
		var one *usher.Error
		if !errors.As(err, &errs) && errors.As(err, &one) {
			errs = usher.Errors{one}
		}
		if np.FirstName == "" && merged.FirstName == "" {
			errs = append(errs, usher.Invalid("first_name", "is required"))
		}
		if np.LastName == "" && merged.LastName == "" {
			errs = append(errs, usher.Invalid("last_name", "is required"))
		}
		if err := errs.Err(); err != nil {
			return err
		}
		np.ID, np.TenantID, np.CreatedAt, np.DeactivatedAt = p.ID, p.TenantID, p.CreatedAt, p.DeactivatedAt
		if err := s.checkPersonRefs(ctx, tx, tenant.ID, &np); err != nil {
			return err
		}
		action := "person.updated"
		if in.Deactivated != nil {
			np.DeactivatedAt = deactivation(*in.Deactivated, p.DeactivatedAt, tx)
			if *in.Deactivated && p.DeactivatedAt == nil {
				action = "person.deactivated"
				a, err := tx.AccountOfPerson(ctx, tenant.ID, p.ID)
				if err == nil && a.State != usher.StateDeactivated {
					if err := s.changeState(ctx, tx, actor, tenant, a, usher.StateDeactivated); err != nil {
						return err
					}
				} else if err != nil && !errors.Is(err, usher.ErrNotFound) {
					return err
				}
			}
		}
		if err := tx.UpdatePerson(ctx, tenant.ID, &np); err != nil {
			return err
		}
		p = np
		return audit(ctx, tx, tenant.ID, actor, action, "person", p.ID, nil)
	})
	return p, err
}

// AccountUpdate changes an account; nil fields stay.
type AccountUpdate struct {
	Email          *string   `json:"email,omitempty"`
	Username       *string   `json:"username,omitempty"`
	Phone          *string   `json:"phone,omitempty"`
	RoleID         *string   `json:"role_id,omitempty"`
	PlanID         *string   `json:"plan_id,omitempty"`
	PrimaryGroupID *string   `json:"primary_group_id,omitempty"`
	GroupIDs       *[]string `json:"group_ids,omitempty"`
	Language       *string   `json:"language,omitempty"`
	AdminRole      *string   `json:"admin_role,omitempty"`
	// State moves the account: "active" (from suspended), "suspended",
	// "deactivated", or "invited"/"active" to reactivate a deactivated one.
	State *string `json:"state,omitempty"`
}

// UpdateAccount changes an account under the same rules as creation:
// identifiers stay unique, a new plan needs a free seat, catalogue entries
// must exist, and only an operator grants or removes tenant-administrator rights.
func (s *Service) UpdateAccount(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in AccountUpdate) (usher.Account, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Account{}, err
	}
	var a usher.Account
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		old, err := tx.Account(ctx, tenant.ID, id)
		if err != nil {
			return err
		}
		a = old
		a.GroupIDs = slices.Clone(old.GroupIDs)
		details := map[string]string{}
		var errs usher.Errors
		add := func(err error) {
			if err != nil {
				errs = append(errs, err.(*usher.Error))
			}
		}
		if in.Email != nil {
			a.Email, err = usher.NormalizeEmail("email", *in.Email)
			add(err)
		}
		if in.Phone != nil {
			a.Phone, err = usher.NormalizePhone("phone", *in.Phone)
			add(err)
		}
		if in.Username != nil {
			a.Username, err = usher.CheckUsername("username", *in.Username)
			add(err)
		}
		if in.Language != nil {
			if !slices.Contains(tenant.Settings.Languages, *in.Language) {
				add(usher.Invalid("language", "%q is not one of the tenant's languages", *in.Language))
			}
			a.Language = *in.Language
		}
		if in.RoleID != nil {
			a.RoleID = *in.RoleID
		}
		if in.PrimaryGroupID != nil {
			a.PrimaryGroupID = *in.PrimaryGroupID
		}
		if in.GroupIDs != nil {
			a.GroupIDs = dedupe(*in.GroupIDs)
		}
		if a.PrimaryGroupID != "" {
			a.GroupIDs = slices.DeleteFunc(a.GroupIDs, func(g string) bool { return g == a.PrimaryGroupID })
		}
		if err := errs.Err(); err != nil {
			return err
		}
		if a.Email == "" && a.Username == "" && a.Phone == "" {
			return usher.Invalid("email", "an account needs an email, a username or a phone number to sign in with")
		}
		ids := []string{a.RoleID, a.PrimaryGroupID}
		ids = append(ids, a.GroupIDs...)
		found, err := tx.ActiveAttributes(ctx, tenant.ID, ids)
		if err != nil {
			return err
		}
		if a.RoleID != "" && a.RoleID != old.RoleID && found[a.RoleID] != usher.KindRole {
			return usher.NotFound("role_id", "role")
		}
		if a.PrimaryGroupID != "" && a.PrimaryGroupID != old.PrimaryGroupID && found[a.PrimaryGroupID] != usher.KindGroup {
			return usher.NotFound("primary_group_id", "group")
		}
		if in.GroupIDs != nil {
			// Name the group by its place in the request, not in the cleaned list.
			for i, g := range *in.GroupIDs {
				if g != "" && slices.Contains(a.GroupIDs, g) && !slices.Contains(old.GroupIDs, g) && found[g] != usher.KindGroup {
					return usher.NotFound(fmt.Sprintf("group_ids[%d]", i), "group")
				}
			}
		}
		if in.AdminRole != nil && *in.AdminRole != old.AdminRole {
			switch *in.AdminRole {
			case usher.AdminNone, usher.AdminUser, usher.AdminTenant:
			default:
				return usher.Invalid("admin_role", "must be %q, %q or empty", usher.AdminUser, usher.AdminTenant)
			}
			if *in.AdminRole == usher.AdminTenant || old.AdminRole == usher.AdminTenant {
				if actor.Require(usher.PrincipalOperator) != nil {
					return usher.Forbidden("only an operator can grant or remove tenant-administrator rights")
				}
			} else if err := actor.Require(usher.AdminTenant); err != nil {
				return usher.Forbidden("only a tenant administrator can grant or remove user-administrator rights")
			}
			a.AdminRole = *in.AdminRole
			details["admin_role"] = a.AdminRole
		}
		if in.PlanID != nil && *in.PlanID != old.PlanID {
			if *in.PlanID == "" {
				return usher.Invalid("plan_id", "an account needs a plan")
			}
			a.PlanID = *in.PlanID
			details["plan_id"] = a.PlanID
			if usher.HoldsSeat(old.State) {
				if err := tx.ReleaseSeat(ctx, tenant.ID, old.ID); err != nil {
					return err
				}
				if err := tx.ClaimSeat(ctx, tenant.ID, a.PlanID, a.ID); err != nil {
					return err
				}
			} else if _, err := tx.Plan(ctx, tenant.ID, a.PlanID); err != nil {
				return err
			}
		}
		if err := tx.UpdateAccount(ctx, tenant.ID, &old, &a); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenant.ID, actor, "account.updated", "account", a.ID, details); err != nil {
			return err
		}
		if in.State != nil {
			switch *in.State {
			case usher.StateInvited, usher.StateActive, usher.StateSuspended, usher.StateDeactivated:
			default:
				return usher.Invalid("state", "must be invited, active, suspended or deactivated")
			}
		}
		if in.State != nil && *in.State != a.State {
			if err := s.changeState(ctx, tx, actor, tenant, a, *in.State); err != nil {
				return err
			}
			a, err = tx.Account(ctx, tenant.ID, id)
			return err
		}
		return nil
	})
	return a, err
}

// changeState moves an account between states, keeping seats in step.
func (s *Service) changeState(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, a usher.Account, to string) error {
	old := a
	from := a.State
	switch {
	case to == usher.StateSuspended && from == usher.StateActive:
	case to == usher.StateActive && from == usher.StateSuspended:
	case to == usher.StateDeactivated && from != usher.StateDeactivated:
		now := tx.Now()
		a.DeactivatedAt = &now
		if err := tx.ReleaseSeat(ctx, tenant.ID, a.ID); err != nil {
			return err
		}
		if err := tx.RevokeActivations(ctx, tenant.ID, a.ID); err != nil {
			return err
		}
	case from == usher.StateDeactivated && (to == usher.StateActive || to == usher.StateInvited):
		// Reactivation needs a seat again; an account that never activated goes back to invited.
		if err := tx.ClaimSeat(ctx, tenant.ID, a.PlanID, a.ID); err != nil {
			return err
		}
		a.DeactivatedAt = nil
		to = usher.StateInvited
		if a.ActivatedAt != nil {
			to = usher.StateActive
		}
	default:
		return usher.Conflict("state", "an account cannot go from %s to %s", from, to)
	}
	a.State = to
	if err := tx.UpdateAccount(ctx, tenant.ID, &old, &a); err != nil {
		return err
	}
	if (to == usher.StateSuspended || to == usher.StateDeactivated) && a.IdentityID != "" {
		// Signed-in browsers lose the account at once, not at their next timeout.
		if err := tx.EndTenantSessions(ctx, tenant.ID, a.IdentityID); err != nil {
			return err
		}
	}
	return audit(ctx, tx, tenant.ID, actor, "account."+to, "account", a.ID, map[string]string{"from": from})
}

// RelationshipInput relates a person to a site with contact roles.
type RelationshipInput struct {
	PersonID string   `json:"person_id"`
	Roles    []string `json:"roles"`
}

// Related is what Relate did.
type Related struct {
	Relationship usher.Relationship `json:"relationship"`
	// Account is set when the first relationship created the person's account.
	Account  *usher.Account  `json:"account,omitempty"`
	Messages []usher.Message `json:"messages"`
}

// Relate sets a person's contact roles at a site (seed 002). At least one
// role; "Primary" at most once per site. The person's first relationship
// gives them an account, if they have none, and sends the welcome message.
func (s *Service) Relate(ctx context.Context, actor usher.Actor, tenant usher.Tenant, siteID string, in RelationshipInput) (Related, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Related{}, err
	}
	if in.PersonID == "" {
		return Related{}, usher.Invalid("person_id", "is required")
	}
	if tenant.DeactivatedAt != nil {
		return Related{}, usher.Forbidden("the tenant is deactivated")
	}
	if len(in.Roles) == 0 {
		return Related{}, usher.Invalid("roles", "choose at least one contact role")
	}
	for i, r := range in.Roles {
		if !slices.Contains(tenant.Settings.ContactRoles, r) {
			return Related{}, usher.Invalid(fmt.Sprintf("roles[%d]", i), "%q is not a contact role of this tenant", r)
		}
		if slices.Index(in.Roles, r) != i {
			return Related{}, usher.Invalid(fmt.Sprintf("roles[%d]", i), "%q is listed twice", r)
		}
	}
	r := s.st.Read()
	site, err := r.Organization(ctx, tenant.ID, siteID)
	if err != nil {
		return Related{}, usher.NotFound("site_id", "site")
	}
	if site.DeactivatedAt != nil {
		return Related{}, usher.Invalid("site_id", "the site is deactivated")
	}
	person, err := r.Person(ctx, tenant.ID, in.PersonID)
	if err != nil {
		return Related{}, err
	}
	if person.DeactivatedAt != nil {
		return Related{}, usher.Invalid("person_id", "the person is deactivated")
	}
	// The account a first relationship creates goes through the same planning as every other.
	_, accErr := r.AccountOfPerson(ctx, tenant.ID, person.ID)
	var plan *planned
	acctIn := AccountInput{Route: RouteRelationship, PersonID: person.ID, MessageKind: KindWelcome, AuthSystem: usher.AuthPassword}
	if site.Kind == usher.OrgInternal {
		acctIn.AuthSystem = ""
	}
	if errors.Is(accErr, usher.ErrNotFound) {
		p, err := s.plan(ctx, tenant, &acctIn)
		if err != nil {
			return Related{}, err
		}
		plan = &p
	} else if accErr != nil {
		return Related{}, accErr
	}
	var out Related
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		out = Related{}
		first, err := tx.HasRelationships(ctx, tenant.ID, person.ID)
		if err != nil {
			return err
		}
		first = !first
		if err := tx.SetRelationship(ctx, tenant.ID, site.ID, person.ID, in.Roles); err != nil {
			return err
		}
		rels, err := tx.Relationships(ctx, tenant.ID, store.RelationshipFilter{SiteID: site.ID, PersonID: person.ID})
		if err != nil {
			return err
		}
		out.Relationship = rels[0]
		if err := audit(ctx, tx, tenant.ID, actor, "relationship.saved", "person", person.ID, map[string]string{"site_id": site.ID}); err != nil {
			return err
		}
		if !first {
			return nil
		}
		if plan != nil {
			// The same write as every other way in.
			c, err := s.write(ctx, tx, actor, tenant, *plan, acctIn)
			if err != nil {
				return err
			}
			out.Account, out.Messages = &c.Account, c.Messages
			return nil
		}
		acct, err := tx.AccountOfPerson(ctx, tenant.ID, person.ID)
		if err != nil {
			return err
		}
		out.Messages, err = s.activate(ctx, tx, tenant, person, acct, KindWelcome)
		return err
	})
	s.queued(err, len(out.Messages))
	return out, err
}

// Unrelate removes a person's relationship with a site.
func (s *Service) Unrelate(ctx context.Context, actor usher.Actor, tenant usher.Tenant, siteID, personID string) error {
	if err := actor.Require(usher.AdminUser); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		rels, err := tx.Relationships(ctx, tenant.ID, store.RelationshipFilter{SiteID: siteID, PersonID: personID})
		if err != nil {
			return err
		}
		if len(rels) == 0 {
			return usher.NotFound("person_id", "relationship")
		}
		if err := tx.SetRelationship(ctx, tenant.ID, siteID, personID, nil); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "relationship.removed", "person", personID, map[string]string{"site_id": siteID})
	})
}
