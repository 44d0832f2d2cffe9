// The rules suite: the directory's invariants, enforced by the provisioning
// path and the store together, proven on SQLite and PostgreSQL alike.
package provision_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// Open returns a fresh, empty, migrated store for one test, on the clock now.
type Open func(t *testing.T, now func() time.Time) *store.Store

var (
	operator  = usher.Actor{Kind: "operator", ID: "op", Role: usher.PrincipalOperator}
	tenantAdm = usher.Actor{Kind: "token", ID: "ta", Role: usher.AdminTenant}
	userAdm   = usher.Actor{Kind: "token", ID: "ua", Role: usher.AdminUser}
)

// env is one test's world: a store, a provisioning service and helpers.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	svc   *provision.Service
	clock *storetest.Clock
}

func newEnv(t *testing.T, open Open) *env {
	c := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	st := open(t, c.Now)
	return &env{t: t, ctx: context.Background(), st: st, svc: provision.New(st, c.Now, storetest.Links{}), clock: c}
}

func (e *env) tenant(slug string, template string) usher.Tenant {
	e.t.Helper()
	tn, err := e.svc.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: slug, Name: "Tenant " + slug, Template: template})
	if err != nil {
		e.t.Fatalf("create tenant %s: %v", slug, err)
	}
	return tn
}

func (e *env) plan(tn usher.Tenant, key string, seats int) usher.Plan {
	e.t.Helper()
	name := "Plan " + key
	p, err := e.svc.CreatePlan(e.ctx, operator, tn, provision.PlanInput{Key: key, Name: &name, Seats: &seats})
	if err != nil {
		e.t.Fatalf("create plan: %v", err)
	}
	return p
}

func (e *env) attr(tn usher.Tenant, kind, key string) usher.Attribute {
	e.t.Helper()
	a, err := e.svc.CreateAttribute(e.ctx, tenantAdm, tn, kind, provision.AttributeInput{Key: key, Name: &key})
	if err != nil {
		e.t.Fatalf("create %s: %v", kind, err)
	}
	return a
}

func (e *env) org(tn usher.Tenant, name, parent string) usher.Organization {
	e.t.Helper()
	o, err := e.svc.CreateOrganization(e.ctx, userAdm, tn, provision.OrganizationInput{Name: &name, ParentID: parent})
	if err != nil {
		e.t.Fatalf("create organization: %v", err)
	}
	return o
}

// reload returns the tenant as stored now (settings change).
func (e *env) reload(tn usher.Tenant) usher.Tenant {
	e.t.Helper()
	tn, err := e.st.Read().Tenant(e.ctx, tn.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

func (e *env) withDefaultPlan(tn usher.Tenant, p usher.Plan) usher.Tenant {
	e.t.Helper()
	st := tn.Settings
	st.DefaultPlanID = p.ID
	tn, err := e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	if err != nil {
		e.t.Fatalf("set default plan: %v", err)
	}
	return tn
}

func (e *env) newUser(tn usher.Tenant, first, email string) (provision.Created, error) {
	return e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: first, LastName: "Tester", Email: email}})
}

// written writes out messages stored as what they say, as the courier does
// before sending them.
func (e *env) written(msgs []usher.Message) []usher.Message {
	e.t.Helper()
	out := make([]usher.Message, len(msgs))
	for i, m := range msgs {
		var err error
		if out[i], err = e.svc.Compose(e.ctx, m); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

func wantCode(t *testing.T, err error, code usher.Code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s on %q", code, field)
	}
	var ue *usher.Error
	if !errors.As(err, &ue) {
		t.Fatalf("got %v (%T), want a usher error %s", err, err, code)
	}
	if ue.Code != code || (field != "" && ue.Field != field) {
		t.Fatalf("got %s on %q (%v), want %s on %q", ue.Code, ue.Field, err, code, field)
	}
}

func hasField(err error, field string) bool {
	var list usher.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			if e.Field == field {
				return true
			}
		}
		return false
	}
	var ue *usher.Error
	return errors.As(err, &ue) && ue.Field == field
}

func TestRulesSQLite(t *testing.T) {
	runRules(t, func(t *testing.T, now func() time.Time) *store.Store { return storetest.OpenSQLite(t, now) })
}

func TestRulesPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the PostgreSQL rules suite did not run")
	}
	runRules(t, func(t *testing.T, now func() time.Time) *store.Store { return storetest.OpenPostgres(t, now) })
}

// runRules runs the whole suite against stores made by open.
func runRules(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"TenantSlugUnique", testTenantSlugUnique},
		{"CrossTenantInvisible", testCrossTenant},
		{"ContactEmailUniquePerOrganization", testContactEmail},
		{"LoginIdentifiersUniquePerTenant", testLoginIDs},
		{"ContactRoles", testContactRoles},
		{"WelcomeOnFirstRelationship", testWelcome},
		{"SeatsNeverOverbooked", testSeats},
		{"SeatsUnderConcurrency", testSeatsConcurrent},
		{"ConcurrentCreationsEachGetTheirOwnOutcome", testCreationsConcurrent},
		{"MessagesWrittenOutWhenRead", testMessagesWrittenOut},
		{"RequiredFields", testRequiredFields},
		{"CorporateSSORule", testSSORule},
		{"OnlyOperatorGrantsTenantAdmin", testTenantAdminRule},
		{"AuditAndMessagesInTheTransaction", testAtomic},
		{"AccountStates", testStates},
		{"ConcurrentMessageClaims", testClaims},
		{"MessageDedupe", testDedupe},
		{"APITokens", testTokens},
		{"Paging", testPaging},
		{"IdentityAcrossTenants", testIdentity},
		{"ActivationByLink", testActivationLink},
		{"ActivationExpiryAndResend", testActivationExpiry},
		{"ActivationBySMSCode", testActivationCode},
		{"ActivationJoinsIdentity", testActivationJoin},
		{"OneTimePassword", testOneTimePassword},
		{"ActivationUsedOnce", testActivationConcurrent},
		{"PasswordReset", testPasswordReset},
		{"SignupLinkRules", testSignupLinkRules},
		{"SignupLinksCrossTenantInvisible", testSignupLinksCrossTenant},
		{"SignupLinkRefusals", testSignupLinkRefusals},
		{"SignupLinkUsesUnderConcurrency", testSignupLinkConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newEnv(t, open))
		})
	}
}

func testTenantSlugUnique(t *testing.T, e *env) {
	e.tenant("acme", "")
	_, err := e.svc.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: "acme", Name: "Other"})
	wantCode(t, err, usher.CodeConflict, "slug")
	_, err = e.svc.CreateTenant(e.ctx, tenantAdm, provision.TenantInput{Slug: "beta", Name: "Beta"})
	wantCode(t, err, usher.CodeForbidden, "")
	_, err = e.svc.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: "Bad Slug!", Name: ""})
	if !hasField(err, "slug") || !hasField(err, "name") {
		t.Fatalf("want errors on slug and name, got %v", err)
	}
	tenants, _, err := e.st.Read().Tenants(e.ctx, store.ListOptions{})
	if err != nil || len(tenants) != 1 {
		t.Fatalf("tenants: %v, %d", err, len(tenants))
	}
}

// testCrossTenant creates one of every object in tenant A and checks that
// tenant B can neither read, list, change nor use any of them.
func testCrossTenant(t *testing.T, e *env) {
	a, b := e.tenant("alpha", ""), e.tenant("bravo", "")
	planA := e.plan(a, "std", 10)
	planB := e.plan(b, "std", 10)
	a = e.withDefaultPlan(a, planA)
	b = e.withDefaultPlan(b, planB)
	attrs := map[string]usher.Attribute{}
	for _, k := range []string{usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup} {
		attrs[k] = e.attr(a, k, "x")
	}
	orgA := e.org(a, "Partner", "")
	siteA := e.org(a, "Partner Main Site", orgA.ID)
	c, err := e.newUser(a, "Ann", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := e.svc.SaveConnection(e.ctx, tenantAdm, a, "", provision.ConnectionInput{Connection: usher.Connection{Name: "Entra", Protocol: "oidc", Issuer: "https://login.example.com", Domains: []string{"corp.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.svc.CreateToken(e.ctx, operator, a, provision.TokenInput{Name: "ci", Role: usher.AdminUser})
	if err != nil {
		t.Fatal(err)
	}

	r := e.st.Read()
	ctx := e.ctx
	checks := map[string]error{}
	_, checks["person"] = r.Person(ctx, b.ID, c.Person.ID)
	_, checks["account"] = r.Account(ctx, b.ID, c.Account.ID)
	_, checks["account by person"] = r.AccountOfPerson(ctx, b.ID, c.Person.ID)
	_, checks["account by login"] = r.AccountByLogin(ctx, b.ID, "ann@example.com")
	_, checks["organization"] = r.Organization(ctx, b.ID, orgA.ID)
	_, checks["site"] = r.Organization(ctx, b.ID, siteA.ID)
	_, checks["plan"] = r.Plan(ctx, b.ID, planA.ID)
	_, checks["connection"] = r.Connection(ctx, b.ID, conn.ID)
	_, checks["message"] = r.Message(ctx, b.ID, c.Messages[0].ID)
	for k, at := range attrs {
		_, checks[k] = r.Attribute(ctx, b.ID, k, at.ID)
	}
	for what, err := range checks {
		if !errors.Is(err, usher.ErrNotFound) {
			t.Errorf("%s of tenant A read in tenant B: got %v, want not found", what, err)
		}
	}

	// Lists in B show nothing of A.
	persons, _, _ := r.Persons(ctx, b.ID, store.PersonFilter{}, store.ListOptions{})
	accounts, _, _ := r.Accounts(ctx, b.ID, store.AccountFilter{}, store.ListOptions{})
	msgs, _, _ := r.Messages(ctx, b.ID, store.MessageFilter{}, store.ListOptions{})
	events, _, _ := r.AuditEvents(ctx, b.ID, store.AuditFilter{TargetID: c.Account.ID}, store.ListOptions{})
	toks, _, _ := r.Tokens(ctx, b.ID, store.ListOptions{})
	conns, _, _ := r.Connections(ctx, b.ID, false, store.ListOptions{})
	if len(persons)+len(accounts)+len(msgs)+len(events)+len(toks)+len(conns) != 0 {
		t.Errorf("tenant B lists show tenant A's objects: %d persons, %d accounts, %d messages, %d events, %d tokens, %d connections",
			len(persons), len(accounts), len(msgs), len(events), len(toks), len(conns))
	}
	_ = tok

	// Changes in B addressed at A's ids are not found and change nothing.
	name := "Hijacked"
	_, err = e.svc.UpdatePerson(ctx, userAdm, b, c.Person.ID, provision.PersonUpdate{FirstName: &name})
	wantCode(t, err, usher.CodeNotFound, "person_id")
	suspended := usher.StateDeactivated
	_, err = e.svc.UpdateAccount(ctx, userAdm, b, c.Account.ID, provision.AccountUpdate{State: &suspended})
	wantCode(t, err, usher.CodeNotFound, "account_id")
	_, err = e.svc.UpdateOrganization(ctx, userAdm, b, orgA.ID, provision.OrganizationInput{Name: &name})
	wantCode(t, err, usher.CodeNotFound, "")
	_, err = e.svc.UpdateAttribute(ctx, tenantAdm, b, usher.KindRole, attrs[usher.KindRole].ID, provision.AttributeInput{Name: &name})
	wantCode(t, err, usher.CodeNotFound, "")
	seats := 1
	_, err = e.svc.UpdatePlan(ctx, operator, b, planA.ID, provision.PlanInput{Seats: &seats})
	wantCode(t, err, usher.CodeNotFound, "")
	_, err = e.svc.SaveConnection(ctx, tenantAdm, b, conn.ID, provision.ConnectionInput{Connection: usher.Connection{Name: "x", Protocol: "oidc", Issuer: "https://x.example"}})
	wantCode(t, err, usher.CodeNotFound, "")
	err = e.svc.RevokeToken(ctx, tenantAdm, b, tok.ID)
	wantCode(t, err, usher.CodeNotFound, "")

	// Using A's ids while creating in B: not found, naming the field.
	_, err = e.svc.CreateAccount(ctx, userAdm, b, provision.AccountInput{Route: provision.RouteNewUser, PlanID: planA.ID,
		Person: &provision.PersonInput{FirstName: "B", LastName: "B", Email: "b1@example.com"}})
	wantCode(t, err, usher.CodeNotFound, "plan_id")
	_, err = e.svc.CreateAccount(ctx, userAdm, b, provision.AccountInput{Route: provision.RouteNewUser, RoleID: attrs[usher.KindRole].ID,
		Person: &provision.PersonInput{FirstName: "B", LastName: "B", Email: "b2@example.com"}})
	if !hasField(err, "role_id") {
		t.Errorf("role of tenant A used in B: got %v, want not found on role_id", err)
	}
	_, err = e.svc.CreateAccount(ctx, userAdm, b, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: "B", LastName: "B", Email: "b3@example.com", OrganizationID: orgA.ID}})
	wantCode(t, err, usher.CodeNotFound, "organization_id")
	_, err = e.svc.CreateAccount(ctx, userAdm, b, provision.AccountInput{Route: provision.RouteAccountForPerson, PersonID: c.Person.ID})
	wantCode(t, err, usher.CodeNotFound, "person_id")
	_, err = e.svc.Relate(ctx, userAdm, b, siteA.ID, provision.RelationshipInput{PersonID: c.Person.ID, Roles: []string{"Technical"}})
	wantCode(t, err, usher.CodeNotFound, "site_id")

	// A's person is untouched.
	p, err := r.Person(ctx, a.ID, c.Person.ID)
	if err != nil || p.FirstName != "Ann" {
		t.Errorf("person of A after B's attempts: %+v %v", p, err)
	}
	acct, _ := r.Account(ctx, a.ID, c.Account.ID)
	if acct.State != usher.StateInvited {
		t.Errorf("account of A changed state to %s", acct.State)
	}
}

func testContactEmail(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	org1, org2 := e.org(tn, "One", ""), e.org(tn, "Two", "")
	mk := func(org, email string) error {
		_, err := e.svc.CreatePerson(e.ctx, userAdm, tn, provision.PersonInput{OrganizationID: org, FirstName: "C", LastName: "D", Email: email})
		return err
	}
	if err := mk(org1.ID, "pat@example.com"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, mk(org1.ID, "PAT@example.com "), usher.CodeConflict, "email")
	if err := mk(org2.ID, "pat@example.com"); err != nil {
		t.Fatalf("same email in another organization: %v", err)
	}
	// Persons without email do not collide.
	if err := mk(org1.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := mk(org1.ID, ""); err != nil {
		t.Fatal(err)
	}
	wantCode(t, mk(org1.ID, "not-an-email"), usher.CodeInvalid, "email")
	// Changing a contact's email to a taken one is a conflict too.
	p, _ := e.svc.CreatePerson(e.ctx, userAdm, tn, provision.PersonInput{OrganizationID: org1.ID, FirstName: "E", LastName: "F", Email: "eve@example.com"})
	taken := "pat@example.com"
	_, err := e.svc.UpdatePerson(e.ctx, userAdm, tn, p.ID, provision.PersonUpdate{Email: &taken})
	wantCode(t, err, usher.CodeConflict, "email")
}

func testLoginIDs(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	other := e.tenant("other", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 100))
	other = e.withDefaultPlan(other, e.plan(other, "std", 100))
	first, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "jdoe", Phone: "+31 6 1234 5678",
		Person: &provision.PersonInput{FirstName: "J", LastName: "Doe", Email: "j@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	ext := e.org(tn, "Partner", "")
	// The same email for a person in another organization still cannot sign in to the same tenant twice.
	_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{OrganizationID: ext.ID, FirstName: "J", LastName: "Two", Email: "J@Example.com"}})
	wantCode(t, err, usher.CodeConflict, "email")
	_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "JDOE",
		Person: &provision.PersonInput{FirstName: "J", LastName: "Three", Email: "j3@example.com"}})
	wantCode(t, err, usher.CodeConflict, "username")
	_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Phone: "0031612345678",
		Person: &provision.PersonInput{FirstName: "J", LastName: "Four", Email: "j4@example.com"}})
	wantCode(t, err, usher.CodeConflict, "phone")
	// None of the failed attempts left a person behind.
	persons, _, _ := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{}, store.ListOptions{})
	if len(persons) != 1 {
		t.Fatalf("failed creations left %d persons, want 1", len(persons))
	}
	// Another tenant may use the same identifiers.
	if _, err := e.svc.CreateAccount(e.ctx, userAdm, other, provision.AccountInput{Route: provision.RouteNewUser, Username: "jdoe", Phone: "+31612345678",
		Person: &provision.PersonInput{FirstName: "J", LastName: "Doe", Email: "j@example.com"}}); err != nil {
		t.Fatalf("same identifiers in another tenant: %v", err)
	}
	// Each identifier finds the account.
	for _, id := range []string{"j@example.com", "jdoe", "+31612345678"} {
		a, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, id)
		if err != nil || a.ID != first.Account.ID {
			t.Errorf("lookup %q: %v %v", id, a.ID, err)
		}
	}
	// Changing the username frees the old one and takes the new one.
	nu := "john.doe"
	if _, err := e.svc.UpdateAccount(e.ctx, userAdm, tn, first.Account.ID, provision.AccountUpdate{Username: &nu}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, "jdoe"); !errors.Is(err, usher.ErrNotFound) {
		t.Errorf("old username still finds the account: %v", err)
	}
	if a, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, "john.doe"); err != nil || a.ID != first.Account.ID {
		t.Errorf("new username: %v", err)
	}
	// Usernames that could be read as a phone number or an email are refused.
	for _, bad := range []string{"12345678", "a@b.c", "x"} {
		_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: bad,
			Person: &provision.PersonInput{FirstName: "K", LastName: "L", Email: "k@example.com"}})
		if !hasField(err, "username") {
			t.Errorf("username %q: got %v, want invalid username", bad, err)
		}
	}
}

func testContactRoles(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	acct := e.org(tn, "Customer", "")
	site := e.org(tn, "Customer Main Site", acct.ID)
	site2 := e.org(tn, "Customer Legacy Site", acct.ID)
	if site.Kind != usher.OrgExternal || site.ParentID != acct.ID {
		t.Fatalf("site: %+v", site)
	}
	person := func(email string) usher.Person {
		p, err := e.svc.CreatePerson(e.ctx, userAdm, tn, provision.PersonInput{OrganizationID: acct.ID, FirstName: "C", LastName: "D", Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1, p2, p3 := person("one@example.com"), person("two@example.com"), person("three@example.com")
	relate := func(site string, p usher.Person, roles ...string) error {
		_, err := e.svc.Relate(e.ctx, userAdm, tn, site, provision.RelationshipInput{PersonID: p.ID, Roles: roles})
		return err
	}
	wantCode(t, relate(site.ID, p1), usher.CodeInvalid, "roles")
	if err := relate(site.ID, p1, "Primary", "Technical"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, relate(site.ID, p2, "Primary"), usher.CodeConflict, "roles")
	if err := relate(site.ID, p2, "Technical", "Billing"); err != nil {
		t.Fatalf("other roles are unlimited: %v", err)
	}
	if err := relate(site.ID, p3, "Technical"); err != nil {
		t.Fatalf("other roles are unlimited: %v", err)
	}
	if err := relate(site2.ID, p2, "Primary"); err != nil {
		t.Fatalf("Primary at another site: %v", err)
	}
	wantCode(t, relate(site.ID, p3, "Owner"), usher.CodeInvalid, "roles[0]")
	// Moving Primary: drop it from p1, then p3 may take it.
	if err := relate(site.ID, p1, "Technical"); err != nil {
		t.Fatal(err)
	}
	if err := relate(site.ID, p3, "Primary"); err != nil {
		t.Fatalf("Primary after it was freed: %v", err)
	}
	rels, err := e.st.Read().Relationships(e.ctx, tn.ID, store.RelationshipFilter{SiteID: site.ID})
	if err != nil {
		t.Fatal(err)
	}
	primaries := 0
	for _, r := range rels {
		if slices.Contains(r.Roles, "Primary") {
			primaries++
		}
	}
	if len(rels) != 3 || primaries != 1 {
		t.Fatalf("relationships at site: %+v", rels)
	}
}

func testWelcome(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	acct := e.org(tn, "Customer", "")
	site := e.org(tn, "Customer Main Site", acct.ID)
	site2 := e.org(tn, "Customer Other Site", acct.ID)
	p, err := e.svc.CreatePerson(e.ctx, userAdm, tn, provision.PersonInput{OrganizationID: acct.ID, FirstName: "Wendy", LastName: "W", Email: "wendy@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Relate(e.ctx, userAdm, tn, site.ID, provision.RelationshipInput{PersonID: p.ID, Roles: []string{"Secondary"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Account == nil || res.Account.State != usher.StateInvited || res.Account.AuthSystem != usher.AuthPassword {
		t.Fatalf("first relationship should create an invited password account: %+v", res.Account)
	}
	if len(res.Messages) != 1 || res.Messages[0].Kind != "welcome" || res.Messages[0].To != "wendy@example.com" {
		t.Fatalf("welcome message: %+v", res.Messages)
	}
	res2, err := e.svc.Relate(e.ctx, userAdm, tn, site2.ID, provision.RelationshipInput{PersonID: p.ID, Roles: []string{"Technical"}})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Account != nil || len(res2.Messages) != 0 {
		t.Fatalf("second relationship sent again: %+v", res2)
	}
	msgs, _, _ := e.st.Read().Messages(e.ctx, tn.ID, store.MessageFilter{AccountID: res.Account.ID}, store.ListOptions{})
	if len(msgs) != 1 {
		t.Fatalf("messages for the contact: %d, want 1", len(msgs))
	}
}

func testSeats(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	small := e.plan(tn, "small", 2)
	big := e.plan(tn, "big", 5)
	tn = e.withDefaultPlan(tn, small)
	a1, err := e.newUser(tn, "A", "a1@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.newUser(tn, "A", "a2@example.com"); err != nil {
		t.Fatal(err)
	}
	_, err = e.newUser(tn, "A", "a3@example.com")
	wantCode(t, err, usher.CodeSeatsFull, "plan_id")
	if p, _ := e.st.Read().Plan(e.ctx, tn.ID, small.ID); p.SeatsUsed != 2 || p.Seats != 2 {
		t.Fatalf("plan after filling: %d of %d", p.SeatsUsed, p.Seats)
	}
	// An account needs a plan: a tenant without a default refuses one without.
	none := e.tenant("noplan", "")
	_, err = e.newUser(none, "N", "n@example.com")
	if !hasField(err, "plan_id") {
		t.Fatalf("account without a plan: %v", err)
	}
	// Deactivating frees the seat; reactivating needs one again.
	deact := usher.StateDeactivated
	if _, err := e.svc.UpdateAccount(e.ctx, userAdm, tn, a1.Account.ID, provision.AccountUpdate{State: &deact}); err != nil {
		t.Fatal(err)
	}
	a3, err := e.newUser(tn, "A", "a3@example.com")
	if err != nil {
		t.Fatalf("after freeing a seat: %v", err)
	}
	react := usher.StateInvited
	_, err = e.svc.UpdateAccount(e.ctx, userAdm, tn, a1.Account.ID, provision.AccountUpdate{State: &react})
	wantCode(t, err, usher.CodeSeatsFull, "plan_id")
	// Moving to another plan moves the seat.
	bigID := big.ID
	if _, err := e.svc.UpdateAccount(e.ctx, userAdm, tn, a3.Account.ID, provision.AccountUpdate{PlanID: &bigID}); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.st.Read().Plan(e.ctx, tn.ID, small.ID); p.SeatsUsed != 1 {
		t.Fatalf("small plan after move: %d used", p.SeatsUsed)
	}
	if p, _ := e.st.Read().Plan(e.ctx, tn.ID, big.ID); p.SeatsUsed != 1 {
		t.Fatalf("big plan after move: %d used", p.SeatsUsed)
	}
	// Seats cannot drop below those held; raising them adds free seats.
	one, zero, three := 1, 0, 3
	if _, err := e.svc.UpdatePlan(e.ctx, operator, tn, small.ID, provision.PlanInput{Seats: &one}); err != nil {
		t.Fatalf("shrink to used: %v", err)
	}
	_, err = e.svc.UpdatePlan(e.ctx, operator, tn, small.ID, provision.PlanInput{Seats: &zero})
	wantCode(t, err, usher.CodeConflict, "seats")
	_, err = e.svc.UpdatePlan(e.ctx, tenantAdm, tn, small.ID, provision.PlanInput{Seats: &three})
	wantCode(t, err, usher.CodeForbidden, "")
	p, err := e.svc.UpdatePlan(e.ctx, operator, tn, small.ID, provision.PlanInput{Seats: &three})
	if err != nil || p.Seats != 3 || p.SeatsUsed != 1 {
		t.Fatalf("grow: %+v %v", p, err)
	}
	for i := range 2 {
		if _, err := e.newUser(tn, "G", fmt.Sprintf("g%d@example.com", i)); err != nil {
			t.Fatalf("after growing: %v", err)
		}
	}
	_, err = e.newUser(tn, "G", "g9@example.com")
	wantCode(t, err, usher.CodeSeatsFull, "plan_id")
}

// race runs n calls of fn at once and counts those that succeeded and
// those refused with refused; any other error fails the test.
func race(t *testing.T, n int, refused error, fn func(i int) error) (ok, refusedN int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var other []error
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, refused):
				refusedN++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected errors (%d), first: %v", len(other), other[0])
	}
	return ok, refusedN
}

func testSeatsConcurrent(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	const seats, attempts = 5, 40
	p := e.plan(tn, "few", seats)
	tn = e.withDefaultPlan(tn, p)
	created, full := race(t, attempts, usher.ErrSeatsFull, func(i int) error {
		_, err := e.newUser(tn, "C", fmt.Sprintf("c%d@example.com", i))
		return err
	})
	if created != seats || full != attempts-seats {
		t.Fatalf("created %d, refused %d; want %d and %d", created, full, seats, attempts-seats)
	}
	accounts, _, _ := e.st.Read().Accounts(e.ctx, tn.ID, store.AccountFilter{PlanID: p.ID}, store.ListOptions{})
	persons, _, _ := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{}, store.ListOptions{})
	if len(accounts) != seats || len(persons) != seats {
		t.Fatalf("stored %d accounts and %d persons, want %d", len(accounts), len(persons), seats)
	}
	if got, _ := e.st.Read().Plan(e.ctx, tn.ID, p.ID); got.SeatsUsed != seats {
		t.Fatalf("seats used %d", got.SeatsUsed)
	}
}

// testCreationsConcurrent fires creations at once, some of them taking the
// same email as another or as an existing account. On PostgreSQL they share
// transactions (store.WriteGrouped); every creation must still get its own
// outcome, and a refused one leave nothing behind.
func testCreationsConcurrent(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 1000))
	if _, err := e.newUser(tn, "Old", "taken@example.com"); err != nil {
		t.Fatal(err)
	}
	grouped, rerun := e.st.GroupStats()
	// A first burst without conflicts.
	if ok, _ := race(t, 30, nil, func(i int) error {
		_, err := e.newUser(tn, "B", fmt.Sprintf("burst%d@example.com", i))
		return err
	}); ok != 30 {
		t.Fatalf("created %d of 30", ok)
	}
	const n = 60
	email := func(i int) string {
		switch {
		case i%10 == 0:
			return "taken@example.com" // an existing account's
		case i%10 == 1:
			return fmt.Sprintf("pair%d@example.com", i/10) // with i%10 == 2
		case i%10 == 2:
			return fmt.Sprintf("pair%d@example.com", i/10)
		}
		return fmt.Sprintf("u%d@example.com", i)
	}
	var mu sync.Mutex
	made := map[int]provision.Created{}
	ok, conflicts := race(t, n, usher.ErrConflict, func(i int) error {
		c, err := e.newUser(tn, fmt.Sprintf("U%d", i), email(i))
		if err == nil {
			mu.Lock()
			made[i] = c
			mu.Unlock()
		} else if !hasField(err, "email") {
			return fmt.Errorf("creation %d refused on another field: %w", i, err)
		}
		return err
	})
	// Per ten: one existing email refused, one of each pair refused.
	if wantOK := n - 2*n/10; ok != wantOK || conflicts != n-wantOK {
		t.Fatalf("created %d, refused %d; want %d and %d", ok, conflicts, wantOK, n-wantOK)
	}
	r := e.st.Read()
	for i, c := range made {
		a, err := r.AccountByLogin(e.ctx, tn.ID, email(i))
		if err != nil || a.ID != c.Account.ID || a.PersonID != c.Person.ID {
			t.Fatalf("creation %d: %s finds %+v, %v; want account %s", i, email(i), a, err, c.Account.ID)
		}
		p, err := r.Person(e.ctx, tn.ID, c.Person.ID)
		if err != nil || p.FirstName != fmt.Sprintf("U%d", i) {
			t.Fatalf("creation %d: person %+v, %v", i, p, err)
		}
		msgs, _, _ := r.Messages(e.ctx, tn.ID, store.MessageFilter{AccountID: a.ID}, store.ListOptions{})
		events, _, _ := r.AuditEvents(e.ctx, tn.ID, store.AuditFilter{TargetID: a.ID, Action: "account.created"}, store.ListOptions{})
		if len(msgs) != 1 || msgs[0].To != email(i) || len(events) != 1 {
			t.Fatalf("creation %d: %d messages (%+v) and %d audit events, want one each", i, len(msgs), msgs, len(events))
		}
	}
	// Nothing of the refused ones: one person, account, seat and message per success.
	persons, _, _ := r.Persons(e.ctx, tn.ID, store.PersonFilter{}, store.ListOptions{Limit: 500})
	accounts, _, _ := r.Accounts(e.ctx, tn.ID, store.AccountFilter{}, store.ListOptions{Limit: 500})
	msgs, _, _ := r.Messages(e.ctx, tn.ID, store.MessageFilter{}, store.ListOptions{Limit: 500})
	plan, _ := r.Plan(e.ctx, tn.ID, tn.Settings.DefaultPlanID)
	if want := ok + 31; len(persons) != want || len(accounts) != want || len(msgs) != want || plan.SeatsUsed != want {
		t.Fatalf("stored %d persons, %d accounts, %d messages, %d seats used; want %d each",
			len(persons), len(accounts), len(msgs), plan.SeatsUsed, want)
	}
	if g, r := e.st.GroupStats(); e.st.Dialect() == store.Postgres && (g == grouped || r == rerun) {
		t.Fatalf("%d creations committed in a group, %d ran again after their group failed: the test did not exercise both", g-grouped, r-rerun)
	}
}

type badLinks struct{}

func (badLinks) Activation(t usher.Tenant, secret string) string {
	return "usher.example/activate#" + secret
}
func (badLinks) SignIn(t usher.Tenant) string { return "usher.example/" }

// Messages are stored as what they say. What could never be written out
// refuses the change at once; on reading, a message that cannot be written
// out says so without hiding the others.
func testMessagesWrittenOut(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	bad := provision.New(e.st, e.clock.Now, badLinks{})
	_, err := bad.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: "Al", LastName: "Tester", Email: "al@example.com"}})
	if err == nil || !strings.Contains(err.Error(), "absolute http(s) URL") {
		t.Fatalf("a creation whose message could never be written out: %v", err)
	}
	if _, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, "al@example.com"); err == nil {
		t.Fatal("the refused creation left an account")
	}
	c, err := e.newUser(tn, "Bo", "bo@example.com")
	if err != nil {
		t.Fatal(err)
	}
	broken := usher.Message{Kind: "invitation", Channel: usher.ChannelEmail, Language: "en", To: "x@example.com", Data: "{not json"}
	if err := e.st.Write(e.ctx, func(tx *store.Tx) error { _, err := tx.QueueMessage(e.ctx, tn.ID, &broken); return err }); err != nil {
		t.Fatal(err)
	}
	msgs, _, _ := e.st.Read().Messages(e.ctx, tn.ID, store.MessageFilter{}, store.ListOptions{})
	msgs, err = e.svc.ComposeAll(tn, msgs)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("compose all: %d, %v", len(msgs), err)
	}
	for _, m := range msgs {
		switch m.ID {
		case c.Messages[0].ID:
			if !strings.Contains(m.Body, "Bo") || !strings.Contains(m.Subject, tn.Name) || m.LastError != "" || m.Data != "" {
				t.Fatalf("the good message: %+v", m)
			}
		case broken.ID:
			if m.Body != "" || m.Data != "" || !strings.Contains(m.LastError, "cannot be written out") {
				t.Fatalf("the broken message: %+v", m)
			}
		}
	}
	if _, err := e.svc.Compose(e.ctx, broken); !errors.Is(err, provision.ErrUnwritable) {
		t.Fatalf("composing the broken message: %v", err)
	}
}

func testRequiredFields(t *testing.T, e *env) {
	tn := e.tenant("front", usher.TemplateFrontline)
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	// Seed 003: first and last name, job profile, department, permission type, email or username + phone, language.
	_, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "worker1",
		Person: &provision.PersonInput{}})
	for _, f := range []string{"first_name", "last_name", "job_profile_id", "department_id", "role_id", "email"} {
		if !hasField(err, f) {
			t.Errorf("missing %s not reported: %v", f, err)
		}
	}
	role, dept, job := e.attr(tn, usher.KindRole, "worker"), e.attr(tn, usher.KindDepartment, "store-12"), e.attr(tn, usher.KindJobProfile, "cashier")
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "worker1", Phone: "+46 70 123 45 67",
		RoleID: role.ID, Person: &provision.PersonInput{FirstName: "W", LastName: "One", DepartmentID: dept.ID, JobProfileID: job.ID, Language: "sv"}})
	if err != nil {
		t.Fatalf("username + phone with every required field: %v", err)
	}
	if c.Account.Language != "sv" || c.Account.Email != "" || c.Account.Username != "worker1" {
		t.Fatalf("account: %+v", c.Account)
	}
	// Defaults count: a tenant's default department and job profile fill those fields.
	st := e.reload(tn).Settings
	st.DefaultDepartmentID, st.DefaultJobProfileID, st.DefaultRoleID = dept.ID, job.ID, role.ID
	tn, err = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.newUser(tn, "D", "d@example.com"); err != nil {
		t.Fatalf("with defaults: %v", err)
	}
	// A username without a phone does not meet "email or username + phone".
	_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "worker2",
		Person: &provision.PersonInput{FirstName: "W", LastName: "Two"}})
	wantCode(t, err, usher.CodeInvalid, "email")
	// The setting only accepts known fields.
	st.RequiredFields = append(st.RequiredFields, "shoe_size")
	_, err = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	wantCode(t, err, usher.CodeInvalid, fmt.Sprintf("settings.required_fields[%d]", len(st.RequiredFields)-1))
}

func testSSORule(t *testing.T, e *env) {
	tn := e.tenant("corp", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 20))
	// Without a connection, internal users get passwords.
	c, err := e.newUser(tn, "Early", "early@corp.example")
	if err != nil || c.Account.AuthSystem != usher.AuthPassword {
		t.Fatalf("before SSO: %+v %v", c.Account, err)
	}
	conn, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", provision.ConnectionInput{Connection: usher.Connection{
		Name: "Corporate Entra ID", Protocol: "oidc", Issuer: "https://login.example.com/tenant/v2.0", ClientID: "usher", ClientSecret: "s3cret",
		Domains: []string{"corp.example", "CORP.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	if conn.ClientSecret != "" || len(conn.Domains) != 1 {
		t.Fatalf("connection as returned: %+v", conn)
	}
	// The "new internal user" route uses the connection, with no choice given.
	c, err = e.newUser(tn, "Ivy", "ivy@corp.example")
	if err != nil || c.Account.AuthSystem != usher.AuthConnection || c.Account.ConnectionID != conn.ID {
		t.Fatalf("new internal user: %+v %v", c.Account, err)
	}
	if len(c.Messages) != 1 || c.Messages[0].Kind != "invitation" {
		t.Fatalf("invitation to sign in with SSO: %+v", c.Messages)
	}
	acts, _ := e.st.Read().Activations(e.ctx, tn.ID, c.Account.ID)
	if len(acts) != 0 {
		t.Fatalf("an SSO account needs no password activation, got %d", len(acts))
	}
	// Asking for a password on the new-user route is refused.
	_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, AuthSystem: usher.AuthPassword,
		Person: &provision.PersonInput{FirstName: "P", LastName: "W", Email: "pw@corp.example"}})
	wantCode(t, err, usher.CodeInvalid, "auth_system")
	// Person first, then "create user account" with usher's password: allowed while not enforced.
	p, err := e.svc.CreatePerson(e.ctx, userAdm, tn, provision.PersonInput{FirstName: "No", LastName: "SSO", Email: "nosso@corp.example"})
	if err != nil {
		t.Fatal(err)
	}
	c, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteAccountForPerson, PersonID: p.ID, AuthSystem: usher.AuthPassword})
	if err != nil || c.Account.AuthSystem != usher.AuthPassword {
		t.Fatalf("explicit password for an existing person: %+v %v", c.Account, err)
	}
	// Enforced: even that route must use the connection.
	conn.Enforced = true
	if _, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, conn.ID, provision.ConnectionInput{Connection: conn}); err != nil {
		t.Fatal(err)
	}
	p2, _ := e.svc.CreatePerson(e.ctx, userAdm, tn, provision.PersonInput{FirstName: "No", LastName: "SSO2", Email: "nosso2@corp.example"})
	_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteAccountForPerson, PersonID: p2.ID, AuthSystem: usher.AuthPassword})
	wantCode(t, err, usher.CodeInvalid, "auth_system")
	// External contacts keep usher's password.
	ext := e.org(tn, "Partner", "")
	c, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{OrganizationID: ext.ID, FirstName: "E", LastName: "X", Email: "ext@partner.example"}})
	if err != nil || c.Account.AuthSystem != usher.AuthPassword {
		t.Fatalf("external contact: %+v %v", c.Account, err)
	}
	// The stored secret survives an update that leaves it out.
	stored, _ := e.st.Read().Connection(e.ctx, tn.ID, conn.ID)
	if stored.ClientSecret != "s3cret" {
		t.Fatalf("client secret lost on update")
	}
	// A second connection claiming the same domain is refused.
	_, err = e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", provision.ConnectionInput{Connection: usher.Connection{Name: "Okta", Protocol: "oidc", Issuer: "https://okta.example", Domains: []string{"corp.example"}}})
	wantCode(t, err, usher.CodeConflict, "domains[0]")
	// With two connections, the email's domain decides; an email of neither domain must name one.
	okta, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", provision.ConnectionInput{Connection: usher.Connection{Name: "Okta", Protocol: "oidc", Issuer: "https://okta.example", Domains: []string{"subsidiary.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err = e.newUser(tn, "Sub", "sub@subsidiary.example")
	if err != nil || c.Account.ConnectionID != okta.ID {
		t.Fatalf("domain of the second connection: %+v %v", c.Account, err)
	}
	c, err = e.newUser(tn, "Corp", "corp2@corp.example")
	if err != nil || c.Account.ConnectionID != conn.ID {
		t.Fatalf("domain of the first connection: %+v %v", c.Account, err)
	}
	_, err = e.newUser(tn, "Gmail", "someone@gmail.example")
	wantCode(t, err, usher.CodeInvalid, "connection_id")
	c, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, ConnectionID: okta.ID,
		Person: &provision.PersonInput{FirstName: "G", LastName: "M", Email: "someone@gmail.example"}})
	if err != nil || c.Account.ConnectionID != okta.ID {
		t.Fatalf("a named connection: %+v %v", c.Account, err)
	}
}

func testTenantAdminRule(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	_, err := e.svc.CreateAccount(e.ctx, tenantAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, AdminRole: usher.AdminTenant,
		Person: &provision.PersonInput{FirstName: "T", LastName: "A", Email: "ta@example.com"}})
	wantCode(t, err, usher.CodeForbidden, "")
	c, err := e.newUser(tn, "U", "u@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ta := usher.AdminTenant
	for _, who := range []usher.Actor{userAdm, tenantAdm} {
		_, err = e.svc.UpdateAccount(e.ctx, who, tn, c.Account.ID, provision.AccountUpdate{AdminRole: &ta})
		wantCode(t, err, usher.CodeForbidden, "")
	}
	a, err := e.svc.UpdateAccount(e.ctx, operator, tn, c.Account.ID, provision.AccountUpdate{AdminRole: &ta})
	if err != nil || a.AdminRole != usher.AdminTenant {
		t.Fatalf("operator grants: %+v %v", a, err)
	}
	// Removing, or downgrading to user administrator, is the operator's too.
	ua, none := usher.AdminUser, ""
	for _, to := range []*string{&ua, &none} {
		_, err = e.svc.UpdateAccount(e.ctx, tenantAdm, tn, c.Account.ID, provision.AccountUpdate{AdminRole: to})
		wantCode(t, err, usher.CodeForbidden, "")
	}
	if _, err := e.svc.UpdateAccount(e.ctx, operator, tn, c.Account.ID, provision.AccountUpdate{AdminRole: &none}); err != nil {
		t.Fatal(err)
	}
	// A tenant administrator may make user administrators; a user administrator may not.
	_, err = e.svc.UpdateAccount(e.ctx, userAdm, tn, c.Account.ID, provision.AccountUpdate{AdminRole: &ua})
	wantCode(t, err, usher.CodeForbidden, "")
	if _, err := e.svc.UpdateAccount(e.ctx, tenantAdm, tn, c.Account.ID, provision.AccountUpdate{AdminRole: &ua}); err != nil {
		t.Fatal(err)
	}
	// Tokens with tenant-administrator rights come from operators only.
	_, _, err = e.svc.CreateToken(e.ctx, tenantAdm, tn, provision.TokenInput{Name: "x", Role: usher.AdminTenant})
	wantCode(t, err, usher.CodeForbidden, "")
	events, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{TargetID: c.Account.ID, Action: "account."}, store.ListOptions{})
	grants := 0
	for _, ev := range events {
		if ev.Details["admin_role"] == usher.AdminTenant && ev.ActorKind == "operator" {
			grants++
		}
	}
	if grants != 1 {
		t.Fatalf("audit of the grant: %+v", events)
	}
}

func testAtomic(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	p := e.plan(tn, "one", 1)
	tn = e.withDefaultPlan(tn, p)
	st := tn.Settings
	st.SMSEnabled = true
	tn, _ = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Phone: "+31612345678",
		Person: &provision.PersonInput{FirstName: "Both", LastName: "Channels", Email: "both@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	// Both channels when both are enabled and the person has both (seed 003).
	r := e.st.Read()
	msgs, _, _ := r.Messages(e.ctx, tn.ID, store.MessageFilter{AccountID: c.Account.ID}, store.ListOptions{})
	if len(msgs) != 2 || msgs[0].Channel == msgs[1].Channel {
		t.Fatalf("messages: %+v", msgs)
	}
	// Stored as what they say; written out when sent or read.
	for _, m := range msgs {
		if m.State != usher.MessageQueued || m.Body != "" || m.Data == "" {
			t.Fatalf("message: %+v", m)
		}
	}
	msgs = e.written(msgs)
	for _, m := range msgs {
		if m.Body == "" || m.Data != "" {
			t.Fatalf("message written out: %+v", m)
		}
	}
	events, _, _ := r.AuditEvents(e.ctx, tn.ID, store.AuditFilter{TargetID: c.Account.ID}, store.ListOptions{})
	if len(events) != 1 || events[0].Action != "account.created" || events[0].ActorID != userAdm.ID {
		t.Fatalf("audit: %+v", events)
	}
	acts, _ := r.Activations(e.ctx, tn.ID, c.Account.ID)
	if len(acts) != 2 || acts[0].Kind != "link" || acts[1].Kind != "code" || len(acts[0].SecretHash) != 64 {
		t.Fatalf("activation: a link and, for the SMS, a code: %+v", acts)
	}
	for _, m := range msgs {
		if strings.Contains(m.Body, acts[0].SecretHash) {
			t.Fatal("a message carries the stored hash")
		}
	}
	// A refused creation (no seat) leaves nothing: no person, event or message.
	before := counts(t, e, tn)
	_, err = e.newUser(tn, "No", "no@example.com")
	wantCode(t, err, usher.CodeSeatsFull, "plan_id")
	if after := counts(t, e, tn); after != before {
		t.Fatalf("a refused creation changed counts from %v to %v", before, after)
	}
}

func counts(t *testing.T, e *env, tn usher.Tenant) [4]int {
	r := e.st.Read()
	big := store.ListOptions{Limit: 500}
	p, _, err1 := r.Persons(e.ctx, tn.ID, store.PersonFilter{}, big)
	a, _, err2 := r.Accounts(e.ctx, tn.ID, store.AccountFilter{}, big)
	m, _, err3 := r.Messages(e.ctx, tn.ID, store.MessageFilter{}, big)
	ev, _, err4 := r.AuditEvents(e.ctx, tn.ID, store.AuditFilter{}, big)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	return [4]int{len(p), len(a), len(m), len(ev)}
}

func testStates(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	c, err := e.newUser(tn, "S", "s@example.com")
	if err != nil {
		t.Fatal(err)
	}
	set := func(s string) (usher.Account, error) {
		return e.svc.UpdateAccount(e.ctx, userAdm, tn, c.Account.ID, provision.AccountUpdate{State: &s})
	}
	_, err = set(usher.StateSuspended)
	wantCode(t, err, usher.CodeConflict, "state")
	a, err := set(usher.StateDeactivated)
	if err != nil || a.State != usher.StateDeactivated || a.DeactivatedAt == nil {
		t.Fatalf("deactivate: %+v %v", a, err)
	}
	acts, _ := e.st.Read().Activations(e.ctx, tn.ID, c.Account.ID)
	if acts[0].UsedAt == nil {
		t.Fatal("deactivation left the activation secret usable")
	}
	a, err = set(usher.StateActive)
	if err != nil || a.State != usher.StateInvited {
		t.Fatalf("reactivating a never-activated account should make it invited: %+v %v", a, err)
	}
	// Deactivating the person deactivates the account.
	yes := true
	if _, err := e.svc.UpdatePerson(e.ctx, userAdm, tn, c.Person.ID, provision.PersonUpdate{Deactivated: &yes}); err != nil {
		t.Fatal(err)
	}
	a, _ = e.st.Read().Account(e.ctx, tn.ID, c.Account.ID)
	if a.State != usher.StateDeactivated {
		t.Fatalf("account of a deactivated person: %s", a.State)
	}
	events, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{TargetID: c.Account.ID}, store.ListOptions{})
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	want := []string{"account.created", "account.updated", "account.deactivated", "account.updated", "account.invited", "account.deactivated"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit trail %v, want %v", actions, want)
	}
}

func testClaims(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	const n = 60
	err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		for i := range n {
			m := &usher.Message{Kind: "test", Channel: usher.ChannelEmail, To: fmt.Sprintf("m%d@example.com", i), Language: "en", Body: "hi"}
			if _, err := tx.QueueMessage(e.ctx, tn.ID, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var got []usher.Message
				err := e.st.Write(e.ctx, func(tx *store.Tx) error {
					var err error
					got, err = tx.ClaimMessages(e.ctx, 4, time.Minute, []string{usher.ChannelEmail})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("claimed %d distinct messages, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("message %s claimed %d times", id, c)
		}
	}
	// Leased messages are not claimed again until the lease ends; failures come back at their retry time.
	var again []usher.Message
	_ = e.st.Write(e.ctx, func(tx *store.Tx) error {
		again, err = tx.ClaimMessages(e.ctx, 10, time.Minute, []string{usher.ChannelEmail, usher.ChannelSMS})
		return err
	})
	if len(again) != 0 {
		t.Fatalf("claimed %d leased messages", len(again))
	}
}

func testDedupe(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	var first, second bool
	err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		m1 := &usher.Message{Kind: "k", Channel: usher.ChannelEmail, To: "x@example.com", Language: "en", Body: "1", DedupeKey: "event-1:email"}
		m2 := &usher.Message{Kind: "k", Channel: usher.ChannelEmail, To: "x@example.com", Language: "en", Body: "2", DedupeKey: "event-1:email"}
		var err error
		if first, err = tx.QueueMessage(e.ctx, tn.ID, m1); err != nil {
			return err
		}
		second, err = tx.QueueMessage(e.ctx, tn.ID, m2)
		return err
	})
	if err != nil || !first || second {
		t.Fatalf("dedupe: first %v second %v err %v", first, second, err)
	}
}

func testTokens(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tok, secret, err := e.svc.CreateToken(e.ctx, tenantAdm, tn, provision.TokenInput{Name: "hr sync", Role: usher.AdminUser})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Authenticate(e.ctx, secret)
	if err != nil || got.ID != tok.ID || got.TenantID != tn.ID || got.Role != usher.AdminUser {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	if _, err := e.svc.Authenticate(e.ctx, secret+"x"); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := e.svc.RevokeToken(e.ctx, tenantAdm, tn, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, secret); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}
	// The bootstrap operator token is stored as a hash and replaced when it changes.
	if err := e.svc.EnsureBootstrapToken(e.ctx, "first-bootstrap-secret"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnsureBootstrapToken(e.ctx, "second-bootstrap-secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "first-bootstrap-secret"); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("old bootstrap secret still works: %v", err)
	}
	op, err := e.svc.Authenticate(e.ctx, "second-bootstrap-secret")
	if err != nil || op.Role != usher.PrincipalOperator || op.TenantID != "" {
		t.Fatalf("bootstrap: %+v %v", op, err)
	}
}

func testPaging(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 100))
	for i := range 23 {
		if _, err := e.newUser(tn, fmt.Sprintf("P%02d", i), fmt.Sprintf("p%02d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		items, next, err := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{}, store.ListOptions{After: cursor, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range items {
			all = append(all, p.FirstName)
		}
		if next == "" {
			if pages != 2 {
				t.Fatalf("%d pages", pages+1)
			}
			break
		}
		cursor = next
	}
	if len(all) != 23 || all[0] != "P00" || all[22] != "P22" {
		t.Fatalf("paged: %v", all)
	}
	got, _, _ := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{Name: "p1"}, store.ListOptions{})
	if len(got) != 10 {
		t.Fatalf("name prefix filter: %d", len(got))
	}
	got, _, _ = e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{Name: "%"}, store.ListOptions{})
	if len(got) != 0 {
		t.Fatalf("a %% in a filter must match literally, matched %d", len(got))
	}
}

func testIdentity(t *testing.T, e *env) {
	a, b := e.tenant("alpha", ""), e.tenant("bravo", "")
	a = e.withDefaultPlan(a, e.plan(a, "std", 5))
	b = e.withDefaultPlan(b, e.plan(b, "std", 5))
	ca, err := e.newUser(a, "Ida", "ida@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := e.newUser(b, "Ida", "ida@example.com")
	if err != nil {
		t.Fatal(err)
	}
	id := usher.Identity{Email: "ida@example.com"}
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		if err := tx.InsertIdentity(e.ctx, &id, "argon2id-hash"); err != nil {
			return err
		}
		for _, c := range []provision.Created{ca, cb} {
			old := c.Account
			acct := c.Account
			acct.IdentityID = id.ID
			if err := tx.UpdateAccount(e.ctx, old.TenantID, &old, &acct); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		return tx.InsertIdentity(e.ctx, &usher.Identity{Email: "ida@example.com"}, "")
	})
	wantCode(t, err, usher.CodeConflict, "email")
	got, err := e.st.Read().IdentityByEmail(e.ctx, "ida@example.com")
	if err != nil || got.ID != id.ID {
		t.Fatalf("identity by email: %+v %v", got, err)
	}
	accts, err := e.st.Read().AccountsOfIdentity(e.ctx, id.ID)
	if err != nil || len(accts) != 2 || accts[0].TenantSlug != "alpha" || accts[1].TenantSlug != "bravo" {
		t.Fatalf("accounts of the identity: %+v %v", accts, err)
	}
}

// secretOf returns the link secret carried by a message.
func (e *env) secretOf(t *testing.T, m usher.Message) string {
	t.Helper()
	m = e.written([]usher.Message{m})[0]
	i := strings.Index(m.Body, "/activate#")
	if i < 0 {
		t.Fatalf("no activation link in %q", m.Body)
	}
	s := m.Body[i+len("/activate#"):]
	if j := strings.IndexAny(s, " \n"); j >= 0 {
		s = s[:j]
	}
	return s
}

func (e *env) account(tn usher.Tenant, id string) usher.Account {
	e.t.Helper()
	a, err := e.st.Read().Account(e.ctx, tn.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func testActivationLink(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, err := e.newUser(tn, "Lin", "lin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c.Account.Invitation != usher.InvitationPending {
		t.Fatalf("a new invited account: invitation %q", c.Account.Invitation)
	}
	for _, m := range e.written(c.Messages) {
		if strings.Contains(strings.ToLower(m.Body), "password:") {
			t.Fatalf("a message carries a password: %q", m.Body)
		}
	}
	secret := e.secretOf(t, c.Messages[0])
	red, err := e.svc.Inspect(e.ctx, tn, secret)
	if err != nil || red.Mode != provision.ModeChoosePassword || red.Account.ID != c.Account.ID {
		t.Fatalf("inspect: %+v %v", red, err)
	}
	_, err = e.svc.ActivateWithLink(e.ctx, tn, secret, "password1", "")
	wantCode(t, err, usher.CodeInvalid, "password")
	_, err = e.svc.ActivateWithLink(e.ctx, tn, secret, "short", "")
	wantCode(t, err, usher.CodeInvalid, "password")
	// Another tenant's page does not know the secret.
	other := e.tenant("other", "")
	if _, err := e.svc.Inspect(e.ctx, other, secret); !errors.Is(err, provision.ErrActivationUnknown) {
		t.Fatalf("secret on another tenant: %v", err)
	}
	a, err := e.svc.ActivateWithLink(e.ctx, tn, secret, "correct horse battery staple", "192.0.2.1")
	if err != nil || a.State != usher.StateActive || a.IdentityID == "" || a.ActivatedAt == nil {
		t.Fatalf("activate: %+v %v", a, err)
	}
	if _, err := e.svc.ActivateWithLink(e.ctx, tn, secret, "another good passphrase", ""); !errors.Is(err, provision.ErrActivationUsed) {
		t.Fatalf("second use: %v", err)
	}
	if got := e.account(tn, a.ID); got.State != usher.StateActive || got.Invitation != "" {
		t.Fatalf("stored: %+v", got)
	}
	events, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "account.activated"}, store.ListOptions{})
	if len(events) != 1 || events[0].ActorKind != "account" || events[0].Source != "192.0.2.1" {
		t.Fatalf("audit: %+v", events)
	}
}

func testActivationExpiry(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, err := e.newUser(tn, "Exp", "exp@example.com")
	if err != nil {
		t.Fatal(err)
	}
	first := e.secretOf(t, c.Messages[0])
	e.clock.Advance(7*24*time.Hour + time.Second)
	if _, err := e.svc.Inspect(e.ctx, tn, first); !errors.Is(err, provision.ErrActivationExpired) {
		t.Fatalf("after 7 days: %v", err)
	}
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationExpired {
		t.Fatalf("invitation after expiry: %q", a.Invitation)
	}
	expired, _, _ := e.st.Read().Accounts(e.ctx, tn.ID, store.AccountFilter{Invitation: usher.InvitationExpired}, store.ListOptions{})
	pending, _, _ := e.st.Read().Accounts(e.ctx, tn.ID, store.AccountFilter{Invitation: usher.InvitationPending}, store.ListOptions{})
	if len(expired) != 1 || len(pending) != 0 {
		t.Fatalf("filters: %d expired, %d pending", len(expired), len(pending))
	}
	msgs, err := e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != provision.KindActivation {
		t.Fatalf("resend: %+v %v", msgs, err)
	}
	second := e.secretOf(t, msgs[0])
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationPending {
		t.Fatalf("invitation after resend: %q", a.Invitation)
	}
	// A second resend makes the second link unusable too.
	msgs, err = e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	if err != nil {
		t.Fatal(err)
	}
	third := e.secretOf(t, msgs[0])
	if _, err := e.svc.Inspect(e.ctx, tn, second); err == nil {
		t.Fatal("a resend must invalidate the previous link")
	}
	// Revoking leaves no usable link, and the account shows an expired invitation.
	if _, err := e.svc.RevokeInvitation(e.ctx, userAdm, tn, c.Account.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Inspect(e.ctx, tn, third); err == nil {
		t.Fatal("a revoked link still works")
	}
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationExpired {
		t.Fatalf("after revoke: %q", a.Invitation)
	}
	// The public "send me a new link" works for an invited account and says nothing either way.
	if err := e.svc.RequestActivation(e.ctx, tn, "EXP@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequestActivation(e.ctx, tn, "nobody@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationPending {
		t.Fatalf("after a request: %q", a.Invitation)
	}
	// Resending to an account that is no longer invited is refused.
	x, err := e.newUser(tn, "X", "x@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ActivateWithLink(e.ctx, tn, e.secretOf(t, x.Messages[0]), "correct horse battery staple", ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ResendActivation(e.ctx, userAdm, tn, x.Account.ID)
	wantCode(t, err, usher.CodeConflict, "state")
	_, err = e.svc.RevokeInvitation(e.ctx, userAdm, tn, x.Account.ID)
	wantCode(t, err, usher.CodeConflict, "state")
}

var codeRE = regexp.MustCompile(`code: (\d{6})`)

// codeOf returns the SMS code in an English message.
func codeOf(body string) string {
	m := codeRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func testActivationCode(t *testing.T, e *env) {
	tn := e.tenant("front", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	st := tn.Settings
	st.SMSEnabled = true
	tn, _ = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "sam.sms", Phone: "+46 70 111 22 33",
		Person: &provision.PersonInput{FirstName: "Sam", LastName: "SMS"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 1 || c.Messages[0].Channel != usher.ChannelSMS {
		t.Fatalf("an account with only a phone gets an SMS: %+v", c.Messages)
	}
	body := e.written(c.Messages)[0].Body
	code := codeOf(body)
	if code == "" || !strings.Contains(body, "/activate#") {
		t.Fatalf("the SMS carries a link and a code: %q", body)
	}
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	_, err = e.svc.ActivateWithCode(e.ctx, tn, "+46701112233", wrong, "correct horse battery staple", "")
	if !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("wrong code: %v", err)
	}
	// The code expires within 10 minutes.
	e.clock.Advance(provision.CodeTTL + time.Second)
	if _, err := e.svc.ActivateWithCode(e.ctx, tn, "+46701112233", code, "correct horse battery staple", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("expired code: %v", err)
	}
	msgs, err := e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	if err != nil {
		t.Fatal(err)
	}
	code = codeOf(e.written(msgs)[0].Body)
	// A few wrong tries lock the code, even for the right one afterwards.
	for range provision.MaxAttempts {
		e.svc.ActivateWithCode(e.ctx, tn, "sam.sms", wrong, "correct horse battery staple", "")
	}
	if _, err := e.svc.ActivateWithCode(e.ctx, tn, "sam.sms", code, "correct horse battery staple", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("a locked code still works: %v", err)
	}
	msgs, _ = e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	code = codeOf(e.written(msgs)[0].Body)
	a, err := e.svc.ActivateWithCode(e.ctx, tn, "SAM.SMS", code, "correct horse battery staple", "")
	if err != nil || a.State != usher.StateActive {
		t.Fatalf("right code: %+v %v", a, err)
	}
	// Unknown identifiers get the same answer as wrong codes.
	if _, err := e.svc.ActivateWithCode(e.ctx, tn, "nobody", code, "correct horse battery staple", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("unknown identifier: %v", err)
	}
}

func testActivationJoin(t *testing.T, e *env) {
	a, b := e.tenant("alpha", ""), e.tenant("bravo", "")
	a = e.withDefaultPlan(a, e.plan(a, "std", 5))
	b = e.withDefaultPlan(b, e.plan(b, "std", 5))
	ca, _ := e.newUser(a, "Jo", "jo@example.com")
	acct, err := e.svc.ActivateWithLink(e.ctx, a, e.secretOf(t, ca.Messages[0]), "first tenant passphrase", "")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := e.newUser(b, "Jo", "jo@example.com")
	secret := e.secretOf(t, cb.Messages[0])
	red, err := e.svc.Inspect(e.ctx, b, secret)
	if err != nil || red.Mode != provision.ModeConfirmIdentity {
		t.Fatalf("second tenant: %+v %v", red, err)
	}
	_, err = e.svc.ActivateWithLink(e.ctx, b, secret, "a different passphrase", "")
	wantCode(t, err, usher.CodeInvalid, "password")
	joined, err := e.svc.ActivateWithLink(e.ctx, b, secret, "first tenant passphrase", "")
	if err != nil || joined.IdentityID != acct.IdentityID {
		t.Fatalf("join: %+v %v (identity %s)", joined, err, acct.IdentityID)
	}
	accts, _ := e.st.Read().AccountsOfIdentity(e.ctx, acct.IdentityID)
	if len(accts) != 2 {
		t.Fatalf("identity stands behind %d accounts", len(accts))
	}
}

func testOneTimePassword(t *testing.T, e *env) {
	tn := e.tenant("front", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	st := tn.Settings
	st.RequiredFields = []string{usher.FieldFirstName, usher.FieldLastName}
	tn, _ = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "olle",
		Person: &provision.PersonInput{FirstName: "Olle", LastName: "NoMail"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 0 {
		t.Fatalf("no address, no message: %+v", c.Messages)
	}
	_, err = e.svc.SetOneTimePassword(e.ctx, userAdm, tn, c.Account.ID, "short")
	wantCode(t, err, usher.CodeInvalid, "one_time_password")
	otp, err := e.svc.SetOneTimePassword(e.ctx, userAdm, tn, c.Account.ID, "")
	if err != nil || len(otp) < 8 {
		t.Fatalf("generated: %q %v", otp, err)
	}
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, otp, ""); err == nil {
		t.Fatal("the new password must differ from the one-time password")
	}
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp+"x", "my own passphrase", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("wrong one-time password: %v", err)
	}
	a, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, "my own passphrase", "")
	if err != nil || a.State != usher.StateActive {
		t.Fatalf("one-time password: %+v %v", a, err)
	}
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, "another passphrase", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("a one-time password works once: %v", err)
	}
	// It expires.
	otp, _ = e.svc.SetOneTimePassword(e.ctx, userAdm, tn, c.Account.ID, "given-by-admin")
	e.clock.Advance(provision.OneTimeTTL + time.Second)
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, "yet another passphrase", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("expired one-time password: %v", err)
	}
}

func testActivationConcurrent(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, _ := e.newUser(tn, "Con", "con@example.com")
	secret := e.secretOf(t, c.Messages[0])
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, used := 0, 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.ActivateWithLink(e.ctx, tn, secret, "correct horse battery staple", "")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if errors.Is(err, provision.ErrActivationUsed) || errors.Is(err, usher.ErrConflict) {
				used++
			} else {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || used != 3 {
		t.Fatalf("%d activations succeeded, %d refused; want 1 and 3", ok, used)
	}
}

func testPasswordReset(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, _ := e.newUser(tn, "Rae", "rae@example.com")
	if _, err := e.svc.StartReset(e.ctx, userAdm, tn, c.Account.ID); err == nil {
		t.Fatal("an invited account has no password to reset")
	}
	a, err := e.svc.ActivateWithLink(e.ctx, tn, e.secretOf(t, c.Messages[0]), "first passphrase here", "")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.svc.StartReset(e.ctx, userAdm, tn, a.ID)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != provision.KindPasswordReset {
		t.Fatalf("reset: %+v %v", msgs, err)
	}
	b, err := e.svc.ActivateWithLink(e.ctx, tn, e.secretOf(t, msgs[0]), "second passphrase here", "")
	if err != nil || b.IdentityID != a.IdentityID || b.State != usher.StateActive {
		t.Fatalf("reset done: %+v %v", b, err)
	}
}

func strp(s string) *string { return &s }
func intp(n int) *int       { return &n }

func (e *env) signupLink(tn usher.Tenant, in provision.SignupLinkInput) usher.SignupLink {
	e.t.Helper()
	if in.Name == nil {
		in.Name = strp("Link")
	}
	l, err := e.svc.CreateSignupLink(e.ctx, userAdm, tn, in)
	if err != nil {
		e.t.Fatalf("create sign-up link: %v", err)
	}
	return l
}

// readLink reads a link as stored now.
func (e *env) readLink(tn usher.Tenant, id string) usher.SignupLink {
	e.t.Helper()
	l, err := e.st.Read().SignupLink(e.ctx, tn.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// useLink uses a link in a write that also records an audit event, as the
// registration does with its account: a refusal must undo the whole write.
func (e *env) useLink(tn usher.Tenant, id string) error {
	return e.st.Write(e.ctx, func(tx *store.Tx) error {
		if err := tx.InsertAudit(e.ctx, tn.ID, &usher.AuditEvent{ActorKind: "system", Action: "test.registered", TargetKind: "signup_link", TargetID: id}); err != nil {
			return err
		}
		return tx.UseSignupLink(e.ctx, tn.ID, id)
	})
}

func testSignupLinkRules(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	other := e.tenant("globex", "")
	p := e.plan(tn, "std", 3)
	dept, job, role := e.attr(tn, usher.KindDepartment, "warehouse"), e.attr(tn, usher.KindJobProfile, "picker"), e.attr(tn, usher.KindRole, "worker")
	foreignDept := e.attr(other, usher.KindDepartment, "theirs")
	old := e.attr(tn, usher.KindDepartment, "old")
	off := true
	if _, err := e.svc.UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindDepartment, old.ID, provision.AttributeInput{Deactivated: &off}); err != nil {
		t.Fatal(err)
	}

	// Every unknown reference is named at once, another tenant's included.
	_, err := e.svc.CreateSignupLink(e.ctx, userAdm, tn, provision.SignupLinkInput{Name: strp("Bad"), DepartmentID: strp(foreignDept.ID),
		JobProfileID: strp(dept.ID), RoleID: strp("nope"), PlanID: strp(other.ID)})
	for _, f := range []string{"department_id", "job_profile_id", "role_id", "plan_id"} {
		if !hasField(err, f) {
			t.Errorf("unknown %s not reported: %v", f, err)
		}
	}
	_, err = e.svc.CreateSignupLink(e.ctx, userAdm, tn, provision.SignupLinkInput{Name: strp("Old"), DepartmentID: strp(old.ID)})
	wantCode(t, err, usher.CodeInvalid, "department_id")
	_, err = e.svc.CreateSignupLink(e.ctx, userAdm, tn, provision.SignupLinkInput{Name: strp("Past"), ExpiresAt: strp(e.clock.Now().Add(-time.Minute).Format(time.RFC3339))})
	wantCode(t, err, usher.CodeInvalid, "expires_at")
	_, err = e.svc.CreateSignupLink(e.ctx, userAdm, tn, provision.SignupLinkInput{Name: strp("Neg"), MaxUses: intp(-1)})
	wantCode(t, err, usher.CodeInvalid, "max_uses")
	_, err = e.svc.CreateSignupLink(e.ctx, userAdm, tn, provision.SignupLinkInput{})
	wantCode(t, err, usher.CodeInvalid, "name")
	_, err = e.svc.CreateSignupLink(e.ctx, usher.Actor{Kind: "token", ID: "x"}, tn, provision.SignupLinkInput{Name: strp("No rights")})
	wantCode(t, err, usher.CodeForbidden, "")
	if got, _, _ := e.st.Read().SignupLinks(e.ctx, tn.ID, store.SignupLinkFilter{}, store.ListOptions{}); len(got) != 0 {
		t.Fatalf("refused creations stored %d links", len(got))
	}

	// A department's link with all its defaults; no seat is taken by it.
	exp := e.clock.Now().Add(48 * time.Hour)
	l := e.signupLink(tn, provision.SignupLinkInput{Name: strp(" Warehouse QR "), DepartmentID: strp(dept.ID), JobProfileID: strp(job.ID),
		RoleID: strp(role.ID), PlanID: strp(p.ID), ExpiresAt: strp(exp.Format(time.RFC3339)), MaxUses: intp(10)})
	if l.Name != "Warehouse QR" || l.DepartmentID != dept.ID || l.JobProfileID != job.ID || l.RoleID != role.ID || l.PlanID != p.ID ||
		l.ExpiresAt == nil || !l.ExpiresAt.Equal(exp) || l.MaxUses != 10 || l.Uses != 0 || l.Status != usher.SignupActive || len(l.Code) != 22 {
		t.Fatalf("created: %+v", l)
	}
	if got := e.readLink(tn, l.ID); got.Code != l.Code || !got.CreatedAt.Equal(l.CreatedAt) || got.Status != usher.SignupActive {
		t.Fatalf("read back %+v, created %+v", got, l)
	}
	if got, _ := e.st.Read().Plan(e.ctx, tn.ID, p.ID); got.SeatsUsed != 0 {
		t.Fatalf("a link took %d seats", got.SeatsUsed)
	}
	if d := provision.SignupDefaults(l); d.DepartmentID != dept.ID || d.PlanID != p.ID || d.RoleID != role.ID || d.JobProfileID != job.ID {
		t.Fatalf("defaults: %+v", d)
	}
	tenantWide := e.signupLink(tn, provision.SignupLinkInput{Name: strp("Everyone")})
	if tenantWide.Code == l.Code || tenantWide.DepartmentID != "" || tenantWide.ExpiresAt != nil || tenantWide.MaxUses != 0 {
		t.Fatalf("tenant link: %+v", tenantWide)
	}

	// Changes: a deactivated department no longer stops a rename, only its choice.
	if _, err := e.svc.UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindJobProfile, job.ID, provision.AttributeInput{Deactivated: &off}); err != nil {
		t.Fatal(err)
	}
	l2, err := e.svc.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, provision.SignupLinkInput{Name: strp("Warehouse"), ExpiresAt: strp(""), MaxUses: intp(0)})
	if err != nil || l2.Name != "Warehouse" || l2.ExpiresAt != nil || l2.MaxUses != 0 || l2.JobProfileID != job.ID {
		t.Fatalf("update: %+v %v", l2, err)
	}
	_, err = e.svc.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, provision.SignupLinkInput{JobProfileID: strp(job.ID)})
	wantCode(t, err, usher.CodeInvalid, "job_profile_id")
	_, err = e.svc.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, provision.SignupLinkInput{DepartmentID: strp(foreignDept.ID)})
	wantCode(t, err, usher.CodeNotFound, "department_id")
	l2, err = e.svc.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, provision.SignupLinkInput{JobProfileID: strp("")})
	if err != nil || l2.JobProfileID != "" {
		t.Fatalf("clearing the job profile: %+v %v", l2, err)
	}
	l2, err = e.svc.DeactivateSignupLink(e.ctx, userAdm, tn, l.ID)
	if err != nil || l2.DisabledAt == nil || l2.Status != usher.SignupDisabled {
		t.Fatalf("disable: %+v %v", l2, err)
	}
	no := false
	l2, err = e.svc.UpdateSignupLink(e.ctx, tenantAdm, tn, l.ID, provision.SignupLinkInput{Disabled: &no})
	if err != nil || l2.DisabledAt != nil || l2.Status != usher.SignupActive {
		t.Fatalf("enable: %+v %v", l2, err)
	}

	// Lists: by department ("-": the tenant's own links) and by status.
	list := func(f store.SignupLinkFilter) []string {
		t.Helper()
		got, _, err := e.st.Read().SignupLinks(e.ctx, tn.ID, f, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range got {
			names = append(names, x.Name)
		}
		return names
	}
	if got := list(store.SignupLinkFilter{DepartmentID: dept.ID}); !slices.Equal(got, []string{"Warehouse"}) {
		t.Fatalf("by department: %v", got)
	}
	if got := list(store.SignupLinkFilter{DepartmentID: "-"}); !slices.Equal(got, []string{"Everyone"}) {
		t.Fatalf("the tenant's links: %v", got)
	}
	if _, err := e.svc.DeactivateSignupLink(e.ctx, userAdm, tn, tenantWide.ID); err != nil {
		t.Fatal(err)
	}
	if got := list(store.SignupLinkFilter{Status: usher.SignupActive}); !slices.Equal(got, []string{"Warehouse"}) {
		t.Fatalf("active: %v", got)
	}
	if got := list(store.SignupLinkFilter{Status: usher.SignupDisabled}); !slices.Equal(got, []string{"Everyone"}) {
		t.Fatalf("disabled: %v", got)
	}

	// Every change is audited.
	events, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "signup_link."}, store.ListOptions{})
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	want := []string{"signup_link.created", "signup_link.created", "signup_link.updated", "signup_link.updated", "signup_link.disabled",
		"signup_link.updated", "signup_link.disabled"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit: %v, want %v", actions, want)
	}
	if events[0].TargetID != l.ID || events[0].ActorID != userAdm.ID || events[0].Details["department_id"] != dept.ID {
		t.Fatalf("creation event: %+v", events[0])
	}
}

func testSignupLinksCrossTenant(t *testing.T, e *env) {
	acme, globex := e.tenant("acme", ""), e.tenant("globex", "")
	l := e.signupLink(acme, provision.SignupLinkInput{})
	r := e.st.Read()
	_, err := r.SignupLink(e.ctx, globex.ID, l.ID)
	wantCode(t, err, usher.CodeNotFound, "id")
	_, err = r.SignupLinkByCode(e.ctx, globex.ID, l.Code)
	wantCode(t, err, usher.CodeNotFound, "code")
	if _, err := e.svc.SignupLinkByCode(e.ctx, globex, l.Code); !errors.Is(err, usher.ErrSignupLinkUnknown) {
		t.Fatalf("another tenant's code: %v", err)
	}
	if got, err := e.svc.SignupLinkByCode(e.ctx, acme, l.Code); err != nil || got.ID != l.ID {
		t.Fatalf("own code: %+v %v", got, err)
	}
	if got, _, _ := r.SignupLinks(e.ctx, globex.ID, store.SignupLinkFilter{}, store.ListOptions{}); len(got) != 0 {
		t.Fatalf("globex lists acme's links: %+v", got)
	}
	_, err = e.svc.UpdateSignupLink(e.ctx, userAdm, globex, l.ID, provision.SignupLinkInput{Name: strp("Mine now")})
	wantCode(t, err, usher.CodeNotFound, "id")
	_, err = e.svc.DeactivateSignupLink(e.ctx, userAdm, globex, l.ID)
	wantCode(t, err, usher.CodeNotFound, "id")
	if err := e.useLink(globex, l.ID); !errors.Is(err, usher.ErrSignupLinkUnknown) {
		t.Fatalf("using another tenant's link: %v", err)
	}
	if got := e.readLink(acme, l.ID); got.Uses != 0 || got.Name != "Link" || got.DisabledAt != nil {
		t.Fatalf("changed from another tenant: %+v", got)
	}
}

func testSignupLinkRefusals(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	auditCount := func() int {
		evs, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "test.registered"}, store.ListOptions{})
		return len(evs)
	}
	refuses := func(l usher.SignupLink, sentinel error, status, says string) {
		t.Helper()
		before := e.readLink(tn, l.ID)
		err := e.useLink(tn, l.ID)
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), says) {
			t.Fatalf("use of %s link: %v, want %v saying %q", status, err, sentinel, says)
		}
		got, err := e.svc.SignupLinkByCode(e.ctx, tn, l.Code)
		var ue *usher.Error
		if !errors.Is(err, sentinel) || !errors.As(err, &ue) || !strings.Contains(ue.Message, says) || got.Status != status || got.ID != l.ID {
			t.Fatalf("by code: %+v %v, want %v with status %s", got, err, sentinel, status)
		}
		if after := e.readLink(tn, l.ID); after.Uses != before.Uses || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("a refused use changed the link: %+v -> %+v", before, after)
		}
	}

	used := e.signupLink(tn, provision.SignupLinkInput{MaxUses: intp(2)})
	for range 2 {
		if err := e.useLink(tn, used.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.readLink(tn, used.ID); got.Uses != 2 || got.Status != usher.SignupUsedUp {
		t.Fatalf("after two uses: %+v", got)
	}
	refuses(used, usher.ErrSignupLinkUsedUp, usher.SignupUsedUp, "used as often")

	expiring := e.signupLink(tn, provision.SignupLinkInput{ExpiresAt: strp(e.clock.Now().Add(time.Hour).Format(time.RFC3339))})
	if err := e.useLink(tn, expiring.ID); err != nil {
		t.Fatal(err)
	}
	disabled := e.signupLink(tn, provision.SignupLinkInput{})
	if _, err := e.svc.DeactivateSignupLink(e.ctx, tenantAdm, tn, disabled.ID); err != nil {
		t.Fatal(err)
	}
	refuses(disabled, usher.ErrSignupLinkDisabled, usher.SignupDisabled, "disabled")

	e.clock.Advance(time.Hour) // expires_at is exclusive: at that instant it is expired
	refuses(expiring, usher.ErrSignupLinkExpired, usher.SignupExpired, "expired on "+expiring.ExpiresAt.Format("2 January 2006"))
	if got, _, _ := e.st.Read().SignupLinks(e.ctx, tn.ID, store.SignupLinkFilter{Status: usher.SignupExpired}, store.ListOptions{}); len(got) != 1 || got[0].ID != expiring.ID {
		t.Fatalf("expired list: %+v", got)
	}
	if auditCount() != 3 {
		t.Fatalf("%d registrations recorded, want the 3 allowed ones: a refused use must undo its write", auditCount())
	}

	// Unknown codes, and a code of the right length that matches nothing.
	for _, code := range []string{"", "x", strings.Repeat("A", 22), used.Code + "A"} {
		if _, err := e.svc.SignupLinkByCode(e.ctx, tn, code); !errors.Is(err, usher.ErrSignupLinkUnknown) {
			t.Fatalf("code %q: %v", code, err)
		}
	}
	if err := e.useLink(tn, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, usher.ErrSignupLinkUnknown) {
		t.Fatalf("unknown id: %v", err)
	}
}

func testSignupLinkConcurrent(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	const maxUses, attempts = 5, 20
	l := e.signupLink(tn, provision.SignupLinkInput{MaxUses: intp(maxUses)})
	okN, usedUp := race(t, attempts, usher.ErrSignupLinkUsedUp, func(int) error { return e.useLink(tn, l.ID) })
	if okN != maxUses || usedUp != attempts-maxUses {
		t.Fatalf("%d uses succeeded, %d refused; want %d and %d", okN, usedUp, maxUses, attempts-maxUses)
	}
	if got := e.readLink(tn, l.ID); got.Uses != maxUses || got.Status != usher.SignupUsedUp {
		t.Fatalf("stored: %+v", got)
	}
	evs, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "test.registered"}, store.ListOptions{})
	if len(evs) != maxUses {
		t.Fatalf("%d registrations committed, want %d", len(evs), maxUses)
	}
}
