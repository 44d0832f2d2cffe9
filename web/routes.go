package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/backchannel"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/api"
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/console/audit"
	"github.com/usherhq/usher/web/console/connections"
	"github.com/usherhq/usher/web/console/external"
	"github.com/usherhq/usher/web/console/importing"
	"github.com/usherhq/usher/web/console/operator"
	"github.com/usherhq/usher/web/console/people"
	"github.com/usherhq/usher/web/console/products"
	"github.com/usherhq/usher/web/console/settings"
	"github.com/usherhq/usher/web/pages"
	"github.com/usherhq/usher/web/view"
)

// routes is the whole HTTP surface of usher.
func (s *Server) routes(now func() time.Time) {
	v := view.New(s.log)
	s.jsonAPI = api.New(api.Deps{Log: s.log, Store: s.st, Provision: s.svc, Signup: s.signup, APITokens: s.apiTokens, Catalog: s.catalog, Links: s.cfg.Links, Tenants: s.tenants, Tokens: s.tokens, Version: s.cfg.Version,
		ImportLimits: s.cfg.ImportLimits, Linked: s.cfg.Linked})
	ap := s.jsonAPI
	pg := pages.New(pages.Deps{Log: s.log, View: v, Store: s.st, Provision: s.svc, Signup: s.signup, Signin: s.auth, Links: s.cfg.Links, Tenants: s.tenants,
		Channels: s.cfg.Channels, Home: s.cfg.Home, SSO: s.cfg.SSO, Linked: s.cfg.Linked})
	// The consoles: what they share, then one handler per area.
	con := console.New(console.Deps{Log: s.log, View: v, Store: s.st, Links: s.cfg.Links, SignedIn: pg.SignedIn, Clock: now, Channels: s.cfg.Channels,
		OperatorToken: s.cfg.OperatorToken})
	ppl := people.New(con, s.svc, s.cfg.Linked)
	set := settings.New(con, s.svc, s.catalog, s.signup, s.apiTokens, s.tenants)
	aud := audit.New(con)
	cnx := connections.New(con, s.svc, s.cfg.SSO)
	imp := importing.New(con, s.svc, s.cfg.ImportLimits)
	ext := external.New(con, s.cfg.Linked)
	op := operator.New(con, s.auth, s.svc, s.catalog)

	s.mux.Handle("GET /healthz", handleHealth())
	s.mux.Handle("GET /readyz", handleReady(s.st))
	s.mux.Handle("GET /metrics", s.metrics.handler())
	// Pages people see. POSTs from another origin are refused.
	csrf := http.NewCrossOriginProtection()
	route := func(pattern string, h http.Handler) {
		s.mux.Handle(pattern, s.metrics.instrument(pattern, csrf.Handler(h)))
	}
	pageRoute := func(pattern string, h http.HandlerFunc) { route(pattern, h) }
	pageRoute("GET /{$}", pg.Home)
	pageRoute("GET /t/{tenant}/activate/{secret}", pg.ActivateGet)
	pageRoute("POST /t/{tenant}/activate/{secret}", pg.ActivatePost)
	pageRoute("GET /t/{tenant}/activate", pg.EnterGet)
	pageRoute("POST /t/{tenant}/activate", pg.EnterPost)
	pageRoute("POST /t/{tenant}/activate/request", pg.Request)
	// Sign-in (identifier first), the signed-in person's page, registration.
	pageRoute("GET /t/{tenant}/{$}", pg.SignInPage)
	pageRoute("POST /t/{tenant}/signin", pg.Identify)
	pageRoute("POST /t/{tenant}/signin/password", pg.Password)
	pageRoute("POST /t/{tenant}/signin/choose", pg.Choose)
	pageRoute("POST /t/{tenant}/signout", pg.SignOut)
	pageRoute("GET /t/{tenant}/account", pg.Account)
	pageRoute("POST /t/{tenant}/account/password", pg.ChangePassword)
	pageRoute("POST /t/{tenant}/account/sessions/end-others", pg.EndOthers)
	pageRoute("GET /t/{tenant}/register", pg.RegisterGet)
	pageRoute("POST /t/{tenant}/register", pg.RegisterPost)
	pageRoute("GET /t/{tenant}/join/{code}", pg.JoinGet)
	pageRoute("POST /t/{tenant}/join/{code}", pg.JoinPost)
	// Sign-in through a corporate SSO connection (package sso): the
	// hand-over, OpenID Connect's callback, SAML's metadata and Assertion
	// Consumer Service, and the department a person may have to choose.
	// A linked account's authorization by its person (package linked): the
	// page the message leads to, the hand-over to the provider, and the
	// way back (the redirect URI registered with each external system).
	pageRoute("GET /t/{tenant}/links/{id}", pg.LinkPage)
	pageRoute("GET /t/{tenant}/links/{id}/connect", pg.LinkConnect)
	pageRoute("GET /t/{tenant}/links/callback", pg.LinkCallback)
	// The person's own: Exchange credentials instead of a provider's
	// consent, and revoking a link from their account page.
	pageRoute("POST /t/{tenant}/links/{id}/exchange", pg.LinkExchange)
	pageRoute("POST /t/{tenant}/links/{id}/revoke", pg.LinkRevoke)
	pageRoute("GET /t/{tenant}/sso/{id}/start", pg.SSOStart)
	pageRoute("GET /t/{tenant}/sso/{id}/callback", pg.SSOCallback)
	pageRoute("GET /t/{tenant}/sso/{id}/done", pg.SSODone)
	pageRoute("POST /t/{tenant}/sso/{id}/choose", pg.SSOChoose)
	pageRoute("GET /t/{tenant}/sso/{id}/metadata", pg.SSOMetadata)
	// The identity provider's page posts here from its own site: no
	// cross-origin protection, the signed response is what counts.
	s.mux.Handle("POST /t/{tenant}/sso/{id}/acs", s.metrics.instrument("POST /t/{tenant}/sso/{id}/acs", http.HandlerFunc(pg.SSOACS)))

	// The console: administrators of the tenant, signed in through the pages above.
	const a = "/t/{tenant}/admin"
	route("GET "+a+"/{$}", con.Admin(ppl.Home))
	route("GET "+a+"/people", con.Admin(ppl.People))
	route("GET "+a+"/people/new", con.Admin(ppl.PersonNew))
	route("POST "+a+"/people/new", con.Admin(ppl.PersonNew))
	route("GET "+a+"/people/{id}", con.Admin(ppl.Person))
	route("POST "+a+"/people/{id}", con.Admin(ppl.PersonEdit))
	route("POST "+a+"/people/{id}/account", con.Admin(ppl.CreateAccount))
	route("GET "+a+"/users/new", con.Admin(ppl.UserNew))
	route("POST "+a+"/users/new", con.Admin(ppl.UserNew))
	route("GET "+a+"/wizard", con.Admin(ppl.Wizard))
	route("POST "+a+"/wizard", con.Admin(ppl.Wizard))
	route("POST "+a+"/accounts/bulk", con.Admin(ppl.Bulk))
	route("POST "+a+"/accounts/{id}", con.Admin(ppl.AccountEdit))
	route("POST "+a+"/accounts/{id}/{action}", con.Admin(ppl.AccountAction))
	route("GET "+a+"/organizations", con.Admin(ppl.Orgs))
	route("POST "+a+"/organizations", con.Admin(ppl.Orgs))
	route("GET "+a+"/organizations/{id}", con.Admin(ppl.Org))
	route("POST "+a+"/organizations/{id}/sites", con.Admin(ppl.Site))
	route("POST "+a+"/organizations/{id}/relationships", con.Admin(ppl.Relate))
	route("GET "+a+"/plans", con.Admin(set.Plans))
	route("GET "+a+"/settings", con.Admin(set.Settings))
	route("POST "+a+"/settings", con.Admin(set.Settings))
	route("POST "+a+"/settings/sources/{id}", con.Admin(set.Source))
	route("GET "+a+"/catalog/{kind}", con.Admin(set.Catalog))
	route("POST "+a+"/catalog/{kind}", con.Admin(set.Catalog))
	route("GET "+a+"/signup-links", con.Admin(set.SignupLinks))
	route("POST "+a+"/signup-links", con.Admin(set.SignupLinks))
	route("GET "+a+"/signup-links/{id}/qr.svg", con.Admin(set.QR))
	route("GET "+a+"/signup-links/{id}/qr.png", con.Admin(set.QR))
	route("GET "+a+"/messages", con.Admin(ppl.Messages))
	route("GET "+a+"/messages/{id}", con.Admin(ppl.Message))
	route("GET "+a+"/audit", con.Admin(aud.Audit))
	route("GET "+a+"/connections", con.Admin(cnx.Connections))
	route("GET "+a+"/connections/new", con.Admin(cnx.ConnectionNew))
	route("POST "+a+"/connections/new", con.Admin(cnx.ConnectionNew))
	route("GET "+a+"/connections/{id}", con.Admin(cnx.Connection))
	route("POST "+a+"/connections/{id}", con.Admin(cnx.Connection))
	route("POST "+a+"/connections/{id}/{action}", con.Admin(cnx.Connection))
	route("GET "+a+"/imports", con.Admin(imp.Imports))
	route("POST "+a+"/imports", con.Admin(imp.Imports))
	route("GET "+a+"/imports/template.xlsx", con.Admin(imp.ImportTemplate))
	route("GET "+a+"/imports/template.csv", con.Admin(imp.ImportTemplate))
	route("GET "+a+"/imports/{id}", con.Admin(imp.Import))
	route("POST "+a+"/imports/{id}/cancel", con.Admin(imp.CancelImport))
	route("GET "+a+"/imports/{id}/report.xlsx", con.Admin(imp.ImportReport))
	route("GET "+a+"/imports/{id}/report.csv", con.Admin(imp.ImportReport))
	// Linked accounts: external systems (tenant administrators), linking people and unlinking them.
	route("GET "+a+"/linked", con.Admin(ext.ExternalSystems))
	route("GET "+a+"/linked/systems/new", con.Admin(ext.ExternalSystemNew))
	route("POST "+a+"/linked/systems/new", con.Admin(ext.ExternalSystemNew))
	route("GET "+a+"/linked/systems/{id}", con.Admin(ext.ExternalSystem))
	route("POST "+a+"/linked/systems/{id}", con.Admin(ext.ExternalSystem))
	route("POST "+a+"/linked/systems/{id}/{action}", con.Admin(ext.ExternalSystem))
	route("GET "+a+"/linked/systems/{id}/links", con.Admin(ext.LinkUsers))
	route("POST "+a+"/linked/systems/{id}/links", con.Admin(ext.LinkUsers))
	route("POST "+a+"/linked/accounts/{id}", con.Admin(ppl.LinkAccount))
	route("POST "+a+"/linked/links/{id}/unlink", con.Admin(ext.Unlink))
	route("POST "+a+"/linked/webhook/{action}", con.Admin(ext.LinkWebhook))

	// The operators' console, signed in with an operator token.
	pageRoute("POST /operator/signin", op.SignIn)
	pageRoute("POST /operator/signout", op.SignOut)
	route("GET /operator/{$}", op.Operator(op.Tenants))
	route("POST /operator/tenants", op.Operator(op.Tenants))
	route("GET /operator/tenants/{tenant}", op.Operator(op.Tenant))
	route("POST /operator/tenants/{tenant}/plans", op.Operator(op.Plan))
	route("POST /operator/tenants/{tenant}/plans/{id}", op.Operator(op.Plan))
	route("POST /operator/tenants/{tenant}/admins", op.Operator(op.TenantAdmin))
	route("POST /operator/tenants/{tenant}/admins/{id}/remove", op.Operator(op.TenantAdmin))

	s.mux.Handle("/api/", http.HandlerFunc(ap.NotFound))

	// SCIM 2.0 per tenant, for provisioning sources (tokens of role scim);
	// the scim package routes its own resources, matched without case.
	sc := scim.New(scim.Deps{Log: s.log, Store: s.st, Provision: s.svc, Tenants: s.tenants, Tokens: s.tokens,
		Base: s.cfg.Links.TenantBase, ClientIP: view.ClientIP})
	s.mux.Handle("/t/{tenant}/scim/v2/", s.metrics.instrument("/t/{tenant}/scim/v2/", sc))
	s.mux.Handle("/t/{tenant}/scim/v2", s.metrics.instrument("/t/{tenant}/scim/v2/", sc))

	// Operators: tenants and operator tokens.
	s.api(&api.Op{Method: "GET", Path: "/api/v1/tenants", Summary: "List tenants", Access: api.OperatorOnly, Out: api.Page[usher.Tenant]{}, Handle: ap.ListTenants})
	s.api(&api.Op{Method: "POST", Path: "/api/v1/tenants", Summary: "Create a tenant with its internal organization", Access: api.OperatorOnly,
		In: provision.TenantInput{}, Out: usher.Tenant{}, Status: 201, Handle: ap.CreateTenant})
	s.api(&api.Op{Method: "GET", Path: "/api/v1/tenants/{tenant}", Summary: "Read a tenant and its settings", Access: api.TenantScoped, Out: usher.Tenant{}, Handle: ap.GetTenant})
	s.api(&api.Op{Method: "PATCH", Path: "/api/v1/tenants/{tenant}", Summary: "Change a tenant's name or settings; operators may deactivate it", Access: api.TenantScoped,
		MinRole: usher.AdminTenant, In: provision.TenantUpdate{}, Out: usher.Tenant{}, Handle: ap.UpdateTenant})
	s.api(&api.Op{Method: "GET", Path: "/api/v1/tokens", Summary: "List operator tokens", Access: api.OperatorOnly, Out: api.Page[usher.APIToken]{}, Handle: ap.ListTokens(false)})
	s.api(&api.Op{Method: "POST", Path: "/api/v1/tokens", Summary: "Create an operator token; its secret is shown once", Access: api.OperatorOnly,
		In: apitoken.TokenInput{}, Out: api.CreatedToken{}, Status: 201, Handle: ap.CreateToken(false)})
	s.api(&api.Op{Method: "DELETE", Path: "/api/v1/tokens/{id}", Summary: "Revoke an operator token", Access: api.OperatorOnly, Status: 204, Handle: ap.RevokeToken(false)})

	s.api(&api.Op{Method: "GET", Path: "/api/v1/identities", Summary: "Find the identity that signs in with an email, with its accounts in every tenant", Access: api.OperatorOnly,
		Params: []string{"email"}, Out: api.IdentityView{}, Handle: ap.FindIdentity})
	s.api(&api.Op{Method: "GET", Path: "/api/v1/identities/{id}", Summary: "Read an identity with its accounts in every tenant", Access: api.OperatorOnly,
		Out: api.IdentityView{}, Handle: ap.GetIdentity})

	const t = "/api/v1/tenants/{tenant}"

	// The directory: organizations and their sites, persons, accounts.
	s.api(&api.Op{Method: "GET", Path: t + "/organizations", Summary: "List organizations and sites", Access: api.TenantScoped,
		Params: []string{"kind", "parent_id", "name", "active"}, Out: api.Page[usher.Organization]{}, Handle: ap.ListOrganizations})
	s.api(&api.Op{Method: "POST", Path: t + "/organizations", Summary: "Create an external organization, or a site with parent_id", Access: api.TenantScoped,
		MinRole: usher.AdminUser, In: provision.OrganizationInput{}, Out: usher.Organization{}, Status: 201, Handle: ap.CreateOrganization})
	s.api(&api.Op{Method: "GET", Path: t + "/organizations/{id}", Summary: "Read an organization", Access: api.TenantScoped, Out: usher.Organization{}, Handle: ap.GetOrganization})
	s.api(&api.Op{Method: "PATCH", Path: t + "/organizations/{id}", Summary: "Rename or (de)activate an organization", Access: api.TenantScoped,
		MinRole: usher.AdminUser, In: provision.OrganizationInput{}, Out: usher.Organization{}, Handle: ap.UpdateOrganization})
	s.api(&api.Op{Method: "DELETE", Path: t + "/organizations/{id}", Summary: "Deactivate an organization", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Out: usher.Organization{}, Handle: ap.DeactivateOrganization})
	s.api(&api.Op{Method: "GET", Path: t + "/organizations/{id}/relationships", Summary: "List the contacts of a site with their contact roles", Access: api.TenantScoped,
		Out: api.List[usher.Relationship]{}, Handle: ap.ListSiteRelationships})
	s.api(&api.Op{Method: "PUT", Path: t + "/organizations/{id}/relationships/{person}", Summary: "Relate a person to a site with contact roles; the first relationship sends the welcome message",
		Access: api.TenantScoped, MinRole: usher.AdminUser, In: api.RolesInput{}, Out: provision.Related{}, Handle: ap.Relate})
	s.api(&api.Op{Method: "DELETE", Path: t + "/organizations/{id}/relationships/{person}", Summary: "Remove a person's relationship with a site", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Status: 204, Handle: ap.Unrelate})

	s.api(&api.Op{Method: "GET", Path: t + "/persons", Summary: "List persons (employees and contacts)", Access: api.TenantScoped,
		Params: []string{"organization_id", "department_id", "job_profile_id", "email", "external_id", "name", "active"}, Out: api.Page[usher.Person]{}, Handle: ap.ListPersons})
	s.api(&api.Op{Method: "POST", Path: t + "/persons", Summary: "Create a person (New employee / New contact) without an account", Access: api.TenantScoped,
		MinRole: usher.AdminUser, In: provision.PersonInput{}, Out: usher.Person{}, Status: 201, Handle: ap.CreatePerson})
	s.api(&api.Op{Method: "GET", Path: t + "/persons/{id}", Summary: "Read a person", Access: api.TenantScoped, Out: usher.Person{}, Handle: ap.GetPerson})
	s.api(&api.Op{Method: "PATCH", Path: t + "/persons/{id}", Summary: "Change a person; deactivating also deactivates their account", Access: api.TenantScoped,
		MinRole: usher.AdminUser, In: provision.PersonUpdate{}, Out: usher.Person{}, Handle: ap.UpdatePerson})
	s.api(&api.Op{Method: "DELETE", Path: t + "/persons/{id}", Summary: "Deactivate a person and their account", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Out: usher.Person{}, Handle: ap.DeactivatePerson})
	s.api(&api.Op{Method: "POST", Path: t + "/persons/{id}/account", Summary: "Create user account for a person, choosing the authentication system", Access: api.TenantScoped,
		MinRole: usher.AdminUser, In: api.AccountForPerson{}, Out: provision.Created{}, Status: 201, Handle: ap.CreateAccountForPerson})
	s.api(&api.Op{Method: "GET", Path: t + "/persons/{id}/account", Summary: "Read the account of a person", Access: api.TenantScoped, Out: usher.Account{}, Handle: ap.GetAccountOfPerson})
	s.api(&api.Op{Method: "GET", Path: t + "/persons/{id}/relationships", Summary: "List a person's sites and contact roles", Access: api.TenantScoped,
		Out: api.List[usher.Relationship]{}, Handle: ap.ListPersonRelationships})

	s.api(&api.Op{Method: "GET", Path: t + "/accounts", Summary: "List accounts", Access: api.TenantScoped,
		Params: []string{"state", "invitation", "plan_id", "role_id", "group_id", "auth_system", "admin_role", "organization_id", "login"}, Out: api.Page[usher.Account]{}, Handle: ap.ListAccounts})
	s.api(&api.Op{Method: "POST", Path: t + "/accounts", Summary: "Create a user: a new person and their account in one step", Access: api.TenantScoped,
		MinRole: usher.AdminUser, In: api.NewUser{}, Out: provision.Created{}, Status: 201, Handle: ap.CreateUser})
	s.api(&api.Op{Method: "GET", Path: t + "/accounts/{id}", Summary: "Read an account", Access: api.TenantScoped, Out: usher.Account{}, Handle: ap.GetAccount})
	s.api(&api.Op{Method: "PATCH", Path: t + "/accounts/{id}", Summary: "Change an account: identifiers, role, plan, groups, administrator rights, state", Access: api.TenantScoped,
		MinRole: usher.AdminUser, In: provision.AccountUpdate{}, Out: usher.Account{}, Handle: ap.UpdateAccount})
	s.api(&api.Op{Method: "DELETE", Path: t + "/accounts/{id}", Summary: "Deactivate an account, freeing its seat", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Out: usher.Account{}, Handle: ap.DeactivateAccount})
	s.api(&api.Op{Method: "POST", Path: t + "/accounts/{id}/resend-activation", Summary: "Send an invited account a new activation message; earlier links stop working",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: api.List[usher.Message]{}, Handle: ap.ResendActivation})
	s.api(&api.Op{Method: "POST", Path: t + "/accounts/{id}/revoke-invitation", Summary: "Make an invited account's activation links and codes unusable",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: usher.Account{}, Handle: ap.RevokeInvitation})
	s.api(&api.Op{Method: "POST", Path: t + "/accounts/{id}/one-time-password", Summary: "Set a one-time password (generated when none is given); shown once, never sent",
		Access: api.TenantScoped, MinRole: usher.AdminUser, In: api.OneTimeInput{}, OptionalBody: true, Out: api.OneTimeOutput{}, Status: 201, Handle: ap.SetOneTimePassword})
	s.api(&api.Op{Method: "POST", Path: t + "/accounts/{id}/reset-password", Summary: "Send an active account a link to choose a new password",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: api.List[usher.Message]{}, Handle: ap.StartReset})

	// Catalogues: roles, departments, job profiles, groups; plans with seats.
	for _, kind := range []string{usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup} {
		s.api(&api.Op{Method: "GET", Path: t + "/" + kind, Summary: "List " + noun(kind), Access: api.TenantScoped, Params: []string{"active"},
			Out: api.Page[usher.Attribute]{}, Handle: ap.ListAttributes(kind)})
		s.api(&api.Op{Method: "POST", Path: t + "/" + kind, Summary: "Create a " + singular(kind), Access: api.TenantScoped, MinRole: usher.AdminTenant,
			In: catalog.AttributeInput{}, Out: usher.Attribute{}, Status: 201, Handle: ap.CreateAttribute(kind)})
		s.api(&api.Op{Method: "GET", Path: t + "/" + kind + "/{id}", Summary: "Read a " + singular(kind), Access: api.TenantScoped, Out: usher.Attribute{}, Handle: ap.GetAttribute(kind)})
		s.api(&api.Op{Method: "PATCH", Path: t + "/" + kind + "/{id}", Summary: "Change a " + singular(kind), Access: api.TenantScoped, MinRole: usher.AdminTenant,
			In: catalog.AttributeInput{}, Out: usher.Attribute{}, Handle: ap.UpdateAttribute(kind)})
		s.api(&api.Op{Method: "DELETE", Path: t + "/" + kind + "/{id}", Summary: "Deactivate a " + singular(kind), Access: api.TenantScoped, MinRole: usher.AdminTenant,
			Out: usher.Attribute{}, Handle: ap.DeactivateAttribute(kind)})
	}
	s.api(&api.Op{Method: "GET", Path: t + "/plans", Summary: "List plans with seats used and free", Access: api.TenantScoped, Params: []string{"active"},
		Out: api.Page[usher.Plan]{}, Handle: ap.ListPlans})
	s.api(&api.Op{Method: "POST", Path: t + "/plans", Summary: "Create a plan with its seats (operators)", Access: api.TenantScoped, MinRole: usher.PrincipalOperator,
		In: catalog.PlanInput{}, Out: usher.Plan{}, Status: 201, Handle: ap.CreatePlan})
	s.api(&api.Op{Method: "GET", Path: t + "/plans/{id}", Summary: "Read a plan", Access: api.TenantScoped, Out: usher.Plan{}, Handle: ap.GetPlan})
	s.api(&api.Op{Method: "PATCH", Path: t + "/plans/{id}", Summary: "Change a plan's name or seats (operators)", Access: api.TenantScoped, MinRole: usher.PrincipalOperator,
		In: catalog.PlanInput{}, Out: usher.Plan{}, Handle: ap.UpdatePlan})
	s.api(&api.Op{Method: "DELETE", Path: t + "/plans/{id}", Summary: "Deactivate a plan (operators)", Access: api.TenantScoped, MinRole: usher.PrincipalOperator,
		Out: usher.Plan{}, Handle: ap.DeactivatePlan})

	// Corporate SSO connections, as configuration.
	s.api(&api.Op{Method: "GET", Path: t + "/connections", Summary: "List corporate SSO connections", Access: api.TenantScoped, Params: []string{"active"},
		Out: api.Page[usher.Connection]{}, Handle: ap.ListConnections})
	s.api(&api.Op{Method: "POST", Path: t + "/connections", Summary: "Create a corporate SSO connection", Access: api.TenantScoped, MinRole: usher.AdminTenant,
		In: provision.ConnectionInput{}, ReadOnly: connectionSet, Out: usher.Connection{}, Status: 201, Handle: ap.SaveConnection})
	s.api(&api.Op{Method: "GET", Path: t + "/connections/{id}", Summary: "Read a connection (its client secret is never shown)", Access: api.TenantScoped,
		Out: usher.Connection{}, Handle: ap.GetConnection})
	s.api(&api.Op{Method: "PUT", Path: t + "/connections/{id}", Summary: "Replace a connection's configuration; an absent client secret is kept", Access: api.TenantScoped,
		MinRole: usher.AdminTenant, In: provision.ConnectionInput{}, ReadOnly: connectionSet, Out: usher.Connection{}, Handle: ap.SaveConnection})
	s.api(&api.Op{Method: "DELETE", Path: t + "/connections/{id}", Summary: "Deactivate a connection, releasing its domains", Access: api.TenantScoped,
		MinRole: usher.AdminTenant, Out: usher.Connection{}, Handle: ap.DeactivateConnection})

	// Linked accounts: a product's access token for a person's linked account.
	s.api(&api.Op{Method: "GET", Path: t + "/links/{id}/token", Summary: "A fresh access token of an authorized linked account, refreshed first when it is about to expire (never the refresh token)",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: api.LinkToken{}, Handle: ap.LinkToken})
	// Linked accounts: the external systems (calendars) and the links to them.
	s.api(&api.Op{Method: "GET", Path: t + "/external-systems", Summary: "List the external systems (calendars) people link their accounts in", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Params: []string{"active"}, Out: api.Page[usher.ExternalSystem]{}, Handle: ap.ListExternalSystems})
	s.api(&api.Op{Method: "POST", Path: t + "/external-systems", Summary: "Create an external system: Google Workspace, Microsoft 365, another OAuth 2.0 provider or Exchange (EWS)",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, In: linked.ExternalSystemInput{}, ReadOnly: externalSystemSet, Out: usher.ExternalSystem{}, Status: 201,
		Handle: ap.SaveExternalSystem})
	s.api(&api.Op{Method: "GET", Path: t + "/external-systems/{id}", Summary: "Read an external system (its client secret is never shown)", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Out: usher.ExternalSystem{}, Handle: ap.GetExternalSystem})
	s.api(&api.Op{Method: "PUT", Path: t + "/external-systems/{id}", Summary: "Replace an external system's configuration; an absent client secret is kept", Access: api.TenantScoped,
		MinRole: usher.AdminTenant, In: linked.ExternalSystemInput{}, ReadOnly: externalSystemSet, Out: usher.ExternalSystem{}, Handle: ap.SaveExternalSystem})
	s.api(&api.Op{Method: "DELETE", Path: t + "/external-systems/{id}", Summary: "Deactivate an external system: no new links to it; the existing ones stay until unlinked", Access: api.TenantScoped,
		MinRole: usher.AdminTenant, Out: usher.ExternalSystem{}, Handle: ap.DeactivateExternalSystem})
	s.api(&api.Op{Method: "GET", Path: t + "/external-systems/{id}/suggestions", Summary: "Suggest links: the accounts without a live link to the system, each with its email as the login",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: api.List[store.LinkSuggestion]{}, Handle: ap.LinkSuggestions})
	s.api(&api.Op{Method: "POST", Path: t + "/accounts/{id}/links", Summary: "Link an account to its login in an external system; the person is sent the message to authorize it",
		Access: api.TenantScoped, MinRole: usher.AdminUser, In: api.AccountLinkInput{}, Out: usher.Link{}, Status: 201, Handle: ap.LinkAccount})
	s.api(&api.Op{Method: "POST", Path: t + "/links", Summary: "Link many accounts at once, each on its own: a result per item, in order, with the link or its problem",
		Access: api.TenantScoped, MinRole: usher.AdminUser, In: api.LinksInput{}, Out: api.List[api.LinkResult]{}, Handle: ap.LinkMany})
	s.api(&api.Op{Method: "GET", Path: t + "/links", Summary: "List linked accounts (never their tokens)", Access: api.TenantScoped, MinRole: usher.AdminUser,
		Params: []string{"state", "account_id", "external_system_id"}, Enums: map[string][]string{"state": api.LinkStates}, Out: api.Page[usher.Link]{}, Handle: ap.ListLinks})
	s.api(&api.Op{Method: "GET", Path: t + "/links/{id}", Summary: "Read a linked account (never its tokens)", Access: api.TenantScoped, MinRole: usher.AdminUser,
		Out: usher.Link{}, Handle: ap.GetLink})
	s.api(&api.Op{Method: "DELETE", Path: t + "/links/{id}", Summary: "Unlink: the link ends, its tokens are revoked at the provider where it can and erased",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: usher.Link{}, Handle: ap.Unlink})
	// Linked accounts: the tenant's webhook for the links' changes of state.
	s.api(&api.Op{Method: "GET", Path: t + "/link-webhook", Summary: "Read the webhook that hears of linked accounts' changes of state (never its secret)",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: linked.Webhook{}, Handle: ap.GetLinkWebhook})
	s.api(&api.Op{Method: "PUT", Path: t + "/link-webhook", Summary: "Set the address of the webhook for linked accounts' changes of state; the first time, its signing secret is made and answered, once",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, In: linked.WebhookInput{}, Out: linked.Webhook{}, Handle: ap.SaveLinkWebhook})
	s.api(&api.Op{Method: "DELETE", Path: t + "/link-webhook", Summary: "Remove the webhook for linked accounts' changes of state; events not yet delivered are abandoned",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, Status: 204, Handle: ap.DeleteLinkWebhook})
	s.api(&api.Op{Method: "POST", Path: t + "/link-webhook/secret", Summary: "Rotate the webhook's signing secret: the new one is answered, once, and signs the deliveries from now on",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, Out: linked.Webhook{}, Handle: ap.RotateLinkWebhookSecret})
	// Sign-up links and their QR codes.
	s.api(&api.Op{Method: "GET", Path: t + "/signup-links", Summary: "List sign-up links", Access: api.TenantScoped,
		Params: []string{"department_id", "status"}, Out: api.Page[usher.SignupLink]{}, Handle: ap.ListSignupLinks})
	s.api(&api.Op{Method: "POST", Path: t + "/signup-links", Summary: "Create a sign-up link, for a department or the whole tenant, with the defaults it gives new accounts",
		Access: api.TenantScoped, MinRole: usher.AdminUser, In: signup.SignupLinkInput{}, Out: usher.SignupLink{}, Status: 201, Handle: ap.CreateSignupLink})
	s.api(&api.Op{Method: "GET", Path: t + "/signup-links/{id}", Summary: "Read a sign-up link", Access: api.TenantScoped, Out: usher.SignupLink{}, Handle: ap.GetSignupLink})
	s.api(&api.Op{Method: "PATCH", Path: t + "/signup-links/{id}", Summary: "Change a sign-up link's name, defaults, expiry or max uses, or disable or enable it",
		Access: api.TenantScoped, MinRole: usher.AdminUser, In: signup.SignupLinkInput{}, Out: usher.SignupLink{}, Handle: ap.UpdateSignupLink})
	s.api(&api.Op{Method: "DELETE", Path: t + "/signup-links/{id}", Summary: "Disable a sign-up link", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Out: usher.SignupLink{}, Handle: ap.DisableSignupLink})
	s.api(&api.Op{Method: "GET", Path: t + "/signup-links/{id}/qr.png", Summary: "The QR code of a sign-up link's address, as a PNG of size × size pixels (128 to 2048, default 512)",
		Access: api.TenantScoped, Params: []string{"size"}, Produces: []string{"image/png"}, Handle: ap.SignupQRPNG})
	s.api(&api.Op{Method: "GET", Path: t + "/signup-links/{id}/qr.svg", Summary: "The QR code of a sign-up link's address, as SVG", Access: api.TenantScoped,
		Produces: []string{"image/svg+xml"}, Handle: ap.SignupQRSVG})

	// Tenant API tokens, the audit log and the outbox.
	s.api(&api.Op{Method: "GET", Path: t + "/tokens", Summary: "List the tenant's API tokens", Access: api.TenantScoped, MinRole: usher.AdminTenant,
		Out: api.Page[usher.APIToken]{}, Handle: ap.ListTokens(true)})
	s.api(&api.Op{Method: "POST", Path: t + "/tokens", Summary: "Create a tenant API token; its secret is shown once", Access: api.TenantScoped, MinRole: usher.AdminTenant,
		In: apitoken.TokenInput{}, Out: api.CreatedToken{}, Status: 201, Handle: ap.CreateToken(true)})
	s.api(&api.Op{Method: "DELETE", Path: t + "/tokens/{id}", Summary: "Revoke a tenant API token", Access: api.TenantScoped, MinRole: usher.AdminTenant,
		Status: 204, Handle: ap.RevokeToken(true)})
	s.api(&api.Op{Method: "PATCH", Path: t + "/tokens/{id}", Summary: "Change a provisioning source's settings (a token of role scim): patch_response",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, In: apitoken.SourceInput{}, Out: usher.APIToken{}, Handle: ap.UpdateSource})
	order := map[string][]string{"order": {api.Newest, api.Oldest}}
	s.api(&api.Op{Method: "GET", Path: t + "/audit-events", Summary: "List audit events, newest first (order=oldest: oldest first)", Access: api.TenantScoped,
		Params: []string{"actor_id", "target_id", "action", "order"}, Enums: order, Out: api.Page[usher.AuditEvent]{}, Handle: ap.ListAudit})
	s.api(&api.Op{Method: "GET", Path: t + "/messages", Summary: "List queued and sent messages, newest first (order=oldest: oldest first), each with its plain text but not its HTML",
		Access: api.TenantScoped, Params: []string{"account_id", "state", "kind", "channel", "order"},
		Enums: map[string][]string{"order": order["order"], "state": {usher.MessageQueued, usher.MessageSent, usher.MessageAbandoned},
			"channel": {usher.ChannelEmail, usher.ChannelSMS}}, Out: api.Page[usher.Message]{}, Handle: ap.ListMessages})
	s.api(&api.Op{Method: "GET", Path: t + "/messages/{id}", Summary: "Read a message with its plain text and, for an email, its HTML", Access: api.TenantScoped,
		Out: usher.Message{}, Handle: ap.GetMessage})
	s.openID(pg, ap, con, route)
	// Importing people from Excel or CSV (package imports).
	s.api(&api.Op{Method: "GET", Path: t + "/imports/template.xlsx", Summary: "Download the import template: the tenant's columns, drop-down lists and instructions",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Params: []string{"lang"}, Enums: map[string][]string{"lang": imports.Languages},
		Produces: []string{api.TypeXLSX}, Handle: ap.ImportTemplateXLSX})
	s.api(&api.Op{Method: "GET", Path: t + "/imports/template.csv", Summary: "Download the import template as CSV", Access: api.TenantScoped,
		MinRole: usher.AdminUser, Params: []string{"lang"}, Enums: map[string][]string{"lang": imports.Languages}, Produces: []string{api.TypeCSV}, Handle: ap.ImportTemplateCSV})
	s.api(&api.Op{Method: "POST", Path: t + "/imports", Summary: "Import people from an XLSX or CSV file (the body, or the multipart part \"file\"): the file's shape is checked at once and the import runs as a job (202); dry_run=true reports every row and writes nothing (200)",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Params: []string{"dry_run"}, Accepts: api.ImportAccepts, Out: imports.Report{}, Also: map[int]any{202: imports.Job{}},
		Timeout: importTimeout, Handle: ap.Import})
	s.api(&api.Op{Method: "GET", Path: t + "/imports", Summary: "List the tenant's imports, newest first", Access: api.TenantScoped, MinRole: usher.AdminUser,
		Out: api.Page[imports.Job]{}, Handle: ap.ListImports})
	s.api(&api.Op{Method: "GET", Path: t + "/imports/{id}", Summary: "Read an import: its state (queued, running, done, cancelled, failed), progress, counts and file",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: imports.Job{}, Handle: ap.GetImport})
	s.api(&api.Op{Method: "POST", Path: t + "/imports/{id}/cancel", Summary: "Cancel an import: the rows created stay, the others are reported not imported",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Out: imports.Job{}, Handle: ap.CancelImport})
	s.api(&api.Op{Method: "GET", Path: t + "/imports/{id}/report.xlsx", Summary: "Download an import's report: the file's rows, each with its result (created, skipped or refused and why, not imported)",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Produces: []string{api.TypeXLSX}, Handle: ap.ImportReport})
	s.api(&api.Op{Method: "GET", Path: t + "/imports/{id}/report.csv", Summary: "Download an import's report as CSV (formulas defused)",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Produces: []string{api.TypeCSV}, Handle: ap.ImportReport})
	s.api(&api.Op{Method: "POST", Path: t + "/imports/check.xlsx", Summary: "Check a file, writing nothing, and get its rows back with each one's result and problems (XLSX)",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Accepts: api.ImportAccepts, Produces: []string{api.TypeXLSX}, Timeout: importTimeout, Handle: ap.ImportCheckFile})
	s.api(&api.Op{Method: "POST", Path: t + "/imports/check.csv", Summary: "Check a file, writing nothing, and get its rows back with each one's result and problems (CSV, formulas defused)",
		Access: api.TenantScoped, MinRole: usher.AdminUser, Accepts: api.ImportAccepts, Produces: []string{api.TypeCSV}, Timeout: importTimeout, Handle: ap.ImportCheckFile})
	s.mux.Handle("GET /api/v1/openapi.json", ap.OpenAPI(s.ops))
}

// openID mounts the OpenID Connect provider: each tenant's issuer, the
// consent page, and the API of its clients and signing keys (which, on a
// server without the provider, say so).
func (s *Server) openID(pg *pages.Handler, ap *api.Handler, con *console.Console, route func(string, http.Handler)) {
	oid := s.cfg.OpenID
	if oid != nil {
		pg.UseOpenID(oid)
		h := oid.Handler(openid.Pages{
			Tenant: func(r *http.Request) (usher.Tenant, error) {
				return s.tenants.BySlug(r.Context(), r.PathValue("tenant"))
			},
			Session: func(r *http.Request, tn usher.Tenant) (signin.Current, error) {
				return view.Session(r, s.auth, s.st, tn)
			},
			SignOut:        pg.EndSession,
			Error:          pg.ProtocolError,
			ConfirmSignOut: pg.ConfirmSignOut,
			SignedOut:      pg.SignedOut,
		})
		// Not behind cross-origin protection: products post to the token
		// endpoint from their own origins.
		for _, p := range []string{"/.well-known/openid-configuration", "/oauth/authorize", "/oauth/login", "/oauth/token", "/oauth/userinfo",
			"/oauth/introspect", "/oauth/revoke", "/oauth/logout", "/oauth/jwks"} {
			s.mux.Handle("/t/{tenant}"+p, s.metrics.instrument("/t/{tenant}"+p, h))
		}
		// The sign-out confirmation's answer is a form of usher's own page:
		// behind cross-origin protection, unlike the logout endpoint.
		route("POST /t/{tenant}/oauth/logout/confirm", h)
		route("GET /t/{tenant}/consent/{id}", pg.Consent(oid))
		route("POST /t/{tenant}/consent/{id}", pg.Consent(oid))
		// The console's products (tenant administrators).
		const a = "/t/{tenant}/admin"
		prd := products.New(con)
		route("GET "+a+"/clients", con.Admin(prd.Clients(oid)))
		route("POST "+a+"/clients", con.Admin(prd.Clients(oid)))
		route("GET "+a+"/clients/{id}", con.Admin(prd.Client(oid)))
		route("POST "+a+"/clients/{id}", con.Admin(prd.Client(oid)))
		route("POST "+a+"/clients/{id}/{action}", con.Admin(prd.Client(oid)))
		route("GET "+a+"/clients/{id}/sign-out-deliveries", con.Admin(prd.LogoutDeliveries(oid)))
		route("POST "+a+"/clients/{id}/sign-out-deliveries/{event}/retry", con.Admin(prd.RetryLogout(oid)))
	}

	const t = "/api/v1/tenants/{tenant}"
	s.api(&api.Op{Method: "GET", Path: t + "/clients", Summary: "List the products (OpenID Connect clients) that sign the tenant's people in", Access: api.TenantScoped,
		MinRole: usher.AdminTenant, Params: []string{"active"}, Out: api.Page[usher.Client]{}, Handle: ap.ListClients(oid)})
	s.api(&api.Op{Method: "POST", Path: t + "/clients", Summary: "Register a product (OpenID Connect client); a confidential client's secret is shown once",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, In: clients.ClientInput{}, Out: clients.CreatedClient{}, Status: 201, Handle: ap.CreateClient(oid)})
	s.api(&api.Op{Method: "GET", Path: t + "/clients/{id}", Summary: "Read a client (never its secret)", Access: api.TenantScoped, MinRole: usher.AdminTenant,
		Out: usher.Client{}, Handle: ap.GetClient(oid)})
	s.api(&api.Op{Method: "PATCH", Path: t + "/clients/{id}", Summary: "Change a client; rotate_secret gives it a new secret, shown once",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, In: clients.ClientInput{}, Out: clients.CreatedClient{}, Handle: ap.UpdateClient(oid)})
	s.api(&api.Op{Method: "DELETE", Path: t + "/clients/{id}", Summary: "Delete a client: it signs nobody in any more and what it was given is revoked",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, Out: usher.Client{}, Handle: ap.DeleteClient(oid)})
	s.api(&api.Op{Method: "GET", Path: t + "/clients/{id}/logout-deliveries", Summary: "List a client's back-channel logout deliveries, newest first: state, attempts, next attempt, what the last failure was (never the logout token)",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, Params: []string{"state"}, Enums: map[string][]string{"state": api.LogoutStates},
		Out: api.Page[backchannel.LogoutDelivery]{}, Handle: ap.ListLogoutDeliveries(oid)})
	s.api(&api.Op{Method: "POST", Path: t + "/clients/{id}/logout-deliveries/{event}/retry", Summary: "Retry an abandoned or backing-off back-channel logout now: the worker tries it at its next pass",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, Out: backchannel.LogoutDelivery{}, Handle: ap.RetryLogoutDelivery(oid)})
	s.api(&api.Op{Method: "GET", Path: t + "/signing-keys", Summary: "List the tenant's token signing keys (public facts only)", Access: api.TenantScoped,
		MinRole: usher.AdminTenant, Out: api.List[keys.KeyInfo]{}, Handle: ap.ListSigningKeys(oid)})
	s.api(&api.Op{Method: "POST", Path: t + "/signing-keys/rotate", Summary: "Rotate the signing keys now: the new keys are published at once and sign after the lead time",
		Access: api.TenantScoped, MinRole: usher.AdminTenant, Out: api.List[keys.KeyInfo]{}, Handle: ap.RotateSigningKeys(oid)})
}

// api registers an operation on the mux behind metrics; the OpenAPI
// document is made of the same list.
func (s *Server) api(o *api.Op) {
	s.ops = append(s.ops, o)
	pattern := o.Method + " " + o.Path
	s.mux.Handle(pattern, s.metrics.instrument(pattern, s.jsonAPI.Serve(o)))
}

// importTimeout bounds an upload and its import, past the server's
// timeouts for other requests.
const importTimeout = 15 * time.Minute

// externalSystemSet are the members of an external system the server sets.
var externalSystemSet = []string{"id", "created_at", "updated_at", "deactivated_at"}

// connectionSet are the members of a connection the server sets.
var connectionSet = []string{"id", "created_at", "updated_at", "deactivated_at", "sp_certificate"}

func noun(kind string) string     { return strings.ReplaceAll(kind, "_", " ") }
func singular(kind string) string { return strings.TrimSuffix(noun(kind), "s") }
