package provision_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// frontline is a tenant with seed 003's required fields and one of
// everything, and a worker who has all of them.
func (e *env) frontline(slug string) (usher.Tenant, provision.Created, map[string]usher.Attribute) {
	e.t.Helper()
	tn := e.tenant(slug, usher.TemplateFrontline)
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	attrs := map[string]usher.Attribute{
		"role": e.attr(tn, usher.KindRole, "worker"), "dept": e.attr(tn, usher.KindDepartment, "store-12"),
		"job": e.attr(tn, usher.KindJobProfile, "cashier"), "group": e.attr(tn, usher.KindGroup, "north"),
	}
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "worker1",
		Phone: "+46 70 123 45 67", RoleID: attrs["role"].ID, Person: &provision.PersonInput{FirstName: "W", LastName: "One",
			DepartmentID: attrs["dept"].ID, JobProfileID: attrs["job"].ID, Language: "sv"}})
	if err != nil {
		e.t.Fatalf("a worker with every required field: %v", err)
	}
	return tn, c, attrs
}

func ptr[T any](v T) *T { return &v }

// testUpdatesKeepRequiredFields: an update is held to creation's rules, so
// it cannot clear what the tenant requires (a frontline tenant's
// department or role); a gap that predates a rule does not block others.
func testUpdatesKeepRequiredFields(t *testing.T, e *env) {
	tn, c, _ := e.frontline("front")
	_, err := e.svc.UpdatePerson(e.ctx, userAdm, tn, c.Person.ID, provision.PersonUpdate{DepartmentID: ptr("")})
	wantCode(t, err, usher.CodeInvalid, "department_id")
	_, err = e.svc.UpdatePerson(e.ctx, userAdm, tn, c.Person.ID, provision.PersonUpdate{JobProfileID: ptr(""), LastName: ptr("")})
	for _, f := range []string{"job_profile_id", "last_name"} {
		if !hasField(err, f) {
			t.Errorf("clearing %s not refused: %v", f, err)
		}
	}
	_, err = e.svc.UpdateAccount(e.ctx, userAdm, tn, c.Account.ID, provision.AccountUpdate{RoleID: ptr("")})
	wantCode(t, err, usher.CodeInvalid, "role_id")
	_, err = e.svc.UpdateAccount(e.ctx, userAdm, tn, c.Account.ID, provision.AccountUpdate{Phone: ptr("")})
	wantCode(t, err, usher.CodeInvalid, "email") // email, or username and phone
	p, _ := e.st.Read().Person(e.ctx, tn.ID, c.Person.ID)
	a := e.account(tn, c.Account.ID)
	if p.DepartmentID == "" || p.JobProfileID == "" || p.LastName == "" || a.RoleID == "" || a.Phone == "" {
		t.Fatalf("a refused update changed something: %+v %+v", p, a)
	}

	// A field required only since the account was made does not block an
	// unrelated change; filling it in works, clearing it again does not.
	plain := e.tenant("plain", "")
	plain = e.withDefaultPlan(plain, e.plan(plain, "std", 5))
	u, err := e.newUser(plain, "Uma", "uma@example.com")
	if err != nil {
		t.Fatal(err)
	}
	st := e.reload(plain).Settings
	st.RequiredFields = append(st.RequiredFields, usher.FieldDepartment)
	plain, err = e.svc.UpdateTenant(e.ctx, tenantAdm, plain.ID, provision.TenantUpdate{Settings: &st})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdatePerson(e.ctx, userAdm, plain, u.Person.ID, provision.PersonUpdate{Phone: ptr("+31 6 1234 5678")}); err != nil {
		t.Fatalf("an unrelated change to a person who predates the rule: %v", err)
	}
	dept := e.attr(plain, usher.KindDepartment, "sales")
	if _, err := e.svc.UpdatePerson(e.ctx, userAdm, plain, u.Person.ID, provision.PersonUpdate{DepartmentID: &dept.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.UpdatePerson(e.ctx, userAdm, plain, u.Person.ID, provision.PersonUpdate{DepartmentID: ptr("")})
	wantCode(t, err, usher.CodeInvalid, "department_id")
}

// testUpdatesCheckReferences: every reference an update brings is checked
// before the write, with the field named, the same on both databases; a
// reference that has not changed is not checked again.
func testUpdatesCheckReferences(t *testing.T, e *env) {
	tn, c, attrs := e.frontline("front")
	other, _, otherAttrs := e.frontline("other")
	otherPlan := e.plan(other, "big", 5)
	for _, tc := range []struct {
		field string
		in    provision.AccountUpdate
	}{
		{"plan_id", provision.AccountUpdate{PlanID: ptr("no-such-plan")}},
		{"plan_id", provision.AccountUpdate{PlanID: &otherPlan.ID}},
		{"role_id", provision.AccountUpdate{RoleID: ptr(otherAttrs["role"].ID)}},
		{"primary_group_id", provision.AccountUpdate{PrimaryGroupID: ptr(otherAttrs["group"].ID)}},
		{"group_ids[1]", provision.AccountUpdate{GroupIDs: &[]string{attrs["group"].ID, otherAttrs["group"].ID}}},
		{"role_id", provision.AccountUpdate{RoleID: ptr(attrs["dept"].ID)}}, // a department is not a role
	} {
		_, err := e.svc.UpdateAccount(e.ctx, userAdm, tn, c.Account.ID, tc.in)
		if !hasField(err, tc.field) || usher.ErrorCode(err) == usher.CodeInternal {
			t.Errorf("%s %+v: %v", tc.field, tc.in, err)
		}
	}
	_, err := e.svc.UpdatePerson(e.ctx, userAdm, tn, c.Person.ID, provision.PersonUpdate{DepartmentID: ptr(otherAttrs["dept"].ID)})
	if !hasField(err, "department_id") {
		t.Errorf("another tenant's department: %v", err)
	}
	// A new plan of the tenant is taken, its seat with it.
	big := e.plan(tn, "big", 3)
	a, err := e.svc.UpdateAccount(e.ctx, userAdm, tn, c.Account.ID, provision.AccountUpdate{PlanID: &big.ID})
	if err != nil || a.PlanID != big.ID {
		t.Fatalf("move to another plan: %+v %v", a, err)
	}
	// The worker's department is retired: changing her phone still works.
	retired := true
	if _, err := e.catalog.UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindDepartment, attrs["dept"].ID, catalog.AttributeInput{Deactivated: &retired}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateAccount(e.ctx, userAdm, tn, c.Account.ID, provision.AccountUpdate{Phone: ptr("+46 70 999 88 77")}); err != nil {
		t.Fatalf("a change beside a retired department: %v", err)
	}
	_, err = e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "worker2", Phone: "+46 70 123 45 68",
		RoleID: attrs["role"].ID, Person: &provision.PersonInput{FirstName: "W", LastName: "Two", DepartmentID: attrs["dept"].ID, JobProfileID: attrs["job"].ID}})
	wantCode(t, err, usher.CodeInvalid, "department_id")
}

// testChange: a person and their account change together in one
// transaction, under one set of rules; what is refused changes nothing.
func testChange(t *testing.T, e *env) {
	tn, c, attrs := e.frontline("front")
	lead := e.attr(tn, usher.KindRole, "lead")
	ch, err := e.svc.Change(e.ctx, usher.Actor{Kind: usher.ActorSCIM, ID: "entra"}, tn, c.Account.ID,
		provision.PersonUpdate{FirstName: ptr("Wilma")}, provision.AccountUpdate{RoleID: &lead.ID, GroupIDs: &[]string{attrs["group"].ID}})
	if err != nil || ch.Person.FirstName != "Wilma" || ch.Account == nil || ch.Account.RoleID != lead.ID || len(ch.Account.GroupIDs) != 1 {
		t.Fatalf("change: %+v %v", ch, err)
	}
	evs, _, err := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{ActorID: "entra"}, store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ev := range evs {
		got[ev.Action] = ev.ActorKind == usher.ActorSCIM
	}
	if len(evs) != 2 || !got["person.updated"] || !got["account.updated"] {
		t.Fatalf("audit of a change: %+v", evs)
	}
	// A refusal in the account's part leaves the person as she was.
	_, err = e.svc.Change(e.ctx, userAdm, tn, c.Account.ID, provision.PersonUpdate{FirstName: ptr("Never")}, provision.AccountUpdate{PlanID: ptr("nope")})
	if !hasField(err, "plan_id") {
		t.Fatalf("bad plan: %v", err)
	}
	if p, _ := e.st.Read().Person(e.ctx, tn.ID, c.Person.ID); p.FirstName != "Wilma" {
		t.Fatalf("a refused change wrote the person: %+v", p)
	}
	// A change that changes nothing writes nothing.
	if _, err := e.svc.Change(e.ctx, usher.Actor{Kind: usher.ActorSCIM, ID: "entra"}, tn, c.Account.ID, provision.PersonUpdate{FirstName: ptr("Wilma")}, provision.AccountUpdate{}); err != nil {
		t.Fatal(err)
	}
	if again, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{ActorID: "entra"}, store.ListOptions{Limit: 10}); len(again) != 2 {
		t.Fatalf("an empty change was audited: %d events", len(again))
	}
	// Administrator rights are the operator's to give, whoever asks.
	_, err = e.svc.Change(e.ctx, usher.Actor{Kind: usher.ActorSCIM, ID: "entra"}, tn, c.Account.ID, provision.PersonUpdate{}, provision.AccountUpdate{AdminRole: ptr(usher.AdminTenant)})
	wantCode(t, err, usher.CodeForbidden, "")
}

// testCreateAccounts: many creations at once, one result per input in
// order, each refusal naming its fields as a single creation would.
func testCreateAccounts(t *testing.T, e *env) {
	tn := e.tenant("bulk", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	in := []provision.AccountInput{
		{Route: provision.RouteImport, Person: &provision.PersonInput{FirstName: "A", LastName: "One", Email: "a@example.com"}},
		{Route: provision.RouteImport, Person: &provision.PersonInput{FirstName: "B", LastName: "Two", Email: "not an email"}},
		{Route: provision.RouteImport, Person: &provision.PersonInput{FirstName: "C", LastName: "Three", Email: "a@example.com"}},
		{Route: provision.RouteImport, Person: &provision.PersonInput{FirstName: "D", LastName: "Four", Email: "d@example.com"}, PlanID: "nope"},
		{Route: provision.RouteImport, Person: &provision.PersonInput{FirstName: "E", LastName: "Five", Email: "e@example.com"}},
		{Route: provision.RouteImport, Person: &provision.PersonInput{FirstName: "F", LastName: "Six", Email: "f@example.com"}},
		{Route: provision.RouteImport, Person: &provision.PersonInput{FirstName: "G", LastName: "Seven", Email: "g@example.com"}},
	}
	before := counts(t, e, tn)
	if err := e.svc.CheckAccount(e.ctx, userAdm, tn, in[1]); !hasField(err, "email") {
		t.Fatalf("dry run of a bad email: %v", err)
	}
	if err := e.svc.CheckAccount(e.ctx, userAdm, tn, in[0]); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if n := counts(t, e, tn); n != before {
		t.Fatalf("a dry run wrote: %v", n)
	}
	rows := e.svc.CreateAccounts(e.ctx, userAdm, tn, in)
	if len(rows) != len(in) {
		t.Fatalf("%d rows for %d inputs", len(rows), len(in))
	}
	if rows[1].Err == nil || !hasField(rows[1].Err, "email") {
		t.Errorf("row 2: %v", rows[1].Err)
	}
	if !hasField(rows[3].Err, "plan_id") {
		t.Errorf("row 4: %v", rows[3].Err)
	}
	// Rows 1 and 3 share an address: exactly one of them gets it.
	if (rows[0].Err == nil) == (rows[2].Err == nil) || !errors.Is(errors.Join(rows[0].Err, rows[2].Err), usher.ErrConflict) {
		t.Errorf("rows 1 and 3: %v / %v", rows[0].Err, rows[2].Err)
	}
	created := 0
	for _, r := range rows {
		if r.Err == nil {
			created++
			if r.Created.Account.ID == "" || r.Created.Person.ID == "" {
				t.Errorf("a created row without ids: %+v", r.Created)
			}
		}
	}
	if created != 4 {
		t.Fatalf("%d created, want 4: %+v", created, rows)
	}
	if n := counts(t, e, tn); n[1] != 4 {
		t.Fatalf("stored: %v", n)
	}
}

// testCreateAccountsTogether: the bulk path writes its rows together
// (joined statements, one commit), yet a batch with refusals found only
// by the write — seats running out, an identifier taken by another row —
// still gives each row its own outcome, and the rows that fit are stored
// whole: a seat, an invitation and an audit event each. Large enough that
// each table's rows need more than one statement.
func testCreateAccountsTogether(t *testing.T, e *env) {
	tn := e.tenant("bulk", "")
	const rows, seats = 1500, 1490
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", seats))
	in := make([]provision.AccountInput, rows)
	for i := range in {
		in[i] = provision.AccountInput{Route: provision.RouteImport, Username: fmt.Sprintf("user%d", i),
			Person: &provision.PersonInput{FirstName: "P", LastName: fmt.Sprint(i), Email: fmt.Sprintf("p%d@example.com", i)}}
	}
	in[700].Username = "user3" // taken by row 3 in the same batch
	by := usher.Actor{Kind: usher.ActorImport, ID: "imp1"}
	out := e.svc.CreateAccounts(e.ctx, by, tn, in)
	created, full := 0, 0
	for i, r := range out {
		switch {
		case r.Err == nil:
			created++
		case i == 700:
			wantCode(t, r.Err, usher.CodeConflict, "username")
		default:
			wantCode(t, r.Err, usher.CodeSeatsFull, "plan_id")
			full++
		}
	}
	if out[3].Err != nil || out[700].Err == nil {
		t.Fatalf("rows 3 and 700: %v / %v", out[3].Err, out[700].Err)
	}
	if created != seats || full != rows-seats-1 {
		t.Fatalf("%d created, %d refused for seats; want %d and %d", created, full, seats, rows-seats-1)
	}
	var held, distinct, msgs, events int
	r := e.st.Read()
	if err := r.QueryRowContext(e.ctx, `SELECT count(account_id), count(DISTINCT account_id) FROM plan_seats WHERE plan_id = $1`, tn.Settings.DefaultPlanID).Scan(&held, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := r.QueryRowContext(e.ctx, `SELECT count(*) FROM messages WHERE tenant_id = $1 AND kind = 'invitation'`, tn.ID).Scan(&msgs); err != nil {
		t.Fatal(err)
	}
	if err := r.QueryRowContext(e.ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'account.created' AND actor_id = 'imp1'`, tn.ID).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if held != seats || distinct != seats || msgs != seats || events != seats {
		t.Fatalf("seats held %d (distinct %d), invitations %d, audit events %d; want %d each", held, distinct, msgs, events, seats)
	}
	for _, r := range out {
		if r.Err != nil {
			continue
		}
		a, err := e.st.Read().Account(e.ctx, tn.ID, r.Created.Account.ID)
		if err != nil || a.PersonID != r.Created.Person.ID {
			t.Fatalf("account %s as created: %+v %v", r.Created.Account.ID, a, err)
		}
	}
}

// testRefsRemembered: a department or plan found active is not read again
// for a moment (an import's rows name the same ones), yet deactivating it
// through this replica applies at once, and through another within the
// cache's two seconds.
func testRefsRemembered(t *testing.T, e *env) {
	tn := e.tenant("refs", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 10))
	dept := e.attr(tn, usher.KindDepartment, "sales")
	other := e.plan(tn, "other", 10)
	n := 0
	create := func(svc *provision.Service) error {
		n++
		_, err := svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, PlanID: other.ID,
			Person: &provision.PersonInput{FirstName: "R", LastName: "Ref", Email: fmt.Sprintf("r%d@example.com", n), DepartmentID: dept.ID}})
		return err
	}
	if err := create(e.svc); err != nil {
		t.Fatal(err)
	}
	yes := true
	// Through this replica: refused at once.
	if _, err := e.catalog.UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindDepartment, dept.ID, catalog.AttributeInput{Deactivated: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := create(e.svc); !hasField(err, "department_id") {
		t.Fatalf("a deactivated department, changed here: %v", err)
	}
	// Through another replica: the plan found active a moment ago here
	// stays so for at most two seconds.
	replica := provision.New(e.st, e.clock.Now, storetest.Links{})
	no := false
	if _, err := e.catalog.UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindDepartment, dept.ID, catalog.AttributeInput{Deactivated: &no}); err != nil {
		t.Fatal(err)
	}
	if err := create(e.svc); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.New(e.st, replica).UpdatePlan(e.ctx, operator, tn, other.ID, catalog.PlanInput{Deactivated: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.New(e.st, replica).UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindDepartment, dept.ID, catalog.AttributeInput{Deactivated: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := create(replica); !hasField(err, "department_id") || !hasField(err, "plan_id") {
		t.Fatalf("the replica that changed them: %v", err)
	}
	e.clock.Advance(3 * time.Second)
	if err := create(e.svc); !hasField(err, "department_id") || !hasField(err, "plan_id") {
		t.Fatalf("two seconds after another replica's change: %v", err)
	}
}

// testHomeRealm: the one home-realm discovery.
func testHomeRealm(t *testing.T, e *env) {
	tn := e.tenant("corp", "")
	none, err := e.svc.HomeRealm(e.ctx, tn, "x@corp.example", nil)
	if err != nil || none.Connection != nil || none.Several {
		t.Fatalf("no connection: %+v %v", none, err)
	}
	a, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", provision.ConnectionInput{Connection: usher.Connection{
		Name: "Corp SSO", Protocol: "oidc", Domains: []string{"corp.example"}, Issuer: "https://login.corp.example", ClientID: "usher"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email       string
		owner, only bool
	}{
		{"x@corp.example", true, true},
		{"X@Corp.Example", true, true},
		{"x@elsewhere.example", false, true},
		{"username", false, true},
	} {
		r, err := e.svc.HomeRealm(e.ctx, tn, usher.NormalizeLogin(tc.email), nil)
		if err != nil || (r.Owner() != nil) != tc.owner || (r.Connection != nil && r.Connection.ID != a.ID) {
			t.Errorf("%s: %+v %v", tc.email, r, err)
		}
		if c, err := r.ForEmployee(); err != nil || (c != nil) != tc.only {
			t.Errorf("%s for an employee: %v %v", tc.email, c, err)
		}
	}
	if _, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", provision.ConnectionInput{Connection: usher.Connection{
		Name: "Subsidiary", Protocol: "oidc", Domains: []string{"sub.example"}, Issuer: "https://login.sub.example", ClientID: "usher"}}); err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.HomeRealm(e.ctx, tn, "x@elsewhere.example", nil)
	if _, ferr := r.ForEmployee(); err != nil || !r.Several || r.Owner() != nil || ferr == nil {
		t.Fatalf("two connections, neither owning the domain: %+v %v %v", r, err, ferr)
	}
	if r, _ := e.svc.HomeRealm(e.ctx, tn, "x@sub.example", nil); r.Owner() == nil || r.Owner().Name != "Subsidiary" {
		t.Fatalf("the second connection's domain: %+v", r)
	}
	acct := usher.Account{AuthSystem: usher.AuthConnection, ConnectionID: a.ID}
	if r, _ := e.svc.HomeRealm(e.ctx, tn, "x@sub.example", &acct); r.Owner() == nil || r.Owner().ID != a.ID {
		t.Fatalf("an account signs in with its own connection, whatever its email: %+v", r)
	}
	acct = usher.Account{AuthSystem: usher.AuthPassword}
	if r, _ := e.svc.HomeRealm(e.ctx, tn, "x@corp.example", &acct); r.Connection != nil {
		t.Fatalf("a password account has no connection: %+v", r)
	}
}
