// The storage suite: what the store guarantees by itself, through its own
// methods, on SQLite and PostgreSQL alike. The rules built on it are proven
// by provision's suite (TestRulesSQLite, TestRulesPostgres).
package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

func TestSQLite(t *testing.T) { runStorage(t, storetest.OpenSQLite) }

func TestPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the PostgreSQL storage suite did not run")
	}
	runStorage(t, storetest.OpenPostgres)
}

// runStorage runs the whole suite against stores made by open.
func runStorage(t *testing.T, open func(t testing.TB, now func() time.Time) *store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"CrossTenantInvisible", testCrossTenant},
		{"ContactEmailUniquePerOrganization", testContactEmail},
		{"LoginIdentifiersUniquePerTenant", testLoginIDs},
		{"ManyAccountsJoinedWithSeveralIdentifiers", testManyAccountsJoined},
		{"ConcurrentMessageClaims", testClaims},
		{"MessageDedupe", testDedupe},
		{"LateCourierChangesNothing", testLateCourier},
		{"APITokens", testTokens},
		{"Paging", testPaging},
		{"IdentityAcrossTenants", testIdentity},
		{"UserRecordsWithPersonAndSource", testUserRecords},
		{"SignupLinkUsesUnderConcurrency", testSignupLinkConcurrent},
		{"PlanSeatsNumberedWithoutGaps", testPlanSeats},
		{"OpenIDRowsPerTenantAndSingleUse", testOpenID},
		{"OpenIDLogoutsQueuedOnceClaimedOnce", testOpenIDLogouts},
		{"OpenIDLogoutClaimsFairAndDeferred", testOpenIDLogoutFairness},
		{"OpenIDLogoutDeliveriesListedAndRetried", testOpenIDLogoutDeliveries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
			tc.fn(t, &env{t: t, ctx: context.Background(), st: open(t, c.Now), clock: c})
		})
	}
}

// Shared with provision's suite.
var (
	wantCode = storetest.WantCode
	race     = storetest.Race
)

// env is one test's world: a store and helpers that write through it alone.
type env struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	clock *storetest.Clock
}

// write runs fn in one write and fails the test if it fails.
func (e *env) write(fn func(tx *store.Tx) error) {
	e.t.Helper()
	if err := e.st.Write(e.ctx, fn); err != nil {
		e.t.Fatal(err)
	}
}

// tenant stores a tenant with its internal organization, as provision
// creates one.
func (e *env) tenant(slug, template string) usher.Tenant {
	e.t.Helper()
	tn := usher.Tenant{Slug: slug, Name: "Tenant " + slug, Settings: usher.DefaultSettings(template)}
	e.write(func(tx *store.Tx) error {
		if err := tx.InsertTenant(e.ctx, &tn); err != nil {
			return err
		}
		return tx.InsertOrganization(e.ctx, tn.ID, &usher.Organization{ID: tn.InternalOrgID, Name: tn.Name, Kind: usher.OrgInternal})
	})
	return tn
}

func (e *env) plan(tn usher.Tenant, key string, seats int) usher.Plan {
	e.t.Helper()
	p := usher.Plan{Key: key, Name: "Plan " + key, Seats: seats}
	e.write(func(tx *store.Tx) error { return tx.InsertPlan(e.ctx, tn.ID, &p) })
	return p
}

func (e *env) withDefaultPlan(tn usher.Tenant, p usher.Plan) usher.Tenant {
	e.t.Helper()
	tn.Settings.DefaultPlanID = p.ID
	e.write(func(tx *store.Tx) error { return tx.UpdateTenant(e.ctx, &tn) })
	return tn
}

// org stores an external organization, or a site of parent.
func (e *env) org(tn usher.Tenant, name, parent string) usher.Organization {
	e.t.Helper()
	o := usher.Organization{Name: name, Kind: usher.OrgExternal, ParentID: parent}
	e.write(func(tx *store.Tx) error { return tx.InsertOrganization(e.ctx, tn.ID, &o) })
	return o
}

// created is a person and their account.
type created struct {
	Person  usher.Person
	Account usher.Account
}

func (e *env) newUser(tn usher.Tenant, first, email string) (created, error) {
	return e.newAccount(tn, first, usher.Account{Email: email})
}

// newAccount stores an internal person named first and a, their invited
// password account holding a seat of the tenant's default plan, in one
// write, as a creation does.
func (e *env) newAccount(tn usher.Tenant, first string, a usher.Account) (created, error) {
	var c created
	err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		c = created{Person: usher.Person{OrganizationID: tn.InternalOrgID, FirstName: first, LastName: "Tester", Email: a.Email, Language: "en"}, Account: a}
		if err := tx.InsertPerson(e.ctx, tn.ID, &c.Person); err != nil {
			return err
		}
		c.Account.PersonID, c.Account.State, c.Account.AuthSystem = c.Person.ID, usher.StateInvited, usher.AuthPassword
		c.Account.PlanID, c.Account.Language = tn.Settings.DefaultPlanID, "en"
		if err := tx.InsertAccount(e.ctx, tn.ID, &c.Account); err != nil {
			return err
		}
		return tx.ClaimSeat(e.ctx, tn.ID, c.Account.PlanID, c.Account.ID)
	})
	return c, err
}

// signupLink stores l, named "Link" unless named, with a fresh code.
func (e *env) signupLink(tn usher.Tenant, l usher.SignupLink) usher.SignupLink {
	e.t.Helper()
	if l.Name == "" {
		l.Name = "Link"
	}
	l.Code = store.NewID()
	e.write(func(tx *store.Tx) error { return tx.InsertSignupLink(e.ctx, tn.ID, &l) })
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

// useLink uses a link as a registration does (storetest.UseSignupLink).
func (e *env) useLink(tn usher.Tenant, id string) error {
	return storetest.UseSignupLink(e.ctx, e.st, tn.ID, id)
}

// testManyAccountsJoined: WriteMany joins creations whose accounts each
// have several login identifiers (rows of one insert per write) without
// failing and running again in halves, and every row is stored.
func testManyAccountsJoined(t *testing.T, e *env) {
	tn := e.tenant("acme", "office")
	tn = e.withDefaultPlan(tn, e.plan(tn, "basic", 30))
	var fns []func(*store.Tx) error
	for i := range 20 {
		a := usher.Account{Email: fmt.Sprintf("p%d@example.com", i), Username: fmt.Sprintf("p%d", i), Phone: fmt.Sprintf("+3161234%04d", i)}
		fns = append(fns, func(tx *store.Tx) error {
			p := usher.Person{OrganizationID: tn.InternalOrgID, FirstName: "P", LastName: "Many", Email: a.Email, Language: "en"}
			if err := tx.InsertPerson(e.ctx, tn.ID, &p); err != nil {
				return err
			}
			a := a
			a.PersonID, a.State, a.AuthSystem, a.PlanID, a.Language = p.ID, usher.StateInvited, usher.AuthPassword, tn.Settings.DefaultPlanID, "en"
			if err := tx.InsertAccount(e.ctx, tn.ID, &a); err != nil {
				return err
			}
			return tx.ClaimSeat(e.ctx, tn.ID, a.PlanID, a.ID)
		})
	}
	for i, err := range e.st.WriteMany(e.ctx, fns) {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n := e.st.Splits(); n != 0 {
		t.Errorf("the batch failed and ran again in halves %d times", n)
	}
	var ids, accounts int
	if err := e.st.Read().QueryRowContext(e.ctx, `SELECT (SELECT count(*) FROM login_ids WHERE tenant_id = $1), (SELECT count(*) FROM accounts WHERE tenant_id = $1)`, tn.ID).Scan(&ids, &accounts); err != nil {
		t.Fatal(err)
	}
	if ids != 60 || accounts != 20 {
		t.Errorf("%d login identifiers and %d accounts, want 60 and 20", ids, accounts)
	}
	for i := range 20 {
		for _, v := range []string{fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("p%d", i), fmt.Sprintf("+3161234%04d", i)} {
			if _, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, v); err != nil {
				t.Errorf("%s signs in to no account: %v", v, err)
			}
		}
	}
}
