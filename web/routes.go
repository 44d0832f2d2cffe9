package web

import (
	"net/http"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
)

// routes is the whole HTTP surface of usher.
func (s *Server) routes() {
	s.mux.Handle("GET /healthz", handleHealth())
	s.mux.Handle("GET /readyz", handleReady(s.st))
	s.mux.Handle("GET /metrics", s.metrics.handler())
	s.mux.Handle("GET /api/v1/openapi.json", s.handleOpenAPI())
	// Pages people see. POSTs from another origin are refused.
	csrf := http.NewCrossOriginProtection()
	pageRoute := func(pattern string, h http.HandlerFunc) {
		s.mux.Handle(pattern, s.metrics.instrument(pattern, csrf.Handler(h)))
	}
	pageRoute("GET /t/{tenant}/activate/{secret}", s.handleActivateGet)
	pageRoute("POST /t/{tenant}/activate/{secret}", s.handleActivatePost)
	pageRoute("GET /t/{tenant}/activate", s.handleEnterGet)
	pageRoute("POST /t/{tenant}/activate", s.handleEnterPost)
	pageRoute("POST /t/{tenant}/activate/request", s.handleRequest)
	// Sign-in (identifier first), the signed-in person's page, registration.
	pageRoute("GET /t/{tenant}/{$}", s.handleSignInPage)
	pageRoute("POST /t/{tenant}/signin", s.handleIdentify)
	pageRoute("POST /t/{tenant}/signin/password", s.handlePassword)
	pageRoute("POST /t/{tenant}/signin/choose", s.handleChoose)
	pageRoute("POST /t/{tenant}/signout", s.handleSignOut)
	pageRoute("GET /t/{tenant}/account", s.handleAccount)
	pageRoute("POST /t/{tenant}/account/password", s.handleChangePassword)
	pageRoute("POST /t/{tenant}/account/sessions/end-others", s.handleEndOthers)
	pageRoute("GET /t/{tenant}/register", s.handleRegisterGet)
	pageRoute("POST /t/{tenant}/register", s.handleRegisterPost)
	pageRoute("GET /t/{tenant}/join/{code}", s.handleJoinGet)
	pageRoute("POST /t/{tenant}/join/{code}", s.handleJoinPost)

	// The console: administrators of the tenant, signed in through the pages above.
	const a = "/t/{tenant}/admin"
	s.consoleRoute("GET "+a+"/{$}", csrf, s.consoleHome)
	s.consoleRoute("GET "+a+"/people", csrf, s.consolePeople)
	s.consoleRoute("GET "+a+"/people/new", csrf, s.consolePersonNew)
	s.consoleRoute("POST "+a+"/people/new", csrf, s.consolePersonNew)
	s.consoleRoute("GET "+a+"/people/{id}", csrf, s.consolePerson)
	s.consoleRoute("POST "+a+"/people/{id}", csrf, s.consolePersonEdit)
	s.consoleRoute("POST "+a+"/people/{id}/account", csrf, s.consoleCreateAccount)
	s.consoleRoute("GET "+a+"/users/new", csrf, s.consoleUserNew)
	s.consoleRoute("POST "+a+"/users/new", csrf, s.consoleUserNew)
	s.consoleRoute("GET "+a+"/wizard", csrf, s.consoleWizard)
	s.consoleRoute("POST "+a+"/wizard", csrf, s.consoleWizard)
	s.consoleRoute("POST "+a+"/accounts/bulk", csrf, s.consoleBulk)
	s.consoleRoute("POST "+a+"/accounts/{id}", csrf, s.consoleAccountEdit)
	s.consoleRoute("POST "+a+"/accounts/{id}/{action}", csrf, s.consoleAccountAction)
	s.consoleRoute("GET "+a+"/organizations", csrf, s.consoleOrgs)
	s.consoleRoute("POST "+a+"/organizations", csrf, s.consoleOrgs)
	s.consoleRoute("GET "+a+"/organizations/{id}", csrf, s.consoleOrg)
	s.consoleRoute("POST "+a+"/organizations/{id}/sites", csrf, s.consoleSite)
	s.consoleRoute("POST "+a+"/organizations/{id}/relationships", csrf, s.consoleRelate)
	s.consoleRoute("GET "+a+"/plans", csrf, s.consolePlans)
	s.consoleRoute("GET "+a+"/settings", csrf, s.consoleSettings)
	s.consoleRoute("POST "+a+"/settings", csrf, s.consoleSettings)
	s.consoleRoute("GET "+a+"/catalog/{kind}", csrf, s.consoleCatalog)
	s.consoleRoute("POST "+a+"/catalog/{kind}", csrf, s.consoleCatalog)
	s.consoleRoute("GET "+a+"/signup-links", csrf, s.consoleLinks)
	s.consoleRoute("POST "+a+"/signup-links", csrf, s.consoleLinks)
	s.consoleRoute("GET "+a+"/signup-links/{id}/qr.svg", csrf, s.consoleQR)
	s.consoleRoute("GET "+a+"/signup-links/{id}/qr.png", csrf, s.consoleQR)
	s.consoleRoute("GET "+a+"/messages", csrf, s.consoleMessages)
	s.consoleRoute("GET "+a+"/messages/{id}", csrf, s.consoleMessage)
	s.consoleRoute("GET "+a+"/audit", csrf, s.consoleAudit)

	// The operators' console, signed in with an operator token.
	s.mux.Handle("POST /operator/signin", s.metrics.instrument("POST /operator/signin", csrf.Handler(http.HandlerFunc(s.handleOperatorSignIn))))
	s.mux.Handle("POST /operator/signout", s.metrics.instrument("POST /operator/signout", csrf.Handler(http.HandlerFunc(s.handleOperatorSignOut))))
	s.operatorRoute("GET /operator/{$}", csrf, s.operatorTenants)
	s.operatorRoute("POST /operator/tenants", csrf, s.operatorTenants)
	s.operatorRoute("GET /operator/tenants/{tenant}", csrf, s.operatorTenant)
	s.operatorRoute("POST /operator/tenants/{tenant}/plans", csrf, s.operatorPlan)
	s.operatorRoute("POST /operator/tenants/{tenant}/plans/{id}", csrf, s.operatorPlan)
	s.operatorRoute("POST /operator/tenants/{tenant}/admins", csrf, s.operatorAdmin)
	s.operatorRoute("POST /operator/tenants/{tenant}/admins/{id}/remove", csrf, s.operatorAdmin)

	s.mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, &usher.Error{Code: usher.CodeNotFound, Field: "path", Message: "there is no API operation " + r.Method + " " + r.URL.Path + "; /api/v1/openapi.json lists them"})
	}))

	// Operators: tenants and operator tokens.
	s.api(&op{method: "GET", path: "/api/v1/tenants", summary: "List tenants", access: operatorOnly, out: page[usher.Tenant]{}, handle: s.listTenants})
	s.api(&op{method: "POST", path: "/api/v1/tenants", summary: "Create a tenant with its internal organization", access: operatorOnly,
		in: provision.TenantInput{}, out: usher.Tenant{}, status: 201, handle: s.createTenant})
	s.api(&op{method: "GET", path: "/api/v1/tenants/{tenant}", summary: "Read a tenant and its settings", access: tenantScoped, out: usher.Tenant{}, handle: s.getTenant})
	s.api(&op{method: "PATCH", path: "/api/v1/tenants/{tenant}", summary: "Change a tenant's name or settings; operators may deactivate it", access: tenantScoped,
		minRole: usher.AdminTenant, in: provision.TenantUpdate{}, out: usher.Tenant{}, handle: s.updateTenant})
	s.api(&op{method: "GET", path: "/api/v1/tokens", summary: "List operator tokens", access: operatorOnly, out: page[usher.APIToken]{}, handle: s.listTokens(false)})
	s.api(&op{method: "POST", path: "/api/v1/tokens", summary: "Create an operator token; its secret is shown once", access: operatorOnly,
		in: provision.TokenInput{}, out: createdToken{}, status: 201, handle: s.createToken(false)})
	s.api(&op{method: "DELETE", path: "/api/v1/tokens/{id}", summary: "Revoke an operator token", access: operatorOnly, status: 204, handle: s.revokeToken(false)})

	s.api(&op{method: "GET", path: "/api/v1/identities", summary: "Find the identity that signs in with an email, with its accounts in every tenant", access: operatorOnly,
		params: []string{"email"}, out: identityView{}, handle: s.findIdentity})
	s.api(&op{method: "GET", path: "/api/v1/identities/{id}", summary: "Read an identity with its accounts in every tenant", access: operatorOnly,
		out: identityView{}, handle: s.getIdentity})

	const t = "/api/v1/tenants/{tenant}"

	// The directory: organizations and their sites, persons, accounts.
	s.api(&op{method: "GET", path: t + "/organizations", summary: "List organizations and sites", access: tenantScoped,
		params: []string{"kind", "parent_id", "name", "active"}, out: page[usher.Organization]{}, handle: s.listOrganizations})
	s.api(&op{method: "POST", path: t + "/organizations", summary: "Create an external organization, or a site with parent_id", access: tenantScoped,
		minRole: usher.AdminUser, in: provision.OrganizationInput{}, out: usher.Organization{}, status: 201, handle: s.createOrganization})
	s.api(&op{method: "GET", path: t + "/organizations/{id}", summary: "Read an organization", access: tenantScoped, out: usher.Organization{}, handle: s.getOrganization})
	s.api(&op{method: "PATCH", path: t + "/organizations/{id}", summary: "Rename or (de)activate an organization", access: tenantScoped,
		minRole: usher.AdminUser, in: provision.OrganizationInput{}, out: usher.Organization{}, handle: s.updateOrganization})
	s.api(&op{method: "DELETE", path: t + "/organizations/{id}", summary: "Deactivate an organization", access: tenantScoped,
		minRole: usher.AdminUser, out: usher.Organization{}, handle: s.deactivateOrganization})
	s.api(&op{method: "GET", path: t + "/organizations/{id}/relationships", summary: "List the contacts of a site with their contact roles", access: tenantScoped,
		out: list[usher.Relationship]{}, handle: s.listSiteRelationships})
	s.api(&op{method: "PUT", path: t + "/organizations/{id}/relationships/{person}", summary: "Relate a person to a site with contact roles; the first relationship sends the welcome message",
		access: tenantScoped, minRole: usher.AdminUser, in: rolesInput{}, out: provision.Related{}, handle: s.relate})
	s.api(&op{method: "DELETE", path: t + "/organizations/{id}/relationships/{person}", summary: "Remove a person's relationship with a site", access: tenantScoped,
		minRole: usher.AdminUser, status: 204, handle: s.unrelate})

	s.api(&op{method: "GET", path: t + "/persons", summary: "List persons (employees and contacts)", access: tenantScoped,
		params: []string{"organization_id", "department_id", "job_profile_id", "email", "external_id", "name", "active"}, out: page[usher.Person]{}, handle: s.listPersons})
	s.api(&op{method: "POST", path: t + "/persons", summary: "Create a person (New employee / New contact) without an account", access: tenantScoped,
		minRole: usher.AdminUser, in: provision.PersonInput{}, out: usher.Person{}, status: 201, handle: s.createPerson})
	s.api(&op{method: "GET", path: t + "/persons/{id}", summary: "Read a person", access: tenantScoped, out: usher.Person{}, handle: s.getPerson})
	s.api(&op{method: "PATCH", path: t + "/persons/{id}", summary: "Change a person; deactivating also deactivates their account", access: tenantScoped,
		minRole: usher.AdminUser, in: provision.PersonUpdate{}, out: usher.Person{}, handle: s.updatePerson})
	s.api(&op{method: "DELETE", path: t + "/persons/{id}", summary: "Deactivate a person and their account", access: tenantScoped,
		minRole: usher.AdminUser, out: usher.Person{}, handle: s.deactivatePerson})
	s.api(&op{method: "POST", path: t + "/persons/{id}/account", summary: "Create user account for a person, choosing the authentication system", access: tenantScoped,
		minRole: usher.AdminUser, in: accountForPerson{}, out: provision.Created{}, status: 201, handle: s.createAccountForPerson})
	s.api(&op{method: "GET", path: t + "/persons/{id}/account", summary: "Read the account of a person", access: tenantScoped, out: usher.Account{}, handle: s.getAccountOfPerson})
	s.api(&op{method: "GET", path: t + "/persons/{id}/relationships", summary: "List a person's sites and contact roles", access: tenantScoped,
		out: list[usher.Relationship]{}, handle: s.listPersonRelationships})

	s.api(&op{method: "GET", path: t + "/accounts", summary: "List accounts", access: tenantScoped,
		params: []string{"state", "invitation", "plan_id", "role_id", "group_id", "auth_system", "admin_role", "organization_id", "login"}, out: page[usher.Account]{}, handle: s.listAccounts})
	s.api(&op{method: "POST", path: t + "/accounts", summary: "Create a user: a new person and their account in one step", access: tenantScoped,
		minRole: usher.AdminUser, in: newUser{}, out: provision.Created{}, status: 201, handle: s.createUser})
	s.api(&op{method: "GET", path: t + "/accounts/{id}", summary: "Read an account", access: tenantScoped, out: usher.Account{}, handle: s.getAccount})
	s.api(&op{method: "PATCH", path: t + "/accounts/{id}", summary: "Change an account: identifiers, role, plan, groups, administrator rights, state", access: tenantScoped,
		minRole: usher.AdminUser, in: provision.AccountUpdate{}, out: usher.Account{}, handle: s.updateAccount})
	s.api(&op{method: "DELETE", path: t + "/accounts/{id}", summary: "Deactivate an account, freeing its seat", access: tenantScoped,
		minRole: usher.AdminUser, out: usher.Account{}, handle: s.deactivateAccount})
	s.api(&op{method: "POST", path: t + "/accounts/{id}/resend-activation", summary: "Send an invited account a new activation message; earlier links stop working",
		access: tenantScoped, minRole: usher.AdminUser, out: list[usher.Message]{}, handle: s.resendActivation})
	s.api(&op{method: "POST", path: t + "/accounts/{id}/revoke-invitation", summary: "Make an invited account's activation links and codes unusable",
		access: tenantScoped, minRole: usher.AdminUser, out: usher.Account{}, handle: s.revokeInvitation})
	s.api(&op{method: "POST", path: t + "/accounts/{id}/one-time-password", summary: "Set a one-time password (generated when none is given); shown once, never sent",
		access: tenantScoped, minRole: usher.AdminUser, in: oneTimeInput{}, optionalBody: true, out: oneTimeOutput{}, status: 201, handle: s.setOneTimePassword})
	s.api(&op{method: "POST", path: t + "/accounts/{id}/reset-password", summary: "Send an active account a link to choose a new password",
		access: tenantScoped, minRole: usher.AdminUser, out: list[usher.Message]{}, handle: s.startReset})

	// Catalogues: roles (permission types), departments, job profiles, groups; plans with seats.
	for _, kind := range []string{usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup} {
		s.api(&op{method: "GET", path: t + "/" + kind, summary: "List " + noun(kind), access: tenantScoped, params: []string{"active"},
			out: page[usher.Attribute]{}, handle: s.listAttributes(kind)})
		s.api(&op{method: "POST", path: t + "/" + kind, summary: "Create a " + singular(kind), access: tenantScoped, minRole: usher.AdminTenant,
			in: provision.AttributeInput{}, out: usher.Attribute{}, status: 201, handle: s.createAttribute(kind)})
		s.api(&op{method: "GET", path: t + "/" + kind + "/{id}", summary: "Read a " + singular(kind), access: tenantScoped, out: usher.Attribute{}, handle: s.getAttribute(kind)})
		s.api(&op{method: "PATCH", path: t + "/" + kind + "/{id}", summary: "Change a " + singular(kind), access: tenantScoped, minRole: usher.AdminTenant,
			in: provision.AttributeInput{}, out: usher.Attribute{}, handle: s.updateAttribute(kind)})
		s.api(&op{method: "DELETE", path: t + "/" + kind + "/{id}", summary: "Deactivate a " + singular(kind), access: tenantScoped, minRole: usher.AdminTenant,
			out: usher.Attribute{}, handle: s.deactivateAttribute(kind)})
	}
	s.api(&op{method: "GET", path: t + "/plans", summary: "List plans with seats used and free", access: tenantScoped, params: []string{"active"},
		out: page[usher.Plan]{}, handle: s.listPlans})
	s.api(&op{method: "POST", path: t + "/plans", summary: "Create a plan with its seats (operators)", access: tenantScoped, minRole: usher.PrincipalOperator,
		in: provision.PlanInput{}, out: usher.Plan{}, status: 201, handle: s.createPlan})
	s.api(&op{method: "GET", path: t + "/plans/{id}", summary: "Read a plan", access: tenantScoped, out: usher.Plan{}, handle: s.getPlan})
	s.api(&op{method: "PATCH", path: t + "/plans/{id}", summary: "Change a plan's name or seats (operators)", access: tenantScoped, minRole: usher.PrincipalOperator,
		in: provision.PlanInput{}, out: usher.Plan{}, handle: s.updatePlan})
	s.api(&op{method: "DELETE", path: t + "/plans/{id}", summary: "Deactivate a plan (operators)", access: tenantScoped, minRole: usher.PrincipalOperator,
		out: usher.Plan{}, handle: s.deactivatePlan})

	// Corporate SSO connections, as configuration.
	s.api(&op{method: "GET", path: t + "/connections", summary: "List corporate SSO connections", access: tenantScoped, params: []string{"active"},
		out: page[usher.Connection]{}, handle: s.listConnections})
	s.api(&op{method: "POST", path: t + "/connections", summary: "Create a corporate SSO connection", access: tenantScoped, minRole: usher.AdminTenant,
		in: provision.ConnectionInput{}, out: usher.Connection{}, status: 201, handle: s.saveConnection})
	s.api(&op{method: "GET", path: t + "/connections/{id}", summary: "Read a connection (its client secret is never shown)", access: tenantScoped,
		out: usher.Connection{}, handle: s.getConnection})
	s.api(&op{method: "PUT", path: t + "/connections/{id}", summary: "Replace a connection's configuration; an absent client secret is kept", access: tenantScoped,
		minRole: usher.AdminTenant, in: provision.ConnectionInput{}, out: usher.Connection{}, handle: s.saveConnection})
	s.api(&op{method: "DELETE", path: t + "/connections/{id}", summary: "Deactivate a connection, releasing its domains", access: tenantScoped,
		minRole: usher.AdminTenant, out: usher.Connection{}, handle: s.deactivateConnection})

	// Sign-up links and their QR codes.
	s.api(&op{method: "GET", path: t + "/signup-links", summary: "List sign-up links", access: tenantScoped,
		params: []string{"department_id", "status"}, out: page[usher.SignupLink]{}, handle: s.listSignupLinks})
	s.api(&op{method: "POST", path: t + "/signup-links", summary: "Create a sign-up link, for a department or the whole tenant, with the defaults it gives new accounts",
		access: tenantScoped, minRole: usher.AdminUser, in: provision.SignupLinkInput{}, out: usher.SignupLink{}, status: 201, handle: s.createSignupLink})
	s.api(&op{method: "GET", path: t + "/signup-links/{id}", summary: "Read a sign-up link", access: tenantScoped, out: usher.SignupLink{}, handle: s.getSignupLink})
	s.api(&op{method: "PATCH", path: t + "/signup-links/{id}", summary: "Change a sign-up link's name, defaults, expiry or max uses, or disable or enable it",
		access: tenantScoped, minRole: usher.AdminUser, in: provision.SignupLinkInput{}, out: usher.SignupLink{}, handle: s.updateSignupLink})
	s.api(&op{method: "DELETE", path: t + "/signup-links/{id}", summary: "Disable a sign-up link", access: tenantScoped,
		minRole: usher.AdminUser, out: usher.SignupLink{}, handle: s.disableSignupLink})
	s.api(&op{method: "GET", path: t + "/signup-links/{id}/qr.png", summary: "The QR code of a sign-up link's address, as a PNG of size × size pixels (128 to 2048, default 512)",
		access: tenantScoped, params: []string{"size"}, produces: []string{"image/png"}, handle: s.signupQRPNG})
	s.api(&op{method: "GET", path: t + "/signup-links/{id}/qr.svg", summary: "The QR code of a sign-up link's address, as SVG", access: tenantScoped,
		produces: []string{"image/svg+xml"}, handle: s.signupQRSVG})

	// Tenant API tokens, the audit log and the outbox.
	s.api(&op{method: "GET", path: t + "/tokens", summary: "List the tenant's API tokens", access: tenantScoped, minRole: usher.AdminTenant,
		out: page[usher.APIToken]{}, handle: s.listTokens(true)})
	s.api(&op{method: "POST", path: t + "/tokens", summary: "Create a tenant API token; its secret is shown once", access: tenantScoped, minRole: usher.AdminTenant,
		in: provision.TokenInput{}, out: createdToken{}, status: 201, handle: s.createToken(true)})
	s.api(&op{method: "DELETE", path: t + "/tokens/{id}", summary: "Revoke a tenant API token", access: tenantScoped, minRole: usher.AdminTenant,
		status: 204, handle: s.revokeToken(true)})
	s.api(&op{method: "GET", path: t + "/audit-events", summary: "List audit events, oldest first", access: tenantScoped,
		params: []string{"actor_id", "target_id", "action"}, out: page[usher.AuditEvent]{}, handle: s.listAudit})
	s.api(&op{method: "GET", path: t + "/messages", summary: "List queued and sent messages", access: tenantScoped,
		params: []string{"account_id", "state", "kind", "channel"}, out: page[usher.Message]{}, handle: s.listMessages})
	s.api(&op{method: "GET", path: t + "/messages/{id}", summary: "Read a message with its body", access: tenantScoped, out: usher.Message{}, handle: s.getMessage})
}
