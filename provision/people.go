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
	want := subject{person: in.person()}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var ps problems
		org, err := organization(ctx, tx, tenant, want.person.OrganizationID)
		ps.add(err)
		want.person.OrganizationID = org.ID
		ps.add(s.check(ctx, tx, tenant, &want, nil))
		if err := ps.err(); err != nil {
			return err
		}
		if err := tx.InsertPerson(ctx, tenant.ID, &want.person); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, "person.created", "person", want.person.ID, map[string]string{"organization_id": org.ID})
	})
	return want.person, err
}

// person is the directory entry the input asks for, before validation.
func (in PersonInput) person() usher.Person {
	return usher.Person{OrganizationID: in.OrganizationID, FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Phone: in.Phone,
		DepartmentID: in.DepartmentID, JobProfileID: in.JobProfileID, Language: in.Language, ExternalID: in.ExternalID}
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

func (in *PersonUpdate) apply(p *usher.Person) {
	set(&p.FirstName, in.FirstName)
	set(&p.LastName, in.LastName)
	set(&p.Email, in.Email)
	set(&p.Phone, in.Phone)
	set(&p.DepartmentID, in.DepartmentID)
	set(&p.JobProfileID, in.JobProfileID)
	set(&p.Language, in.Language)
	set(&p.ExternalID, in.ExternalID)
}

func set(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
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
	// Source is the provisioning source making the change (Change only):
	// the person and account become managed by it.
	Source *Source `json:"-"`
}

func (in *AccountUpdate) apply(a *usher.Account) {
	set(&a.Email, in.Email)
	set(&a.Username, in.Username)
	set(&a.Phone, in.Phone)
	set(&a.RoleID, in.RoleID)
	set(&a.PlanID, in.PlanID)
	set(&a.PrimaryGroupID, in.PrimaryGroupID)
	set(&a.Language, in.Language)
	set(&a.AdminRole, in.AdminRole)
	if in.GroupIDs != nil {
		a.GroupIDs = slices.Clone(*in.GroupIDs)
	}
}

// Changed is a person and their account after a change.
type Changed struct {
	Person  usher.Person   `json:"person"`
	Account *usher.Account `json:"account,omitempty"`
}

// UpdatePerson changes directory data under the rules of creation (see
// Change). Deactivating a person deactivates their account too, which
// frees its seat.
func (s *Service) UpdatePerson(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in PersonUpdate) (usher.Person, error) {
	ch, err := s.change(ctx, actor, tenant, id, "", &in, nil)
	return ch.Person, err
}

// UpdateAccount changes an account under the rules of creation (see Change).
func (s *Service) UpdateAccount(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in AccountUpdate) (usher.Account, error) {
	ch, err := s.change(ctx, actor, tenant, "", id, nil, &in)
	if ch.Account == nil {
		return usher.Account{}, err
	}
	return *ch.Account, err
}

// Change changes a person and their account together, in one transaction
// with one audit event each: what a provisioning source's update (SCIM's
// PUT and PATCH) and an SSO sign-in's attribute refresh do. The rules are
// creation's (one validator): identifiers stay unique, a required field
// cannot be cleared, a new plan needs a free seat, references must be to
// active entries of the tenant, and only an operator grants or removes
// tenant-administrator rights.
func (s *Service) Change(ctx context.Context, actor usher.Actor, tenant usher.Tenant, accountID string, p PersonUpdate, a AccountUpdate) (Changed, error) {
	return s.change(ctx, actor, tenant, "", accountID, &p, &a)
}

// change runs UpdatePerson (accountID empty), UpdateAccount (pu nil) and Change.
func (s *Service) change(ctx context.Context, actor usher.Actor, tenant usher.Tenant, personID, accountID string, pu *PersonUpdate, au *AccountUpdate) (Changed, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Changed{}, err
	}
	if au != nil && au.State != nil {
		switch *au.State {
		case usher.StateInvited, usher.StateActive, usher.StateSuspended, usher.StateDeactivated:
		default:
			return Changed{}, usher.Invalid("state", "must be invited, active, suspended or deactivated")
		}
	}
	var out Changed
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		out = Changed{}
		var old subject
		if accountID != "" {
			a, err := tx.Account(ctx, tenant.ID, accountID)
			if err != nil {
				return err
			}
			old.account, personID = &a, a.PersonID
		}
		p, err := tx.Person(ctx, tenant.ID, personID)
		if err != nil {
			return err
		}
		old.person = p
		if old.account == nil {
			a, err := tx.AccountOfPerson(ctx, tenant.ID, personID)
			if err == nil {
				old.account = &a
			} else if !errors.Is(err, usher.ErrNotFound) {
				return err
			}
		}
		want := subject{person: old.person}
		if old.account != nil {
			a := *old.account
			a.GroupIDs = slices.Clone(a.GroupIDs)
			want.account = &a
		}
		if pu != nil {
			pu.apply(&want.person)
		}
		if au != nil {
			if want.account == nil {
				return usher.NotFound("person_id", "account")
			}
			au.apply(want.account)
			if err := checkAdminRole(actor, old.account.AdminRole, want.account.AdminRole); err != nil {
				return err
			}
		}
		var src *Source
		if au != nil {
			src = au.Source
		}
		if src != nil {
			entries, err := resolveNames(ctx, tx, tenant, src, &want.person)
			if err != nil {
				return err
			}
			if err := createEntries(ctx, tx, tenant, actor, entries, &want.person); err != nil {
				return err
			}
		}
		if err := CheckManaged(ctx, tx, actor, old.person.ManagedBy, ownedChanges(old, want)); err != nil {
			return err
		}
		if src != nil {
			want.person.ManagedBy, want.account.ManagedBy = src.ID, src.ID
		}
		if err := s.check(ctx, tx, tenant, &want, &old); err != nil {
			return err
		}
		// The account first: deactivating the person then deactivates it as written.
		if au != nil {
			if err := s.writeAccount(ctx, tx, actor, tenant, *old.account, want.account, au.State, pu == nil); err != nil {
				return err
			}
		}
		if pu != nil {
			if err := s.writePerson(ctx, tx, actor, tenant, old.person, &want.person, pu.Deactivated, au == nil); err != nil {
				return err
			}
		}
		if src != nil {
			if err := tx.PutSourceUser(ctx, tenant.ID, &store.SourceUser{AccountID: want.account.ID, SourceID: src.ID, Emails: src.Emails, Data: src.Data}); err != nil {
				return err
			}
		}
		out.Person = want.person
		if want.account != nil {
			// Read again: deactivating the person or a new state moved it.
			a, err := tx.Account(ctx, tenant.ID, want.account.ID)
			if err != nil {
				return err
			}
			out.Account = &a
		}
		return nil
	})
	return out, err
}

// writePerson stores a validated person and its audit event; always says
// whether an unchanged person is audited too (a direct update is).
func (s *Service) writePerson(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, p usher.Person, np *usher.Person, deactivate *bool, always bool) error {
	action := "person.updated"
	if deactivate != nil {
		np.DeactivatedAt = Deactivation(*deactivate, p.DeactivatedAt, tx)
		if *deactivate && p.DeactivatedAt == nil {
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
	if !always && action == "person.updated" && samePerson(p, *np) {
		return nil
	}
	if err := tx.UpdatePerson(ctx, tenant.ID, np); err != nil {
		return err
	}
	return audit(ctx, tx, tenant.ID, actor, action, "person", p.ID, nil)
}

func samePerson(a, b usher.Person) bool {
	return a.FirstName == b.FirstName && a.LastName == b.LastName && a.Email == b.Email && a.Phone == b.Phone &&
		a.DepartmentID == b.DepartmentID && a.JobProfileID == b.JobProfileID && a.Language == b.Language &&
		a.ExternalID == b.ExternalID && a.ManagedBy == b.ManagedBy && (a.DeactivatedAt == nil) == (b.DeactivatedAt == nil)
}

// writeAccount stores a validated account: its seat when the plan changes,
// its audit event, then a change of state.
func (s *Service) writeAccount(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, old usher.Account, a *usher.Account, state *string, always bool) error {
	details := map[string]string{}
	if a.AdminRole != old.AdminRole {
		details["admin_role"] = a.AdminRole
	}
	if a.PlanID != old.PlanID {
		details["plan_id"] = a.PlanID
		if usher.HoldsSeat(old.State) {
			if err := tx.ReleaseSeat(ctx, tenant.ID, old.ID); err != nil {
				return err
			}
			if err := tx.ClaimSeat(ctx, tenant.ID, a.PlanID, a.ID); err != nil {
				return err
			}
		}
	}
	if always || !sameAccount(old, *a) {
		if err := tx.UpdateAccount(ctx, tenant.ID, &old, a); err != nil {
			return err
		}
		if err := audit(ctx, tx, tenant.ID, actor, "account.updated", "account", a.ID, details); err != nil {
			return err
		}
	}
	if state != nil && *state != a.State {
		return s.changeState(ctx, tx, actor, tenant, *a, *state)
	}
	return nil
}

func sameAccount(a, b usher.Account) bool {
	return a.Email == b.Email && a.Username == b.Username && a.Phone == b.Phone && a.RoleID == b.RoleID && a.PlanID == b.PlanID &&
		a.PrimaryGroupID == b.PrimaryGroupID && slices.Equal(a.GroupIDs, b.GroupIDs) && a.Language == b.Language && a.AdminRole == b.AdminRole &&
		a.ManagedBy == b.ManagedBy
}

// changeState moves an account between states, keeping seats in step.
func (s *Service) changeState(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, a usher.Account, to string) error {
	old := a
	from := a.State
	resumed := false
	switch {
	case to == usher.StateSuspended && from == usher.StateActive:
	case to == usher.StateSuspended && from == usher.StateInvited:
		// A source disables people before they activate: the invitation's
		// secrets stop working while the account is suspended.
		if err := tx.RevokeActivations(ctx, tenant.ID, a.ID); err != nil {
			return err
		}
	case to == usher.StateActive && from == usher.StateSuspended:
		// An account that never activated goes back to invited, with a new invitation.
		if a.ActivatedAt == nil {
			to, resumed = usher.StateInvited, true
		}
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
		to, resumed = usher.StateInvited, true
		if a.ActivatedAt != nil {
			to, resumed = usher.StateActive, false
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
	if to == usher.StateSuspended || to == usher.StateDeactivated {
		if err := s.accountEnded(ctx, tx, tenant, a); err != nil {
			return err
		}
	}
	if err := audit(ctx, tx, tenant.ID, actor, "account."+to, "account", a.ID, map[string]string{"from": from}); err != nil {
		return err
	}
	if resumed && a.AuthSystem == usher.AuthPassword {
		_, err := s.reissue(ctx, tx, tenant, a, KindInvitation)
		return err
	}
	return nil
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
