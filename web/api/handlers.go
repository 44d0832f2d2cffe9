package api

import (
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// page is a paged list in a response.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// list is an unpaged list in a response.
type List[T any] struct {
	Items []T `json:"items"`
}

func paged[T any](items []T, next string, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []T{}
	}
	return Page[T]{Items: items, Next: next}, nil
}

func noun(kind string) string     { return strings.ReplaceAll(kind, "_", " ") }
func singular(kind string) string { return strings.TrimSuffix(noun(kind), "s") }

// Tenants.

func (h *Handler) ListTenants(r *http.Request, c *Call) (any, error) {
	q := newQuery(r)
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(h.st.Read().Tenants(r.Context(), o))
}

func (h *Handler) CreateTenant(r *http.Request, c *Call) (any, error) {
	var in provision.TenantInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.CreateTenant(r.Context(), c.actor, in)
}

func (h *Handler) GetTenant(r *http.Request, c *Call) (any, error) { return c.tenant, nil }

func (h *Handler) UpdateTenant(r *http.Request, c *Call) (any, error) {
	var in provision.TenantUpdate
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	defer h.tenants.Forget(c.tenant.Slug)
	return h.svc.UpdateTenant(r.Context(), c.actor, c.tenant.ID, in)
}

// Tokens: operator tokens when tenant is false, the path's tenant's otherwise.

type CreatedToken struct {
	usher.APIToken
	// Secret is shown once; only its hash is stored.
	Secret string `json:"secret"`
}

func (h *Handler) ListTokens(tenant bool) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if err := c.actor.Require(usher.AdminTenant); err != nil {
			return nil, err
		}
		q := newQuery(r)
		o := q.list()
		if err := q.err(); err != nil {
			return nil, err
		}
		return paged(h.st.Read().Tokens(r.Context(), tenantOf(c, tenant).ID, o))
	}
}

func (h *Handler) CreateToken(tenant bool) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		var in apitoken.TokenInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		tok, secret, err := h.apiTokens.CreateToken(r.Context(), c.actor, tenantOf(c, tenant), in)
		if err != nil {
			return nil, err
		}
		return CreatedToken{APIToken: tok, Secret: secret}, nil
	}
}

func (h *Handler) RevokeToken(tenant bool) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		id := r.PathValue("id")
		defer h.tokens.Forget(id)
		return nil, h.apiTokens.RevokeToken(r.Context(), c.actor, tenantOf(c, tenant), id)
	}
}

// UpdateSource changes a provisioning source's settings. The replicas'
// token caches hold the old ones for two seconds at most (cacheTTL).
func (h *Handler) UpdateSource(r *http.Request, c *Call) (any, error) {
	var in apitoken.SourceInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	defer h.tokens.Forget(id)
	return h.apiTokens.UpdateSource(r.Context(), c.actor, c.tenant, id, in)
}

// tenantOf is the call's tenant, or none for the operators' own tokens.
func tenantOf(c *Call, tenant bool) usher.Tenant {
	if tenant {
		return c.tenant
	}
	return usher.Tenant{}
}

// Organizations and relationships.

func (h *Handler) ListOrganizations(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "kind", "parent_id", "name", "active")
	f := store.OrganizationFilter{Kind: q.oneOf("kind", usher.OrgInternal, usher.OrgExternal), ParentID: q.str("parent_id"), Name: q.str("name"), Active: q.boolean("active")}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(h.st.Read().Organizations(r.Context(), c.tenant.ID, f, o))
}

func (h *Handler) CreateOrganization(r *http.Request, c *Call) (any, error) {
	var in provision.OrganizationInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.CreateOrganization(r.Context(), c.actor, c.tenant, in)
}

func (h *Handler) GetOrganization(r *http.Request, c *Call) (any, error) {
	return h.st.Read().Organization(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (h *Handler) UpdateOrganization(r *http.Request, c *Call) (any, error) {
	var in provision.OrganizationInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.UpdateOrganization(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

var yes = true

func (h *Handler) DeactivateOrganization(r *http.Request, c *Call) (any, error) {
	return h.svc.UpdateOrganization(r.Context(), c.actor, c.tenant, r.PathValue("id"), provision.OrganizationInput{Deactivated: &yes})
}

type RolesInput struct {
	Roles []string `json:"roles"`
}

func (h *Handler) Relate(r *http.Request, c *Call) (any, error) {
	var in RolesInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.Relate(r.Context(), c.actor, c.tenant, r.PathValue("id"), provision.RelationshipInput{PersonID: r.PathValue("person"), Roles: in.Roles})
}

func (h *Handler) Unrelate(r *http.Request, c *Call) (any, error) {
	return nil, h.svc.Unrelate(r.Context(), c.actor, c.tenant, r.PathValue("id"), r.PathValue("person"))
}

func (h *Handler) ListSiteRelationships(r *http.Request, c *Call) (any, error) {
	if err := unpagedQuery(r).err(); err != nil {
		return nil, err
	}
	rd := h.st.Read()
	if _, err := rd.Organization(r.Context(), c.tenant.ID, r.PathValue("id")); err != nil {
		return nil, err
	}
	rels, err := rd.Relationships(r.Context(), c.tenant.ID, store.RelationshipFilter{SiteID: r.PathValue("id")})
	return unpaged(rels, err)
}

func (h *Handler) ListPersonRelationships(r *http.Request, c *Call) (any, error) {
	if err := unpagedQuery(r).err(); err != nil {
		return nil, err
	}
	rd := h.st.Read()
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
	return List[T]{Items: items}, nil
}

// Persons.

func (h *Handler) ListPersons(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "organization_id", "department_id", "job_profile_id", "email", "external_id", "name", "active")
	f := store.PersonFilter{OrganizationID: q.str("organization_id"), DepartmentID: q.str("department_id"), JobProfileID: q.str("job_profile_id"),
		Email: usher.NormalizeLogin(q.str("email")), ExternalID: q.str("external_id"), Name: q.str("name"), Active: q.boolean("active")}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(h.st.Read().Persons(r.Context(), c.tenant.ID, f, o))
}

func (h *Handler) CreatePerson(r *http.Request, c *Call) (any, error) {
	var in provision.PersonInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.CreatePerson(r.Context(), c.actor, c.tenant, in)
}

func (h *Handler) GetPerson(r *http.Request, c *Call) (any, error) {
	return h.st.Read().Person(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (h *Handler) UpdatePerson(r *http.Request, c *Call) (any, error) {
	var in provision.PersonUpdate
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.UpdatePerson(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

func (h *Handler) DeactivatePerson(r *http.Request, c *Call) (any, error) {
	return h.svc.UpdatePerson(r.Context(), c.actor, c.tenant, r.PathValue("id"), provision.PersonUpdate{Deactivated: &yes})
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

// AccountForPerson is "create user account" on an existing person.
type AccountForPerson struct {
	accountFields
}

// NewUser is a new person with their account, in one step: the person's
// fields and the account's side by side, as on an "add user" form. Email,
// phone and language serve both.
type NewUser struct {
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

func (h *Handler) CreateAccountForPerson(r *http.Request, c *Call) (any, error) {
	var in AccountForPerson
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ai := in.input(provision.RouteAccountForPerson)
	ai.PersonID = r.PathValue("id")
	return h.svc.CreateAccount(r.Context(), c.actor, c.tenant, ai)
}

func (h *Handler) GetAccountOfPerson(r *http.Request, c *Call) (any, error) {
	return h.st.Read().AccountOfPerson(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (h *Handler) CreateUser(r *http.Request, c *Call) (any, error) {
	var in NewUser
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	ai := accountFields{AuthSystem: in.AuthSystem, ConnectionID: in.ConnectionID, Username: in.Username, RoleID: in.RoleID, PlanID: in.PlanID,
		PrimaryGroupID: in.PrimaryGroupID, GroupIDs: in.GroupIDs, AdminRole: in.AdminRole}.input(provision.RouteNewUser)
	ai.Person = &in.PersonInput
	return h.svc.CreateAccount(r.Context(), c.actor, c.tenant, ai)
}

// Accounts.

func (h *Handler) ListAccounts(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "state", "invitation", "plan_id", "role_id", "group_id", "auth_system", "admin_role", "organization_id", "login")
	f := store.AccountFilter{
		Invitation: q.oneOf("invitation", usher.InvitationPending, usher.InvitationExpired),
		State:      q.oneOf("state", usher.StateInvited, usher.StateActive, usher.StateSuspended, usher.StateDeactivated),
		PlanID:     q.str("plan_id"), RoleID: q.str("role_id"), GroupID: q.str("group_id"),
		AuthSystem: q.oneOf("auth_system", usher.AuthPassword, usher.AuthConnection),
		AdminRole:  q.oneOf("admin_role", usher.AdminUser, usher.AdminTenant), OrganizationID: q.str("organization_id"),
		Login: usher.NormalizeLogin(q.str("login")),
	}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(h.st.Read().Accounts(r.Context(), c.tenant.ID, f, o))
}

func (h *Handler) GetAccount(r *http.Request, c *Call) (any, error) {
	return h.st.Read().Account(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (h *Handler) UpdateAccount(r *http.Request, c *Call) (any, error) {
	var in provision.AccountUpdate
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.UpdateAccount(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

func (h *Handler) DeactivateAccount(r *http.Request, c *Call) (any, error) {
	st := usher.StateDeactivated
	return h.svc.UpdateAccount(r.Context(), c.actor, c.tenant, r.PathValue("id"), provision.AccountUpdate{State: &st})
}

// Catalogues.

func (h *Handler) ListAttributes(kind string) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		q := newQuery(r, "active")
		active := q.boolean("active")
		o := q.list()
		if err := q.err(); err != nil {
			return nil, err
		}
		return paged(h.st.Read().Attributes(r.Context(), c.tenant.ID, kind, active, o))
	}
}

func (h *Handler) CreateAttribute(kind string) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		var in catalog.AttributeInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return h.catalog.CreateAttribute(r.Context(), c.actor, c.tenant, kind, in)
	}
}

func (h *Handler) GetAttribute(kind string) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		return h.st.Read().Attribute(r.Context(), c.tenant.ID, kind, r.PathValue("id"))
	}
}

func (h *Handler) UpdateAttribute(kind string) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		var in catalog.AttributeInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return h.catalog.UpdateAttribute(r.Context(), c.actor, c.tenant, kind, r.PathValue("id"), in)
	}
}

func (h *Handler) DeactivateAttribute(kind string) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		return h.catalog.UpdateAttribute(r.Context(), c.actor, c.tenant, kind, r.PathValue("id"), catalog.AttributeInput{Deactivated: &yes})
	}
}

func (h *Handler) ListPlans(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "active")
	active := q.boolean("active")
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(h.st.Read().Plans(r.Context(), c.tenant.ID, active, o))
}

func (h *Handler) CreatePlan(r *http.Request, c *Call) (any, error) {
	var in catalog.PlanInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.catalog.CreatePlan(r.Context(), c.actor, c.tenant, in)
}

func (h *Handler) GetPlan(r *http.Request, c *Call) (any, error) {
	return h.st.Read().Plan(r.Context(), c.tenant.ID, r.PathValue("id"))
}

func (h *Handler) UpdatePlan(r *http.Request, c *Call) (any, error) {
	var in catalog.PlanInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.catalog.UpdatePlan(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

func (h *Handler) DeactivatePlan(r *http.Request, c *Call) (any, error) {
	return h.catalog.UpdatePlan(r.Context(), c.actor, c.tenant, r.PathValue("id"), catalog.PlanInput{Deactivated: &yes})
}

// Connections.

func (h *Handler) ListConnections(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "active")
	active := q.boolean("active")
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	conns, next, err := h.st.Read().Connections(r.Context(), c.tenant.ID, active, o)
	for i := range conns {
		conns[i].ClientSecret = ""
	}
	return paged(conns, next, err)
}

func (h *Handler) SaveConnection(r *http.Request, c *Call) (any, error) {
	var in provision.ConnectionInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.svc.SaveConnection(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

func (h *Handler) GetConnection(r *http.Request, c *Call) (any, error) {
	conn, err := h.st.Read().Connection(r.Context(), c.tenant.ID, r.PathValue("id"))
	conn.ClientSecret = ""
	return conn, err
}

func (h *Handler) DeactivateConnection(r *http.Request, c *Call) (any, error) {
	conn, err := h.st.Read().Connection(r.Context(), c.tenant.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	conn.ClientSecret = ""
	return h.svc.SaveConnection(r.Context(), c.actor, c.tenant, conn.ID, provision.ConnectionInput{Connection: conn, Deactivated: &yes})
}

// Audit and messages.

func (h *Handler) ListAudit(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "actor_id", "target_id", "action", "order")
	f := store.AuditFilter{ActorID: q.str("actor_id"), TargetID: q.str("target_id"), Action: q.str("action")}
	o := q.list()
	q.order(&o)
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(h.st.Read().AuditEvents(r.Context(), c.tenant.ID, f, o))
}

func (h *Handler) ListMessages(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "account_id", "state", "kind", "channel", "order")
	f := store.MessageFilter{AccountID: q.str("account_id"), State: q.oneOf("state", usher.MessageQueued, usher.MessageSent, usher.MessageAbandoned),
		Kind: q.str("kind"), Channel: q.oneOf("channel", usher.ChannelEmail, usher.ChannelSMS)}
	o := q.list()
	q.order(&o)
	if err := q.err(); err != nil {
		return nil, err
	}
	msgs, next, err := h.st.Read().Messages(r.Context(), c.tenant.ID, f, o)
	if err == nil {
		msgs, err = h.svc.ComposeAll(c.tenant, msgs)
	}
	// A list carries each message's plain text, with its links; the HTML
	// email, kilobytes each, is read one message at a time.
	for i := range msgs {
		msgs[i].HTML = ""
	}
	return paged(msgs, next, err)
}

func (h *Handler) GetMessage(r *http.Request, c *Call) (any, error) {
	m, err := h.st.Read().Message(r.Context(), c.tenant.ID, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	msgs, err := h.svc.ComposeAll(c.tenant, []usher.Message{m})
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// Identities: one login behind accounts in several tenants (operators only).

type IdentityView struct {
	usher.Identity
	Accounts []store.IdentityAccount `json:"accounts"`
}

func (h *Handler) identityView(r *http.Request, id usher.Identity, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	accts, err := h.st.Read().AccountsOfIdentity(r.Context(), id.ID)
	if err != nil {
		return nil, err
	}
	return IdentityView{Identity: id, Accounts: accts}, nil
}

func (h *Handler) FindIdentity(r *http.Request, c *Call) (any, error) {
	q := newQuery(r, "email")
	email := usher.NormalizeLogin(q.str("email"))
	if err := q.err(); err != nil {
		return nil, err
	}
	if email == "" {
		return nil, usher.Invalid("email", "is required")
	}
	id, err := h.st.Read().IdentityByEmail(r.Context(), email)
	return h.identityView(r, id, err)
}

func (h *Handler) GetIdentity(r *http.Request, c *Call) (any, error) {
	id, err := h.st.Read().Identity(r.Context(), r.PathValue("id"))
	return h.identityView(r, id, err)
}

// Activation actions on an account.

func (h *Handler) ResendActivation(r *http.Request, c *Call) (any, error) {
	msgs, err := h.svc.ResendActivation(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	return unpaged(msgs, err)
}

func (h *Handler) RevokeInvitation(r *http.Request, c *Call) (any, error) {
	return h.svc.RevokeInvitation(r.Context(), c.actor, c.tenant, r.PathValue("id"))
}

type OneTimeInput struct {
	// OneTimePassword is the administrator's choice; empty generates one.
	OneTimePassword string `json:"one_time_password,omitempty"`
}

type OneTimeOutput struct {
	// OneTimePassword is shown this once; give it to the person yourself.
	OneTimePassword string `json:"one_time_password"`
	ExpiresInHours  int    `json:"expires_in_hours"`
	ActivationPage  string `json:"activation_page"`
}

func (h *Handler) SetOneTimePassword(r *http.Request, c *Call) (any, error) {
	var in OneTimeInput
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return nil, err
		}
	}
	otp, err := h.svc.SetOneTimePassword(r.Context(), c.actor, c.tenant, r.PathValue("id"), in.OneTimePassword)
	if err != nil {
		return nil, err
	}
	return OneTimeOutput{OneTimePassword: otp, ExpiresInHours: int(provision.OneTimeTTL.Hours()), ActivationPage: h.links.TenantBase(c.tenant) + "activate"}, nil
}

func (h *Handler) StartReset(r *http.Request, c *Call) (any, error) {
	msgs, err := h.svc.StartReset(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	return unpaged(msgs, err)
}
