package provision_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// ssoTenant is a tenant with a default plan and an OpenID Connect
// connection owning corp.example, with just-in-time creation.
func (e *env) ssoTenant(slug string, edit func(*usher.Connection)) (usher.Tenant, usher.Connection) {
	e.t.Helper()
	tn := e.tenant(slug, "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	c := usher.Connection{Name: "Corp", Protocol: "oidc", Domains: []string{"corp.example"}, Issuer: "https://idp.corp.example", ClientID: "usher", JIT: true}
	if edit != nil {
		edit(&c)
	}
	c, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", provision.ConnectionInput{Connection: c})
	if err != nil {
		e.t.Fatal(err)
	}
	return tn, c
}

func (e *env) ssoSignIn(tn usher.Tenant, c usher.Connection, u provision.SSOUser) (provision.SSOResult, error) {
	return e.svc.SignInThrough(e.ctx, tn, provision.SSOSignIn{Connection: c, User: u, Source: "192.0.2.1"})
}

// testSSOSignIn: what a sign-in through a connection does to the directory.
func testSSOSignIn(t *testing.T, e *env) {
	tn, c := e.ssoTenant("acme", func(c *usher.Connection) { c.UpdateOnSignIn = true })
	ada := provision.SSOUser{Subject: "sub-ada", Email: "Ada@Corp.example", FirstName: "Ada", LastName: "Lovelace"}

	res, err := e.ssoSignIn(tn, c, ada)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Account.State != usher.StateActive || res.Account.IdentityID == "" || res.Account.Email != "ada@corp.example" {
		t.Fatalf("just in time: %+v", res)
	}
	// The subject finds the account again, whatever the email says now;
	// the names are brought up to date, as the connection's change.
	ada.Email, ada.LastName = "ada.king@corp.example", "King"
	again, err := e.ssoSignIn(tn, c, ada)
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Account.ID != res.Account.ID {
		t.Fatalf("the second sign-in made another account: %+v", again)
	}
	p, err := e.st.Read().Person(e.ctx, tn.ID, res.Account.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if p.LastName != "King" {
		t.Fatalf("the last name was not brought up to date: %q", p.LastName)
	}
	evs, _, err := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "person.updated"}, store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].ActorKind != usher.ActorSSO || evs[0].ActorID != c.ID {
		t.Fatalf("the update is not audited as the connection's: %+v", evs)
	}

	// Another subject with the same email is another person of the
	// identity provider: it never gets Ada's account.
	if _, err := e.ssoSignIn(tn, c, provision.SSOUser{Subject: "sub-mallory", Email: "ada@corp.example", FirstName: "M", LastName: "M"}); !errors.Is(err, provision.ErrSSOTakeover) {
		t.Fatalf("a second subject for a tied account: %v", err)
	}

	// A suspended account is told so.
	if _, err := e.svc.UpdateAccount(e.ctx, userAdm, tn, res.Account.ID, provision.AccountUpdate{State: ptr(usher.StateSuspended)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ssoSignIn(tn, c, ada); !errors.Is(err, provision.ErrSSOInactive) {
		t.Fatalf("a suspended account: %v", err)
	}

	// Another tenant's connection never reaches this tenant.
	other, oc := e.ssoTenant("globex", nil)
	if _, err := e.ssoSignIn(tn, oc, ada); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("another tenant's connection: %v", err)
	}
	// The same email at another tenant's connection is that tenant's
	// identity provider's word only: its account gets an identity of its
	// own, never one found by the email, so that no tenant's connection
	// reaches what an identity has elsewhere.
	there, err := e.ssoSignIn(other, oc, provision.SSOUser{Subject: "globex-ada", Email: "ada@corp.example", FirstName: "Ada", LastName: "King"})
	if err != nil {
		t.Fatal(err)
	}
	if there.Account.IdentityID == res.Account.IdentityID || there.Account.IdentityID == "" {
		t.Fatal("two tenants' connections share an identity")
	}
}

// testSSOJustInTimeRules: just-in-time creation goes through the rules.
func testSSOJustInTimeRules(t *testing.T, e *env) {
	tn, c := e.ssoTenant("acme", nil)
	st := tn.Settings
	st.RequiredFields = append(st.RequiredFields, usher.FieldPhone, usher.FieldDepartment)
	st.RegistrationDepartment = true
	tn, err := e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	if err != nil {
		t.Fatal(err)
	}
	bob := provision.SSOUser{Subject: "sub-bob", Email: "bob@corp.example", FirstName: "Bob", LastName: "B"}
	_, err = e.ssoSignIn(tn, c, bob)
	var miss *provision.MissingError
	if !errors.As(err, &miss) || !slices.Contains(miss.Choosable, "department") || len(miss.Attributes) != 1 {
		t.Fatalf("a phone the provider does not send and a department the person may choose: %v (%+v)", err, miss)
	}
	if _, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, "bob@corp.example"); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("a refused creation left an account: %v", err)
	}
	dep := e.attr(tn, usher.KindDepartment, "eng")
	bob.Phone = "+41 44 668 18 00"
	res, err := e.svc.SignInThrough(e.ctx, tn, provision.SSOSignIn{Connection: c, User: bob, DepartmentID: dep.ID})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := e.st.Read().Person(e.ctx, tn.ID, res.Account.PersonID); p.DepartmentID != dep.ID {
		t.Fatalf("the chosen department: %q", p.DepartmentID)
	}

	// Without just-in-time creation, or with an email of another domain,
	// nothing is created.
	c.JIT = false
	if c, err = e.svc.SaveConnection(e.ctx, tenantAdm, tn, c.ID, provision.ConnectionInput{Connection: c}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ssoSignIn(tn, c, provision.SSOUser{Subject: "sub-cy", Email: "cy@corp.example", FirstName: "C", LastName: "Y", Phone: "+41446681800"}); !errors.Is(err, provision.ErrSSONoAccount) {
		t.Fatalf("no JIT: %v", err)
	}
	if _, err := e.ssoSignIn(tn, c, provision.SSOUser{Subject: "sub-eve", Email: "eve@elsewhere.example", FirstName: "E", LastName: "V"}); !errors.Is(err, provision.ErrSSOTakeover) {
		t.Fatalf("another domain's email: %v", err)
	}
	// Seed 000: where the tenant takes registrations, the person registers
	// through the connection, JIT or not.
	st = tn.Settings
	st.Registration = "open"
	if tn, err = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st}); err != nil {
		t.Fatal(err)
	}
	reg, err := e.svc.SignInThrough(e.ctx, tn, provision.SSOSignIn{Connection: c, Register: true, DepartmentID: dep.ID,
		User: provision.SSOUser{Subject: "sub-cy", Email: "cy@corp.example", FirstName: "C", LastName: "Y", Phone: "+41446681802"}})
	if err != nil || !reg.Created {
		t.Fatalf("registration through the connection: %+v %v", reg, err)
	}
	// A full plan refuses with the plan's words.
	full := e.plan(tn, "full", 0)
	c.JIT, c.JITPlanID = true, full.ID
	if c, err = e.svc.SaveConnection(e.ctx, tenantAdm, tn, c.ID, provision.ConnectionInput{Connection: c}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.SignInThrough(e.ctx, tn, provision.SSOSignIn{Connection: c, DepartmentID: dep.ID,
		User: provision.SSOUser{Subject: "sub-dee", Email: "dee@corp.example", FirstName: "D", LastName: "E", Phone: "+41446681801"}})
	wantCode(t, err, usher.CodeSeatsFull, "plan_id")
}

// testSSOActivatesProvisionedUser: a user a provisioning source (SCIM)
// created on the connection is activated by their first SSO sign-in, and
// their fields stay the source's.
func testSSOActivatesProvisionedUser(t *testing.T, e *env) {
	tn, c := e.ssoTenant("acme", func(c *usher.Connection) { c.JIT, c.UpdateOnSignIn = false, true })
	tok, _, err := e.tokens.CreateToken(e.ctx, tenantAdm, tn, apitoken.TokenInput{Name: "Entra ID", Role: usher.PrincipalSCIM})
	if err != nil {
		t.Fatal(err)
	}
	src := usher.Actor{Kind: usher.ActorSCIM, ID: tok.ID}
	made, err := e.svc.CreateAccount(e.ctx, src, tn, provision.AccountInput{Route: provision.RouteProvisioning, Source: &provision.Source{ID: tok.ID},
		Person: &provision.PersonInput{FirstName: "Sam", LastName: "Source", Email: "sam@corp.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if made.Account.AuthSystem != usher.AuthConnection || made.Account.State != usher.StateInvited || len(made.Messages) != 0 {
		t.Fatalf("the provisioned user: %+v, %d messages", made.Account, len(made.Messages))
	}
	res, err := e.ssoSignIn(tn, c, provision.SSOUser{Subject: "sam-oid", Email: "sam@corp.example", FirstName: "Samuel", LastName: "Source"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Activated || res.Account.ID != made.Account.ID || res.Account.State != usher.StateActive {
		t.Fatalf("not activated by the sign-in: %+v", res)
	}
	if p, _ := e.st.Read().Person(e.ctx, tn.ID, made.Person.ID); p.FirstName != "Sam" {
		t.Fatalf("the sign-in changed the source's first name to %q", p.FirstName)
	}
}
