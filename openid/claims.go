package openid

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/text/language"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/store"
)

var supportedClaims = []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash", "sid",
	"name", "given_name", "family_name", "preferred_username", "locale", "email", "email_verified", "phone_number",
	"tenant", "role", "plan", "groups", "department", "job_profile", "organization", "contact_roles"}

// errInactive: the account is not (or no longer) active in the tenant.
var errInactive = errors.New("the account is not active in this tenant")

// subject is what the claims of one account are made of.
type subject struct {
	account       usher.Account
	person        usher.Person
	identityEmail string
	attrs         map[string]usher.Attribute
	plan          usher.Plan
	org           usher.Organization
	roles         []store.ContactRole
}

// loadSubject reads what scopes need of an active account of tn, once per
// request: a token response's access token and ID token share it.
func (p *Provider) loadSubject(ctx context.Context, tn usher.Tenant, accountID string, scopes []string) (*subject, error) {
	rs := stateOf(ctx)
	key := subjectKey(accountID, scopes)
	if rs != nil && rs.subject != nil && rs.subjectKey == key {
		return rs.subject, nil
	}
	os, err := p.st.Read().OpenIDSubject(ctx, tn.ID, accountID, slices.Contains(scopes, clients.ScopeUsher))
	if errors.Is(err, usher.ErrNotFound) {
		return nil, errInactive
	} else if err != nil {
		return nil, err
	}
	s, err := p.subjectOf(ctx, tn, os, scopes)
	if err == nil && rs != nil {
		rs.subject, rs.subjectKey = s, key
	}
	return s, err
}

func subjectKey(accountID string, scopes []string) string {
	return accountID + " " + strings.Join(scopes, " ")
}

// keepSubject remembers for the request an account's claims read with
// something else (a code exchange's authorization request); an inactive
// account is left for loadSubject to refuse.
func (p *Provider) keepSubject(ctx context.Context, rs *request, os store.OpenIDSubject, scopes []string) {
	if s, err := p.subjectOf(ctx, rs.tenant, os, scopes); err == nil {
		rs.subject, rs.subjectKey = s, subjectKey(os.Account.ID, scopes)
	}
}

// subjectOf makes what scopes need of an active account's claims.
func (p *Provider) subjectOf(ctx context.Context, tn usher.Tenant, os store.OpenIDSubject, scopes []string) (*subject, error) {
	a := os.Account
	if a.State != usher.StateActive {
		return nil, errInactive
	}
	s := &subject{account: a, person: os.Person, identityEmail: os.IdentityEmail}
	if slices.Contains(scopes, clients.ScopeUsher) {
		s.roles = os.Roles
		s.plan = usher.Plan{ID: a.PlanID, Key: os.PlanKey}
		s.org = usher.Organization{ID: os.Person.OrganizationID, Name: os.OrgName, Kind: os.OrgKind}
		ids := append([]string{a.RoleID, a.PrimaryGroupID, s.person.DepartmentID, s.person.JobProfileID}, a.GroupIDs...)
		ids = slices.DeleteFunc(ids, func(id string) bool { return id == "" })
		var err error
		if s.attrs, err = p.st.Read().AttributesByID(ctx, tn.ID, ids); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// fill sets the claims scopes ask for on info.
func (s *subject) fill(tn usher.Tenant, scopes []string, info *oidc.UserInfo) {
	a := s.account
	info.Subject = a.ID
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.GivenName, info.FamilyName = s.person.FirstName, s.person.LastName
		info.Name = strings.TrimSpace(s.person.FirstName + " " + s.person.LastName)
		info.PreferredUsername = a.Username
		if info.PreferredUsername == "" {
			info.PreferredUsername = a.Email
		}
		lang := a.Language
		if lang == "" {
			lang = s.person.Language
		}
		if tag, err := language.Parse(lang); err == nil && lang != "" {
			info.Locale = oidc.NewLocale(tag)
		}
	}
	if slices.Contains(scopes, oidc.ScopeEmail) && a.Email != "" {
		info.Email = a.Email
		// The address is proven when it is the login that activated the
		// identity (its activation link went there).
		info.EmailVerified = oidc.Bool(a.ActivatedAt != nil && s.identityEmail == a.Email)
	}
	if slices.Contains(scopes, oidc.ScopePhone) && a.Phone != "" {
		info.PhoneNumber = a.Phone
	}
	if slices.Contains(scopes, clients.ScopeUsher) {
		for k, v := range s.directory(tn) {
			info.AppendClaims(k, v)
		}
	}
}

// directory is usher's own claims.
func (s *subject) directory(tn usher.Tenant) map[string]any {
	a := s.account
	key := func(id string) string { return s.attrs[id].Key }
	out := map[string]any{"tenant": tn.Slug}
	if a.RoleID != "" {
		out["role"] = key(a.RoleID)
	}
	if s.plan.Key != "" {
		out["plan"] = s.plan.Key
	}
	groups := []string{}
	if a.PrimaryGroupID != "" && key(a.PrimaryGroupID) != "" {
		groups = append(groups, key(a.PrimaryGroupID))
	}
	for _, g := range a.GroupIDs {
		if k := key(g); k != "" && !slices.Contains(groups, k) {
			groups = append(groups, k)
		}
	}
	out["groups"] = groups
	if d := key(s.person.DepartmentID); d != "" {
		out["department"] = d
	}
	if j := key(s.person.JobProfileID); j != "" {
		out["job_profile"] = j
	}
	if s.org.ID != "" {
		out["organization"] = map[string]string{"id": s.org.ID, "name": s.org.Name, "kind": s.org.Kind}
	}
	roles := []map[string]any{}
	for _, cr := range s.roles {
		roles = append(roles, map[string]any{"site_id": cr.SiteID, "site": cr.Site, "roles": cr.Roles})
	}
	out["contact_roles"] = roles
	return out
}

// accessClaims are the directory claims an access token carries, so a
// product verifying it offline knows who may do what.
func (s *subject) accessClaims(tn usher.Tenant) map[string]any {
	d := s.directory(tn)
	out := map[string]any{"tenant": d["tenant"], "groups": d["groups"]}
	for _, k := range []string{"role", "plan"} {
		if v, ok := d[k]; ok {
			out[k] = v
		}
	}
	return out
}
