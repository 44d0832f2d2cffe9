// The rules suite: the directory's rules as every way in applies them
// through provision, proven on SQLite and PostgreSQL alike. What the store
// guarantees by itself has its own suite in package store.
package provision_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// Open returns a fresh, empty, migrated store for one test, on the clock now.
type Open func(t testing.TB, now func() time.Time) *store.Store

var (
	operator  = usher.Actor{Kind: "operator", ID: "op", Role: usher.PrincipalOperator}
	tenantAdm = usher.Actor{Kind: "token", ID: "ta", Role: usher.AdminTenant}
	userAdm   = usher.Actor{Kind: "token", ID: "ua", Role: usher.AdminUser}
)

// env is one test's world: a store, a provisioning service, the services
// that manage what it refers to, and helpers.
type env struct {
	t       *testing.T
	ctx     context.Context
	st      *store.Store
	svc     *provision.Service
	signup  *signup.Service
	tokens  *apitoken.Service
	catalog *catalog.Service
	clock   *storetest.Clock
}

func newEnv(t *testing.T, open Open) *env {
	c := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	st := open(t, c.Now)
	svc := provision.New(st, c.Now, storetest.Links{})
	return &env{t: t, ctx: context.Background(), st: st, svc: svc,
		signup: signup.New(st, c.Now), tokens: apitoken.New(st, c.Now), catalog: catalog.New(st, svc), clock: c}
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
	p, err := e.catalog.CreatePlan(e.ctx, operator, tn, catalog.PlanInput{Key: key, Name: &name, Seats: &seats})
	if err != nil {
		e.t.Fatalf("create plan: %v", err)
	}
	return p
}

func (e *env) attr(tn usher.Tenant, kind, key string) usher.Attribute {
	e.t.Helper()
	a, err := e.catalog.CreateAttribute(e.ctx, tenantAdm, tn, kind, catalog.AttributeInput{Key: key, Name: &key})
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

// Shared with the store's suite.
var (
	wantCode = storetest.WantCode
	race     = storetest.Race
)

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

func TestRulesSQLite(t *testing.T) { runRules(t, storetest.OpenSQLite) }

func TestRulesPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the PostgreSQL rules suite did not run")
	}
	runRules(t, storetest.OpenPostgres)
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
		{"APITokens", testTokens},
		{"UpdatesKeepRequiredFields", testUpdatesKeepRequiredFields},
		{"UpdatesCheckReferences", testUpdatesCheckReferences},
		{"ChangePersonAndAccount", testChange},
		{"CreateAccountsResultPerInput", testCreateAccounts},
		{"CreateAccountsWrittenTogether", testCreateAccountsTogether},
		{"ReferencesRememberedBriefly", testRefsRemembered},
		{"HomeRealm", testHomeRealm},
		{"ConnectionSecretSealed", testConnectionSecretSealed},
		{"ResealAfterKeyRotation", testReseal},
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
		{"SSOSignIn", testSSOSignIn},
		{"SSOJustInTimeRules", testSSOJustInTimeRules},
		{"SSOActivatesProvisionedUser", testSSOActivatesProvisionedUser},
		{"LinkMessagesQueuedInTheCallersTransaction", testLinkMessages},
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
	tok, _, err := e.tokens.CreateToken(e.ctx, operator, a, apitoken.TokenInput{Name: "ci", Role: usher.AdminUser})
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
	_, err = e.catalog.UpdateAttribute(ctx, tenantAdm, b, usher.KindRole, attrs[usher.KindRole].ID, catalog.AttributeInput{Name: &name})
	wantCode(t, err, usher.CodeNotFound, "")
	seats := 1
	_, err = e.catalog.UpdatePlan(ctx, operator, b, planA.ID, catalog.PlanInput{Seats: &seats})
	wantCode(t, err, usher.CodeNotFound, "")
	_, err = e.svc.SaveConnection(ctx, tenantAdm, b, conn.ID, provision.ConnectionInput{Connection: usher.Connection{Name: "x", Protocol: "oidc", Issuer: "https://x.example"}})
	wantCode(t, err, usher.CodeNotFound, "")
	err = e.tokens.RevokeToken(ctx, tenantAdm, b, tok.ID)
	wantCode(t, err, usher.CodeNotFound, "")

	// Using A's ids while creating in B: not found, naming the field.
	_, err = e.svc.CreateAccount(ctx, userAdm, b, provision.AccountInput{Route: provision.RouteNewUser, PlanID: planA.ID,
		Person: &provision.PersonInput{FirstName: "B", LastName: "B", Email: "b1@example.com"}})
	wantCode(t, err, usher.CodeInvalid, "plan_id")
	_, err = e.svc.CreateAccount(ctx, userAdm, b, provision.AccountInput{Route: provision.RouteNewUser, RoleID: attrs[usher.KindRole].ID,
		Person: &provision.PersonInput{FirstName: "B", LastName: "B", Email: "b2@example.com"}})
	if !hasField(err, "role_id") {
		t.Errorf("role of tenant A used in B: got %v, want not found on role_id", err)
	}
	_, err = e.svc.CreateAccount(ctx, userAdm, b, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: "B", LastName: "B", Email: "b3@example.com", OrganizationID: orgA.ID}})
	wantCode(t, err, usher.CodeInvalid, "organization_id")
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
	if _, err := e.catalog.UpdatePlan(e.ctx, operator, tn, small.ID, catalog.PlanInput{Seats: &one}); err != nil {
		t.Fatalf("shrink to used: %v", err)
	}
	_, err = e.catalog.UpdatePlan(e.ctx, operator, tn, small.ID, catalog.PlanInput{Seats: &zero})
	wantCode(t, err, usher.CodeConflict, "seats")
	_, err = e.catalog.UpdatePlan(e.ctx, tenantAdm, tn, small.ID, catalog.PlanInput{Seats: &three})
	wantCode(t, err, usher.CodeForbidden, "")
	p, err := e.catalog.UpdatePlan(e.ctx, operator, tn, small.ID, catalog.PlanInput{Seats: &three})
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
	_, _, err = e.tokens.CreateToken(e.ctx, tenantAdm, tn, apitoken.TokenInput{Name: "x", Role: usher.AdminTenant})
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
	// An invited account can be suspended (a provisioning source disables
	// people before they activate): its invitation stops working, and
	// resuming it sends a new one.
	a, err := set(usher.StateSuspended)
	if err != nil || a.State != usher.StateSuspended {
		t.Fatalf("suspend an invited account: %+v %v", a, err)
	}
	acts, _ := e.st.Read().Activations(e.ctx, tn.ID, c.Account.ID)
	if len(acts) != 1 || acts[0].UsedAt == nil {
		t.Fatalf("suspending left the invitation usable: %+v", acts)
	}
	a, err = set(usher.StateActive)
	if err != nil || a.State != usher.StateInvited || a.Invitation != usher.InvitationPending {
		t.Fatalf("resuming a never-activated account should invite it again: %+v %v", a, err)
	}
	acts, _ = e.st.Read().Activations(e.ctx, tn.ID, c.Account.ID)
	if len(acts) != 2 || acts[1].UsedAt != nil {
		t.Fatalf("resuming sent no new invitation: %+v", acts)
	}
	msgs, _, _ := e.st.Read().Messages(e.ctx, tn.ID, store.MessageFilter{AccountID: c.Account.ID}, store.ListOptions{})
	if len(msgs) != 2 {
		t.Fatalf("resuming queued %d messages in all, want the invitation and a new one", len(msgs))
	}
	a, err = set(usher.StateDeactivated)
	if err != nil || a.State != usher.StateDeactivated || a.DeactivatedAt == nil {
		t.Fatalf("deactivate: %+v %v", a, err)
	}
	acts, _ = e.st.Read().Activations(e.ctx, tn.ID, c.Account.ID)
	if acts[1].UsedAt == nil {
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
	want := []string{"account.created", "account.updated", "account.suspended", "account.updated", "account.invited",
		"account.updated", "account.deactivated", "account.updated", "account.invited", "account.deactivated"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit trail %v, want %v", actions, want)
	}
}

func testTokens(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tok, secret, err := e.tokens.CreateToken(e.ctx, tenantAdm, tn, apitoken.TokenInput{Name: "hr sync", Role: usher.AdminUser})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.tokens.Authenticate(e.ctx, secret)
	if err != nil || got.ID != tok.ID || got.TenantID != tn.ID || got.Role != usher.AdminUser {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	if _, err := e.tokens.Authenticate(e.ctx, secret+"x"); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := e.tokens.RevokeToken(e.ctx, tenantAdm, tn, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.Authenticate(e.ctx, secret); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}
	// The bootstrap operator token is stored as a hash and replaced when it changes.
	if err := e.tokens.EnsureBootstrapToken(e.ctx, "first-bootstrap-secret"); err != nil {
		t.Fatal(err)
	}
	if err := e.tokens.EnsureBootstrapToken(e.ctx, "second-bootstrap-secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tokens.Authenticate(e.ctx, "first-bootstrap-secret"); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("old bootstrap secret still works: %v", err)
	}
	op, err := e.tokens.Authenticate(e.ctx, "second-bootstrap-secret")
	if err != nil || op.Role != usher.PrincipalOperator || op.TenantID != "" {
		t.Fatalf("bootstrap: %+v %v", op, err)
	}
}
