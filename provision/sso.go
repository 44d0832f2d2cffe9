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

// SSOUser is what a corporate identity provider says of a person at
// sign-in, after the connection's attribute mapping (package sso).
type SSOUser struct {
	// Subject is the identity provider's stable id of the person.
	Subject   string
	Email     string
	FirstName string
	LastName  string
	Phone     string
	Username  string
	Language  string
	// Department and JobProfile are names in the tenant's catalogues.
	Department string
	JobProfile string
	// Groups are the identity provider's groups, by name.
	Groups []string
}

// SSOSignIn asks what a sign-in through a connection leads to.
type SSOSignIn struct {
	Connection usher.Connection
	User       SSOUser
	// Register: the person chose to register through the connection on the
	// sign-in page (seed 000); allowed where the tenant takes registrations
	// for the email, even when the connection's just-in-time creation is off.
	Register bool
	// DepartmentID is the department the person chose when the identity
	// provider sent none and the tenant lets people choose.
	DepartmentID string
	Source       string // the client address
}

// SSOResult is the account a sign-in through a connection signs in.
type SSOResult struct {
	Account usher.Account
	// Created: just-in-time creation made it; Activated: this sign-in
	// activated an invited account.
	Created, Activated bool
}

// Refusals of a sign-in through a connection, each with the page's words.
var (
	// ErrSSOTakeover: the identity provider vouches for an account it does
	// not own (another connection's, a password account, or an email
	// outside its domains). Audited as sso.refused.
	ErrSSOTakeover = &usher.Error{Code: usher.CodeForbidden, Field: "email",
		Message: "your company account cannot sign in to this account here; ask your administrator"}
	// ErrSSONoAccount: no account, and the connection creates none.
	ErrSSONoAccount = &usher.Error{Code: usher.CodeForbidden, Field: "email",
		Message: "you have no account in this organization yet; ask your administrator for access"}
	// ErrSSOInactive: the account is suspended or deactivated.
	ErrSSOInactive = &usher.Error{Code: usher.CodeForbidden, Field: "account",
		Message: "your account here is suspended or deactivated; ask your administrator"}
)

// MissingError says what a just-in-time creation lacks: fields the person
// may choose on a page (Choosable), and attributes only the identity
// provider can send (Attributes, by the mapping's names).
type MissingError struct {
	Choosable  []string
	Attributes []string
	Err        error
}

func (e *MissingError) Error() string {
	var parts []string
	if len(e.Choosable) > 0 {
		parts = append(parts, "choose your "+strings.Join(e.Choosable, ", "))
	}
	if len(e.Attributes) > 0 {
		parts = append(parts, "the identity provider must send "+strings.Join(e.Attributes, ", "))
	}
	return strings.Join(parts, "; ")
}

func (e *MissingError) Unwrap() error { return e.Err }

// SignInThrough is the directory's side of a sign-in through a corporate
// SSO connection: the account the identity provider's subject is tied to
// (its mapped fields brought up to date where the connection says so); the
// first time, the invited account on that connection with the email, which
// this sign-in activates; otherwise, with just-in-time creation, a new
// person and account through the one provisioning path. An identity
// provider never signs in an account it does not own.
func (s *Service) SignInThrough(ctx context.Context, tenant usher.Tenant, in SSOSignIn) (SSOResult, error) {
	c := in.Connection
	u := in.User
	actor := usher.Actor{Kind: usher.ActorSSO, ID: c.ID, Source: in.Source}
	if c.DeactivatedAt != nil || c.TenantID != tenant.ID {
		return SSOResult{}, usher.NotFound("connection_id", "connection")
	}
	if tenant.DeactivatedAt != nil {
		return SSOResult{}, usher.Forbidden("the organization is deactivated")
	}
	if strings.TrimSpace(u.Subject) == "" {
		return SSOResult{}, usher.Invalid("subject", "the identity provider sent no subject for the person")
	}
	email, err := usher.NormalizeEmail("email", u.Email)
	if err != nil || email == "" {
		return SSOResult{}, &MissingError{Attributes: []string{attributeName(c, "email")}, Err: usher.Invalid("email", "the identity provider sent no usable email")}
	}
	u.Email = email
	r := s.st.Read()

	// A subject seen before: its account, whatever the email says now.
	if id, err := r.SSOSubject(ctx, tenant.ID, c.ID, u.Subject); err == nil {
		a, err := r.Account(ctx, tenant.ID, id)
		if err != nil {
			return SSOResult{}, err
		}
		if a.AuthSystem != usher.AuthConnection || a.ConnectionID != c.ID {
			return SSOResult{}, s.refuse(ctx, tenant, actor, a.ID, u, "the account no longer signs in with this connection")
		}
		return s.signInTied(ctx, tenant, actor, c, a, u)
	} else if !errors.Is(err, usher.ErrNotFound) {
		return SSOResult{}, err
	}

	// The first time: only an email of the connection's own domains.
	if !slices.Contains(c.Domains, usher.EmailDomain(email)) {
		return SSOResult{}, s.refuse(ctx, tenant, actor, "", u, "the email's domain is not one of the connection's")
	}
	a, err := r.AccountByLogin(ctx, tenant.ID, email)
	switch {
	case errors.Is(err, usher.ErrNotFound):
		if !c.JIT && !(in.Register && RegistrationAllows(tenant, email)) {
			return SSOResult{}, ErrSSONoAccount
		}
		return s.justInTime(ctx, tenant, actor, in, u)
	case err != nil:
		return SSOResult{}, err
	}
	// A password account in an enforced connection's domain moves onto it:
	// the connection is the only way in for that domain.
	movable := c.Enforced && a.AuthSystem == usher.AuthPassword
	if (a.AuthSystem != usher.AuthConnection || a.ConnectionID != c.ID) && !movable {
		return SSOResult{}, s.refuse(ctx, tenant, actor, a.ID, u, "the account is not assigned to the connection")
	}
	if sub, err := r.SubjectOf(ctx, tenant.ID, c.ID, a.ID); err != nil {
		return SSOResult{}, err
	} else if sub != "" {
		// Tied to another person of the identity provider.
		return SSOResult{}, s.refuse(ctx, tenant, actor, a.ID, u, "the account is tied to another subject of the identity provider")
	}
	return s.signInTied(ctx, tenant, actor, c, a, u)
}

// refuse audits a refused sign-in and answers ErrSSOTakeover.
func (s *Service) refuse(ctx context.Context, tenant usher.Tenant, actor usher.Actor, accountID string, u SSOUser, why string) error {
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		return audit(ctx, tx, tenant.ID, actor, "sso.refused", "account", accountID,
			map[string]string{"reason": why, "subject": clip(u.Subject, 200), "email": clip(u.Email, 320)})
	})
	if err != nil {
		return err
	}
	return ErrSSOTakeover
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// signInTied signs in an account on the connection: the first time it ties
// the subject and, for an invited account, activates it with an identity
// (the email's, or a new one without a password); later, it brings the
// mapped fields up to date where the connection says so.
func (s *Service) signInTied(ctx context.Context, tenant usher.Tenant, actor usher.Actor, c usher.Connection, a usher.Account, u SSOUser) (SSOResult, error) {
	if a.State == usher.StateSuspended || a.State == usher.StateDeactivated {
		return SSOResult{}, ErrSSOInactive
	}
	out := SSOResult{Account: a}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		out = SSOResult{}
		cur, err := tx.Account(ctx, tenant.ID, a.ID)
		if err != nil {
			return err
		}
		if cur.State == usher.StateSuspended || cur.State == usher.StateDeactivated {
			return ErrSSOInactive
		}
		sub, err := tx.SubjectOf(ctx, tenant.ID, c.ID, cur.ID)
		if err != nil {
			return err
		}
		next := cur
		switch {
		case sub == "":
			if err := tx.TieSubject(ctx, tenant.ID, c.ID, u.Subject, cur.ID); err != nil {
				return err
			}
			if err := audit(ctx, tx, tenant.ID, actor, "sso.tied", "account", cur.ID, map[string]string{"subject": clip(u.Subject, 200)}); err != nil {
				return err
			}
			// Its own identity from now on, never one found by email: the
			// domains a connection claims are the tenant's say-so, and an
			// identity reaches its sessions and joins in every tenant. A
			// password identity the account had stays with the password.
			if next.IdentityID, err = newSSOIdentity(ctx, tx); err != nil {
				return err
			}
		case sub != u.Subject:
			// Another subject tied it meanwhile (two first sign-ins at once).
			return ErrSSOTakeover
		}
		if cur.AuthSystem != usher.AuthConnection || cur.ConnectionID != c.ID {
			if !c.Enforced || cur.AuthSystem != usher.AuthPassword {
				return ErrSSOTakeover
			}
			next.AuthSystem, next.ConnectionID = usher.AuthConnection, c.ID
			if err := audit(ctx, tx, tenant.ID, actor, "account.updated", "account", cur.ID,
				map[string]string{"auth_system": usher.AuthConnection, "connection_id": c.ID, "why": "the connection is enforced for the email's domain"}); err != nil {
				return err
			}
		}
		if cur.State == usher.StateInvited {
			now := tx.Now()
			next.State, next.ActivatedAt, next.InviteExpiresAt, next.Invitation = usher.StateActive, &now, nil, ""
			if err := tx.RevokeActivations(ctx, tenant.ID, cur.ID); err != nil {
				return err
			}
			out.Activated = true
		}
		if next.IdentityID != cur.IdentityID || next.State != cur.State || next.AuthSystem != cur.AuthSystem {
			if err := tx.UpdateAccount(ctx, tenant.ID, &cur, &next); err != nil {
				return err
			}
		}
		if out.Activated {
			if err := audit(ctx, tx, tenant.ID, actor, "account.activated", "account", cur.ID, map[string]string{"with": "sso", "connection_id": c.ID}); err != nil {
				return err
			}
		}
		out.Account = next
		return nil
	})
	if err != nil {
		return SSOResult{}, err
	}
	// An account a provisioning source (SCIM) manages is brought up to date
	// by that source, not by sign-ins: its fields are the source's.
	if c.UpdateOnSignIn && out.Account.ManagedBy == "" {
		if err := s.refresh(ctx, tenant, actor, c, &out.Account, u); err != nil {
			return SSOResult{}, err
		}
	}
	return out, nil
}

// newSSOIdentity makes the identity an SSO account signs in as: without an
// email (which belongs to password identities, joined by activation) and
// without a password. Its sessions come only through the connection.
func newSSOIdentity(ctx context.Context, tx *store.Tx) (string, error) {
	id := usher.Identity{}
	if err := tx.InsertIdentity(ctx, &id, ""); err != nil {
		return "", err
	}
	return id.ID, nil
}

// refresh brings the mapped fields the identity provider sent up to date,
// as a change by the connection (audited like any other).
func (s *Service) refresh(ctx context.Context, tenant usher.Tenant, actor usher.Actor, c usher.Connection, a *usher.Account, u SSOUser) error {
	r := s.st.Read()
	p, err := r.Person(ctx, tenant.ID, a.PersonID)
	if err != nil {
		return err
	}
	var pu PersonUpdate
	var au AccountUpdate
	changed := false
	str := func(dst **string, have, want string) {
		if want != "" && want != have {
			w := want
			*dst, changed = &w, true
		}
	}
	str(&pu.FirstName, p.FirstName, u.FirstName)
	str(&pu.LastName, p.LastName, u.LastName)
	str(&pu.Language, p.Language, u.Language)
	dep, job, err := s.catalogNames(ctx, r, tenant, u)
	if err != nil {
		return err
	}
	str(&pu.DepartmentID, p.DepartmentID, dep)
	str(&pu.JobProfileID, p.JobProfileID, job)
	groups, role := groupRules(c, u.Groups)
	if len(c.Mapping.GroupRules) > 0 && !slices.Equal(sortedCopy(a.GroupIDs), groups) {
		g := groups
		au.GroupIDs, changed = &g, true
	}
	str(&au.RoleID, a.RoleID, role)
	if !changed {
		return nil
	}
	ch, err := s.Change(ctx, actor, tenant, a.ID, pu, au)
	if err != nil {
		// The sign-in stands; a mapped value the rules refuse is the
		// administrator's to fix, and the audit says so.
		return s.st.Write(ctx, func(tx *store.Tx) error {
			return audit(ctx, tx, tenant.ID, actor, "sso.update_refused", "account", a.ID, map[string]string{"error": clip(err.Error(), 500)})
		})
	}
	if ch.Account != nil {
		*a = *ch.Account
	}
	return nil
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// groupRules turns the identity provider's groups into usher groups (sorted)
// and a role, by the connection's rules; the first matching rule with a
// role gives it.
func groupRules(c usher.Connection, groups []string) (ids []string, role string) {
	for _, rule := range c.Mapping.GroupRules {
		if !slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(strings.TrimSpace(g), strings.TrimSpace(rule.IdPGroup)) }) {
			continue
		}
		if rule.GroupID != "" && !slices.Contains(ids, rule.GroupID) {
			ids = append(ids, rule.GroupID)
		}
		if rule.RoleID != "" && role == "" {
			role = rule.RoleID
		}
	}
	slices.Sort(ids)
	return ids, role
}

// catalogNames finds the department and job profile the identity provider
// names, by name or key; a name the tenant does not have gives "".
func (s *Service) catalogNames(ctx context.Context, r *store.Tx, tenant usher.Tenant, u SSOUser) (dep, job string, err error) {
	find := func(kind, name string) (string, error) {
		name = strings.TrimSpace(name)
		if name == "" {
			return "", nil
		}
		found, err := r.AttributesByName(ctx, tenant.ID, kind, name)
		if err != nil || len(found) > 0 {
			if len(found) > 0 {
				return found[0].ID, nil
			}
			return "", err
		}
		a, err := r.AttributeByKey(ctx, tenant.ID, kind, KeyOf(name))
		if err == nil && a.DeactivatedAt == nil {
			return a.ID, nil
		} else if err != nil && !errors.Is(err, usher.ErrNotFound) {
			return "", err
		}
		return "", nil
	}
	if dep, err = find(usher.KindDepartment, u.Department); err != nil {
		return "", "", err
	}
	job, err = find(usher.KindJobProfile, u.JobProfile)
	return dep, job, err
}

// justInTime creates the person and the account of a first sign-in
// through the one provisioning path: the identity provider's fields, the
// connection's defaults, then the tenant's; required fields; a seat;
// audit with the connection as the actor; no activation message, since
// this sign-in is the activation. The subject is tied and the identity
// made in the same transaction.
func (s *Service) justInTime(ctx context.Context, tenant usher.Tenant, actor usher.Actor, in SSOSignIn, u SSOUser) (SSOResult, error) {
	c := in.Connection
	r := s.st.Read()
	dep, job, err := s.catalogNames(ctx, r, tenant, u)
	if err != nil {
		return SSOResult{}, err
	}
	if dep == "" && in.DepartmentID != "" && tenant.Settings.RegistrationDepartment {
		dep = in.DepartmentID
	}
	groups, role := groupRules(c, u.Groups)
	pi := PersonInput{FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, Phone: u.Phone, DepartmentID: dep, JobProfileID: job, Language: u.Language}
	ai := AccountInput{Route: RouteJustInTime, Person: &pi, AuthSystem: usher.AuthConnection, ConnectionID: c.ID, Username: u.Username,
		RoleID: role, GroupIDs: groups, Active: true,
		Defaults: Defaults{RoleID: c.JITRoleID, PlanID: c.JITPlanID, DepartmentID: c.JITDepartmentID, JobProfileID: c.JITJobProfileID}}
	p, err := s.plan(ctx, tenant, &ai)
	if err != nil {
		return SSOResult{}, missing(tenant, c, err)
	}
	var out SSOResult
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		created, err := s.write(ctx, tx, actor, tenant, p, ai)
		if err != nil {
			return err
		}
		a := created.Account
		if err := tx.TieSubject(ctx, tenant.ID, c.ID, u.Subject, a.ID); err != nil {
			return err
		}
		next := a
		if next.IdentityID, err = newSSOIdentity(ctx, tx); err != nil {
			return err
		}
		if err := tx.UpdateAccount(ctx, tenant.ID, &a, &next); err != nil {
			return err
		}
		out = SSOResult{Account: next, Created: true}
		return nil
	})
	if err != nil {
		var e *usher.Error
		if errors.As(err, &e) && e.Code == usher.CodeSeatsFull {
			return SSOResult{}, err
		}
		return SSOResult{}, missing(tenant, c, err)
	}
	return out, nil
}

// missing turns the rules' refusal of a just-in-time creation into what the
// page asks: fields a person may choose (the department, where the tenant
// lets people choose it), and the attributes the identity provider must
// send. Other refusals pass as they are.
func missing(tenant usher.Tenant, c usher.Connection, err error) error {
	var errs usher.Errors
	var one *usher.Error
	switch {
	case errors.As(err, &errs):
	case errors.As(err, &one):
		errs = usher.Errors{one}
	default:
		return err
	}
	m := &MissingError{Err: err}
	for _, e := range errs {
		if e.Code != usher.CodeInvalid {
			return err
		}
		switch f := e.Field; {
		case f == "department_id" && tenant.Settings.RegistrationDepartment:
			m.Choosable = append(m.Choosable, "department")
		case mappedField[f] != "":
			m.Attributes = append(m.Attributes, attributeName(c, mappedField[f]))
		default:
			return err
		}
	}
	return m
}

// mappedField: the rules' fields that an identity provider's attribute gives.
var mappedField = map[string]string{
	"first_name": "first_name", "last_name": "last_name", "email": "email", "phone": "phone", "username": "username",
	"department_id": "department", "job_profile_id": "job_profile", "language": "language",
}

// attributeName is the claim or attribute the connection reads a field from,
// as the administrator named it (or the preset's, as package sso fills in).
func attributeName(c usher.Connection, field string) string {
	m := c.Mapping
	name := map[string]string{"first_name": m.FirstName, "last_name": m.LastName, "email": m.Email, "phone": m.Phone, "username": m.Username,
		"department": m.Department, "job_profile": m.JobProfile, "language": m.Language}[field]
	if name == "" {
		return fmt.Sprintf("the %s", strings.ReplaceAll(field, "_", " "))
	}
	return fmt.Sprintf("%q (the %s)", name, strings.ReplaceAll(field, "_", " "))
}
