package web

import (
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// page is a paged list in a response.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// list is an unpaged list in a response.
type list[T any] struct {
	Items []T `json:"items"`
}

func paged[T any](items []T, next string, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []T{}
	}
	return page[T]{Items: items, Next: next}, nil
}

func noun(kind string) string     { return strings.ReplaceAll(kind, "_", " ") }
func singular(kind string) string { return strings.TrimSuffix(noun(kind), "s") }

// Tenants.

func (s *Server) listTenants(r *http.Request, c *call) (any, error) {
	q := newQuery(r)
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(s.st.Read().Tenants(r.Context(), o))
}

func (s *Server) createTenant(r *http.Request, c *call) (any, error) {
	var in provision.TenantInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.CreateTenant(r.Context(), c.actor, in)
}

func (s *Server) getTenant(r *http.Request, c *call) (any, error) { return c.tenant, nil }

func (s *Server) updateTenant(r *http.Request, c *call) (any, error) {
	var in provision.TenantUpdate
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	defer s.tenants.forget(func(slug string, _ usher.Tenant) bool { return slug == c.tenant.Slug })
	return s.svc.UpdateTenant(r.Context(), c.actor, c.tenant.ID, in)
}

// Tokens: operator tokens when tenant is false, the path's tenant's otherwise.

type createdToken struct {
	usher.APIToken
	// Secret is shown once; only its hash is stored.
	Secret string `json:"secret"`
}

func (s *Server) listTokens(tenant bool) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		if err := requireRole(c, usher.AdminTenant); err != nil {
			return nil, err
		}
		q := newQuery(r)
		o := q.list()
		if err := q.err(); err != nil {
			return nil, err
		}
		return paged(s.st.Read().Tokens(r.Context(), tenantID(c, tenant), o))
	}
}

func (s *Server) createToken(tenant bool) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		var in provision.TokenInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		tok, secret, err := s.svc.CreateToken(r.Context(), c.actor, tenantID(c, tenant), in)
		if err != nil {
			return nil, err
		}
		return createdToken{APIToken: tok, Secret: secret}, nil
	}
}

func (s *Server) revokeToken(tenant bool) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		id := r.PathValue("id")
		defer s.tokens.forget(func(_ string, t usher.APIToken) bool { return t.ID == id })
		return nil, s.svc.RevokeToken(r.Context(), c.actor, tenantID(c, tenant), id)
	}
}

func tenantID(c *call, tenant bool) string {
	if tenant {
		return c.tenant.ID
	}
	return ""
}

// requireRole guards reads that only some roles may make (writes are
// guarded by the provisioning service).
func requireRole(c *call, role string) error {
	rank := map[string]int{usher.AdminUser: 1, usher.AdminTenant: 2, usher.PrincipalOperator: 3}
	if rank[c.actor.Role] < rank[role] {
		return usher.Forbidden("this needs a %s token", strings.ReplaceAll(role, "_", " "))
	}
	return nil
}

// Organizations and relationships.

func (s *Server) listOrganizations(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "kind", "parent_id", "name", "active")
	f := store.OrganizationFilter{Kind: q.oneOf("kind", usher.OrgInternal, usher.OrgExternal), ParentID: q.str("parent_id"), Name: q.str("name"), Active: q.boolean("active")}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(s.st.Read().Organizations(r.Context(), c.tenant.ID, f, o))
}

func (s *Server) createOrganization(r *http.Request, c *call) (any, error) {
	var in provision.OrganizationInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.CreateOrganization(r.Context(), c.actor, c.tenant.ID, in)
}

func (s *Server) getOrganization(r *http.Request, c *call) (any, error) {
	return s.st.Read().Organization(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (s *Server) updateOrganization(r *http.Request, c *call) (any, error) {
	var in provision.OrganizationInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.UpdateOrganization(r.Context(), c.actor, c.tenant.ID, r.PathValue("id"), in)
}

var yes = true

func (s *Server) deactivateOrganization(r *http.Request, c *call) (any, error) {
	return s.svc.UpdateOrganization(r.Context(), c.actor, c.tenant.ID, r.PathValue("id"), provision.OrganizationInput{Deactivated: &yes})
}

type rolesInput struct {
	Roles []string `json:"roles"`
}

func (s *Server) relate(r *http.Request, c *call) (any, error) {
	var in rolesInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.Relate(r.Context(), c.actor, c.tenant, r.PathValue("id"), provision.RelationshipInput{PersonID: r.PathValue("person"), Roles: in.Roles})
}

func (s *Server) unrelate(r *http.Request, c *call) (any, error) {
	return nil, s.svc.Unrelate(r.Context(), c.actor, c.tenant, r.PathValue("id"), r.PathValue("person"))
}

func (s *Server) listSiteRelationships(r *http.Request, c *call) (any, error) {
	if err := newQuery(r).err(); err != nil {
		return nil, err
	}
	rd := s.st.Read()
	if _, err := rd.Organization(r.Context(), c.tenant.ID, r.PathValue("id")); err != nil {
		return nil, err
	}
	rels, err := rd.Relationships(r.Context(), c.tenant.ID, store.RelationshipFilter{SiteID: r.PathValue("id")})
	return unpaged(rels, err)
}

func (s *Server) listPersonRelationships(r *http.Request, c *call) (any, error) {
	if err := newQuery(r).err(); err != nil {
		return nil, err
	}
	rd := s.st.Read()
	if _, err := rd.Person(r.Context(), c.tenant.ID, r.PathValue("id")); err != nil {
		return nil, err
	}
	rels, err := rd.Relationships(r.Context(), c.tenant.ID, store.RelationshipFilter{PersonID: r.PathValue("id")})
	return unpaged(rels, err)
}

func unpaged[T any](items []T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items}, nil
}

// Persons.

func (s *Server) listPersons(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "organization_id", "department_id", "job_profile_id", "email", "external_id", "name", "active")
	f := store.PersonFilter{OrganizationID: q.str("organization_id"), DepartmentID: q.str("department_id"), JobProfileID: q.str("job_profile_id"),
		Email: strings.ToLower(strings.TrimSpace(q.str("email"))), ExternalID: q.str("external_id"), Name: q.str("name"), Active: q.boolean("active")}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(s.st.Read().Persons(r.Context(), c.tenant.ID, f, o))
}

func (s *Server) createPerson(r *http.Request, c *call) (any, error) {
	var in provision.PersonInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.CreatePerson(r.Context(), c.actor, c.tenant, in)
}

func (s *Server) getPerson(r *http.Request, c *call) (any, error) {
	return s.st.Read().Person(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (s *Server) updatePerson(r *http.Request, c *call) (any, error) {
	var in provision.PersonUpdate
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.UpdatePerson(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

func (s *Server) deactivatePerson(r *http.Request, c *call) (any, error) {
	return s.svc.UpdatePerson(r.Context(), c.actor, c.tenant, r.PathValue("id"), provision.PersonUpdate{Deactivated: &yes})
}

// accountFields are the account choices shared by both creation routes.
type accountFields struct {
	AuthSystem     string   `json:"auth_system,omitempty"`
	ConnectionID   string   `json:"connection_id,omitempty"`
	Email          string   `json:"email,omitempty"`
	Username       string   `json:"username,omitempty"`
	Phone          string   `json:"phone,omitempty"`
	RoleID         string   `json:"role_id,omitempty"`
	PlanID         string   `json:"plan_id,omitempty"`
	PrimaryGroupID string   `json:"primary_group_id,omitempty"`
	GroupIDs       []string `json:"group_ids,omitempty"`
	Language       string   `json:"language,omitempty"`
	AdminRole      string   `json:"admin_role,omitempty"`
}

func (f accountFields) input(route string) provision.AccountInput {
	return provision.AccountInput{Route: route, AuthSystem: f.AuthSystem, ConnectionID: f.ConnectionID, Email: f.Email, Username: f.Username,
		Phone: f.Phone, RoleID: f.RoleID, PlanID: f.PlanID, PrimaryGroupID: f.PrimaryGroupID, GroupIDs: f.GroupIDs, Language: f.Language, AdminRole: f.AdminRole}
}

// accountForPerson is "create user account" on an existing person.
type accountForPerson struct {
	accountFields
}

// newUser is a new person with their account, in one step: the person's
// fields and the account's side by side, as on an "add user" form. Email,
// phone and language serve both.
type newUser struct {
	provision.PersonInput
	AuthSystem     string   `json:"auth_system,omitempty"`
	ConnectionID   string   `json:"connection_id,omitempty"`
	Username       string   `json:"username,omitempty"`
	RoleID         string   `json:"role_id,omitempty"`
	PlanID         string   `json:"plan_id,omitempty"`
	PrimaryGroupID string   `json:"primary_group_id,omitempty"`
	GroupIDs       []string `json:"group_ids,omitempty"`
	AdminRole      string   `json:"admin_role,omitempty"`
}

func (s *Server) createAccountForPerson(r *http.Request, c *call) (any, error) {
	var in accountForPerson
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ai := in.input(provision.RouteAccountForPerson)
	ai.PersonID = r.PathValue("id")
	return s.svc.CreateAccount(r.Context(), c.actor, c.tenant, ai)
}

func (s *Server) getAccountOfPerson(r *http.Request, c *call) (any, error) {
	return s.st.Read().AccountOfPerson(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (s *Server) createUser(r *http.Request, c *call) (any, error) {
	var in newUser
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ai := accountFields{AuthSystem: in.AuthSystem, ConnectionID: in.ConnectionID, Username: in.Username, RoleID: in.RoleID, PlanID: in.PlanID,
		PrimaryGroupID: in.PrimaryGroupID, GroupIDs: in.GroupIDs, AdminRole: in.AdminRole}.input(provision.RouteNewUser)
	ai.Person = &in.PersonInput
	return s.svc.CreateAccount(r.Context(), c.actor, c.tenant, ai)
}

// Accounts.

func (s *Server) listAccounts(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "state", "invitation", "plan_id", "role_id", "group_id", "auth_system", "admin_role", "organization_id", "login")
	f := store.AccountFilter{
		Invitation: q.oneOf("invitation", usher.InvitationPending, usher.InvitationExpired),
		State:      q.oneOf("state", usher.StateInvited, usher.StateActive, usher.StateSuspended, usher.StateDeactivated),
		PlanID:     q.str("plan_id"), RoleID: q.str("role_id"), GroupID: q.str("group_id"),
		AuthSystem: q.oneOf("auth_system", usher.AuthPassword, usher.AuthConnection),
		AdminRole:  q.oneOf("admin_role", usher.AdminUser, usher.AdminTenant), OrganizationID: q.str("organization_id"),
		Login: provision.NormalizeLogin(q.str("login")),
	}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(s.st.Read().Accounts(r.Context(), c.tenant.ID, f, o))
}

func (s *Server) getAccount(r *http.Request, c *call) (any, error) {
	return s.st.Read().Account(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (s *Server) updateAccount(r *http.Request, c *call) (any, error) {
	var in provision.AccountUpdate
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.UpdateAccount(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

func (s *Server) deactivateAccount(r *http.Request, c *call) (any, error) {
	st := usher.StateDeactivated
	return s.svc.UpdateAccount(r.Context(), c.actor, c.tenant, r.PathValue("id"), provision.AccountUpdate{State: &st})
}

// Catalogues.

func (s *Server) listAttributes(kind string) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		q := newQuery(r, "active")
		active := q.boolean("active")
		o := q.list()
		if err := q.err(); err != nil {
			return nil, err
		}
		return paged(s.st.Read().Attributes(r.Context(), c.tenant.ID, kind, active, o))
	}
}

func (s *Server) createAttribute(kind string) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		var in provision.AttributeInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return s.svc.CreateAttribute(r.Context(), c.actor, c.tenant.ID, kind, in)
	}
}

func (s *Server) getAttribute(kind string) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		return s.st.Read().Attribute(r.Context(), c.tenant.ID, kind, r.PathValue("id"))
	}
}

func (s *Server) updateAttribute(kind string) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		var in provision.AttributeInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return s.svc.UpdateAttribute(r.Context(), c.actor, c.tenant.ID, kind, r.PathValue("id"), in)
	}
}

func (s *Server) deactivateAttribute(kind string) func(*http.Request, *call) (any, error) {
	return func(r *http.Request, c *call) (any, error) {
		return s.svc.UpdateAttribute(r.Context(), c.actor, c.tenant.ID, kind, r.PathValue("id"), provision.AttributeInput{Deactivated: &yes})
	}
}

func (s *Server) listPlans(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "active")
	active := q.boolean("active")
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(s.st.Read().Plans(r.Context(), c.tenant.ID, active, o))
}

func (s *Server) createPlan(r *http.Request, c *call) (any, error) {
	var in provision.PlanInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.CreatePlan(r.Context(), c.actor, c.tenant.ID, in)
}

func (s *Server) getPlan(r *http.Request, c *call) (any, error) {
	return s.st.Read().Plan(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (s *Server) updatePlan(r *http.Request, c *call) (any, error) {
	var in provision.PlanInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.UpdatePlan(r.Context(), c.actor, c.tenant.ID, r.PathValue("id"), in)
}

func (s *Server) deactivatePlan(r *http.Request, c *call) (any, error) {
	return s.svc.UpdatePlan(r.Context(), c.actor, c.tenant.ID, r.PathValue("id"), provision.PlanInput{Deactivated: &yes})
}

// Connections.

func (s *Server) listConnections(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "active")
	active := q.boolean("active")
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	conns, next, err := s.st.Read().Connections(r.Context(), c.tenant.ID, active, o)
	for i := range conns {
		conns[i].ClientSecret = ""
	}
	return paged(conns, next, err)
}

func (s *Server) saveConnection(r *http.Request, c *call) (any, error) {
	var in provision.ConnectionInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.svc.SaveConnection(r.Context(), c.actor, c.tenant.ID, r.PathValue("id"), in)
}

func (s *Server) getConnection(r *http.Request, c *call) (any, error) {
	conn, err := s.st.Read().Connection(r.Context(), c.tenant.ID, r.PathValue("id"))
	conn.ClientSecret = ""
	return conn, err
}

func (s *Server) deactivateConnection(r *http.Request, c *call) (any, error) {
	conn, err := s.st.Read().Connection(r.Context(), c.tenant.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	conn.ClientSecret = ""
	return s.svc.SaveConnection(r.Context(), c.actor, c.tenant.ID, conn.ID, provision.ConnectionInput{Connection: conn, Deactivated: &yes})
}

// Audit and messages.

func (s *Server) listAudit(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "actor_id", "target_id", "action")
	f := store.AuditFilter{ActorID: q.str("actor_id"), TargetID: q.str("target_id"), Action: q.str("action")}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(s.st.Read().AuditEvents(r.Context(), c.tenant.ID, f, o))
}

func (s *Server) listMessages(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "account_id", "state", "kind", "channel")
	f := store.MessageFilter{AccountID: q.str("account_id"), State: q.oneOf("state", usher.MessageQueued, usher.MessageSent, usher.MessageAbandoned),
		Kind: q.str("kind"), Channel: q.oneOf("channel", usher.ChannelEmail, usher.ChannelSMS)}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	msgs, next, err := s.st.Read().Messages(r.Context(), c.tenant.ID, f, o)
	if err == nil {
		msgs, err = s.svc.ComposeAll(c.tenant, msgs)
	}
	return paged(msgs, next, err)
}

func (s *Server) getMessage(r *http.Request, c *call) (any, error) {
	m, err := s.st.Read().Message(r.Context(), c.tenant.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	msgs, err := s.svc.ComposeAll(c.tenant, []usher.Message{m})
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// Identities: one login behind accounts in several tenants (operators only).

type identityView struct {
	usher.Identity
	Accounts []store.IdentityAccount `json:"accounts"`
}

func (s *Server) identityView(r *http.Request, id usher.Identity, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	accts, err := s.st.Read().AccountsOfIdentity(r.Context(), id.ID)
	if err != nil {
		return nil, err
	}
	return identityView{Identity: id, Accounts: accts}, nil
}

func (s *Server) findIdentity(r *http.Request, c *call) (any, error) {
	q := newQuery(r, "email")
	email := strings.ToLower(strings.TrimSpace(q.str("email")))
	if err := q.err(); err != nil {
		return nil, err
	}
	if email == "" {
		return nil, usher.Invalid("email", "is required")
	}
	id, err := s.st.Read().IdentityByEmail(r.Context(), email)
	return s.identityView(r, id, err)
}

func (s *Server) getIdentity(r *http.Request, c *call) (any, error) {
	id, err := s.st.Read().Identity(r.Context(), r.PathValue("id"))
	return s.identityView(r, id, err)
}

// Activation actions on an account.

func (s *Server) resendActivation(r *http.Request, c *call) (any, error) {
	msgs, err := s.svc.ResendActivation(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	return unpaged(msgs, err)
}

func (s *Server) revokeInvitation(r *http.Request, c *call) (any, error) {
	return s.svc.RevokeInvitation(r.Context(), c.actor, c.tenant, r.PathValue("id"))
}

type oneTimeInput struct {
	// OneTimePassword is the administrator's choice; empty generates one.
	OneTimePassword string `json:"one_time_password,omitempty"`
}

type oneTimeOutput struct {
	// OneTimePassword is shown this once; give it to the person yourself.
	OneTimePassword string `json:"one_time_password"`
	ExpiresInHours  int    `json:"expires_in_hours"`
	ActivationPage  string `json:"activation_page"`
}

func (s *Server) setOneTimePassword(r *http.Request, c *call) (any, error) {
	var in oneTimeInput
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return nil, err
		}
	}
	otp, err := s.svc.SetOneTimePassword(r.Context(), c.actor, c.tenant, r.PathValue("id"), in.OneTimePassword)
	if err != nil {
		return nil, err
	}
	return oneTimeOutput{OneTimePassword: otp, ExpiresInHours: int(provision.OneTimeTTL.Hours()), ActivationPage: s.cfg.Links.tenantBase(c.tenant) + "activate"}, nil
}

func (s *Server) startReset(r *http.Request, c *call) (any, error) {
	msgs, err := s.svc.StartReset(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	return unpaged(msgs, err)
}
