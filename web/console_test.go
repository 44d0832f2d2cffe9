package web

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// The console tests drive the console as an administrator would, through
// the real server on both databases: forms posted, redirects followed.

// admin creates an administrator of tn with the role and signs a browser in.
func (w *signinWorld) admin(t *testing.T, tn usher.Tenant, role, email string) *browser {
	t.Helper()
	c, err := w.svc.CreateAccount(context.Background(), opActor, tn, provision.AccountInput{Route: provision.RouteNewUser, AdminRole: role,
		Person: &provision.PersonInput{FirstName: "Admin", LastName: "Istrator", Email: email}})
	if err != nil {
		t.Fatal(err)
	}
	link := linkRE.FindString(written(t, w.svc, c.Messages)[0].Body)
	if _, err := w.svc.ActivateWithLink(context.Background(), tn, link[strings.LastIndex(link, "/")+1:], "console passphrase 1", "", "test"); err != nil {
		t.Fatal(err)
	}
	b := w.browser(t)
	b.signIn(tn.Slug, email, "console passphrase 1")
	return b
}

var personURL = regexp.MustCompile(`/admin/people/([0-9a-f-]{36})`)

// personID is the person whose page p is.
func personID(t *testing.T, p webPage) string {
	t.Helper()
	m := personURL.FindStringSubmatch(p.url)
	if m == nil {
		t.Fatalf("not a person's page: %s\n%s", p.url, p.body)
	}
	return m[1]
}

func TestConsoleAccess(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		// Not signed in: the sign-in page.
		anon := w.browser(t)
		wantPage(t, anon.get("/t/acme/admin/"), 200, "Sign in")
		// Signed in without administrator rights: told so.
		w.activeUser(t, w.tenant, "Pat", "pat@example.com", "plain user passphrase")
		user := w.browser(t)
		user.signIn("acme", "pat@example.com", "plain user passphrase")
		wantPage(t, user.get("/t/acme/admin/people"), 403, "no administrator rights")
		// A user administrator works with people but not the settings.
		ua := w.admin(t, w.tenant, usher.AdminUser, "ua@example.com")
		wantPage(t, ua.get("/t/acme/admin/people"), 200, "People", "Pat Tester")
		// A link cannot put words into the console: notices come from the server only.
		if p := ua.get("/t/acme/admin/?notice=Your+account+is+locked,+call+0900"); strings.Contains(p.body, "call 0900") {
			t.Fatal("the console shows a notice from its address")
		}
		wantPage(t, ua.get("/t/acme/admin/settings"), 403, "tenant administrators")
		if strings.Contains(ua.get("/t/acme/admin/").body, "/admin/settings") {
			t.Fatal("a user administrator is shown the settings")
		}
		// Another tenant's console: their session does not make them its administrator.
		other, _ := w.newTenant(t, "other", "Other")
		wantPage(t, ua.get("/t/other/admin/"), 200, "Sign in")
		_ = other
		// Cross-site posts are refused.
		req, _ := http.NewRequest("POST", w.url+"/t/acme/admin/users/new", strings.NewReader("first_name=X"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := ua.do(req); p.status != http.StatusForbidden {
			t.Fatalf("cross-site console post: %d", p.status)
		}
	})
}

// TestConsoleSeed000 is seed 000's two administrator routes: the "new
// internal user" wizard, which must use the corporate SSO connection, and
// "New employee" then "Create user account" choosing the authentication system.
func TestConsoleSeed000(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")

		// Without a connection the wizard says the user will choose a password.
		p := b.get("/t/acme/admin/wizard")
		wantPage(t, p, 200, "New internal user", "no corporate single sign-on", `aria-current="step">1. Who`)
		if _, err := w.svc.SaveConnection(ctx, opActor, w.tenant, "", provision.ConnectionInput{Connection: usher.Connection{
			Name: "Acme Entra", Protocol: "oidc", Domains: []string{"acme.example"}, Issuer: "https://login.acme.example", ClientID: "usher"}}); err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.post("/t/acme/admin/wizard", "step", "1", "first_name", "", "last_name", "Lovelace", "email", "nope"), 422, "Enter the first name", "Enter the work email")
		p = b.post("/t/acme/admin/wizard", "step", "1", "first_name", "Ada", "last_name", "Lovelace", "email", "ada@acme.example")
		wantPage(t, p, 200, `aria-current="step">2. Access`, "Acme Entra")
		p = b.post("/t/acme/admin/wizard", "step", "2", "first_name", "Ada", "last_name", "Lovelace", "email", "ada@acme.example", "plan_id", w.plan.ID)
		wantPage(t, p, 200, `aria-current="step">3. Check`, "Acme Entra (corporate single sign-on)", "ada@acme.example", "Standard")
		// Back keeps what was typed.
		wantPage(t, b.post("/t/acme/admin/wizard", "step", "3", "back", "1", "first_name", "Ada", "last_name", "Lovelace", "email", "ada@acme.example"), 200, `aria-current="step">2. Access`)
		p = b.post("/t/acme/admin/wizard", "step", "3", "first_name", "Ada", "last_name", "Lovelace", "email", "ada@acme.example", "plan_id", w.plan.ID)
		wantPage(t, p, 200, "Ada Lovelace was created", "They sign in with Acme Entra", "the corporate single sign-on")
		a, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "ada@acme.example")
		if err != nil || a.AuthSystem != usher.AuthConnection {
			t.Fatalf("the wizard's account: %+v %v", a, err)
		}

		// New employee, then Create user account with usher's password (the connection is not enforced).
		wantPage(t, b.get("/t/acme/admin/people/new?kind=employee"), 200, "New employee")
		wantPage(t, b.post("/t/acme/admin/people/new", "kind", "employee", "first_name", "", "last_name", ""), 422, `id="first_name-error"`, `id="last_name-error"`)
		p = b.post("/t/acme/admin/people/new", "kind", "employee", "first_name", "Bob", "last_name", "Byte", "email", "bob@elsewhere.example")
		wantPage(t, p, 200, "Bob Byte was added", "has no user account", "Acme Entra (corporate single sign-on)", "A password of their own")
		id := personID(t, p)
		p = b.post("/t/acme/admin/people/"+id+"/account", "auth_system", "password", "plan_id", w.plan.ID)
		wantPage(t, p, 200, "The user account was created; an invitation is kept under Messages for bob@elsewhere.example (no email provider is configured, so nothing is sent).", "invited", "a password")
		// Bob activates with the message's link and signs in.
		link := w.lastLink(t, "bob@elsewhere.example", "invitation")
		bob := w.browser(t)
		wantPage(t, bob.post(strings.TrimPrefix(link, w.url), "password", "bobs own passphrase", "confirm", "bobs own passphrase"), 200, "Your account is active")
		bob.signIn("acme", "bob@elsewhere.example", "bobs own passphrase")

		// Enforced, the connection takes even "create user account".
		if _, err := w.svc.SaveConnection(ctx, opActor, w.tenant, a.ConnectionID, provision.ConnectionInput{Connection: usher.Connection{
			Name: "Acme Entra", Protocol: "oidc", Domains: []string{"acme.example"}, Issuer: "https://login.acme.example", ClientID: "usher", Enforced: true}}); err != nil {
			t.Fatal(err)
		}
		p = b.post("/t/acme/admin/people/new", "kind", "employee", "first_name", "Cy", "last_name", "Cee")
		id = personID(t, p)
		wantPage(t, b.post("/t/acme/admin/people/"+id+"/account", "auth_system", "password", "username", "cy.cee"), 422, "sign in with the corporate SSO connection")
	})
}

// TestConsoleSeed002: a contact of a partner, related to a site with
// contact roles; the first relationship creates the account and sends the
// welcome message, and "Primary" is held once per site.
func TestConsoleSeed002(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		b := w.admin(t, w.tenant, usher.AdminUser, "ua@example.com")
		wantPage(t, b.post("/t/acme/admin/organizations", "name", ""), 422, `id="name-error"`)
		p := b.post("/t/acme/admin/organizations", "name", "Northwind")
		wantPage(t, p, 200, "Northwind was added", "Sites")
		org := p.url[strings.LastIndex(p.url, "/")+1:]
		p = b.post("/t/acme/admin/organizations/"+org+"/sites", "name", "Northwind Rotterdam")
		wantPage(t, p, 200, "The site Northwind Rotterdam was added", "A site of Northwind")
		site := p.url[strings.LastIndex(p.url, "/")+1:]
		var ids []string
		for _, c := range []struct{ first, email string }{{"Nina", "nina@northwind.example"}, {"Otto", "otto@northwind.example"}} {
			p = b.post("/t/acme/admin/people/new", "kind", "contact", "organization_id", org, "first_name", c.first, "last_name", "North", "email", c.email)
			wantPage(t, p, 200, c.first+" North was added", "Northwind (contact)")
			ids = append(ids, personID(t, p))
		}
		wantPage(t, b.post("/t/acme/admin/people/new", "kind", "contact", "first_name", "No", "last_name", "Org"), 422, "Choose the contact&#39;s organization")
		wantPage(t, b.get("/t/acme/admin/organizations/"+site), 200, "Nina North", "Otto North", `value="Primary"`, "No contacts at this site yet")
		wantPage(t, b.post("/t/acme/admin/organizations/"+site+"/relationships", "person_id", ids[0]), 422, "at least one")
		p = b.post("/t/acme/admin/organizations/"+site+"/relationships", "person_id", ids[0], "roles", "Primary", "roles", "Technical")
		wantPage(t, p, 200, "the contact&#39;s user account was created; the welcome message is kept under Messages for nina@northwind.example")
		msgs, _, err := w.st.Read().Messages(context.Background(), w.tenant.ID, store.MessageFilter{Kind: "welcome"}, store.ListOptions{})
		msgs = written(t, w.svc, msgs)
		if err != nil || len(msgs) != 1 || msgs[0].To != "nina@northwind.example" {
			t.Fatalf("welcome messages: %+v %v", msgs, err)
		}
		// Otto may not be Primary too; the refusal shows at his roles.
		p = b.post("/t/acme/admin/organizations/"+site+"/relationships", "person_id", ids[1], "roles", "Primary")
		wantPage(t, p, 409, "Primary", `id="roles-error"`)
		wantPage(t, b.post("/t/acme/admin/organizations/"+site+"/relationships", "person_id", ids[1], "roles", "Billing"), 200, "were saved")
		// Nina activates with the welcome link and signs in.
		link := linkRE.FindString(msgs[0].Body)
		nina := w.browser(t)
		wantPage(t, nina.post(strings.TrimPrefix(link, w.url), "password", "ninas own passphrase", "confirm", "ninas own passphrase"), 200, "Your account is active")
		nina.signIn("acme", "nina@northwind.example", "ninas own passphrase")
		wantPage(t, b.get("/t/acme/admin/people/"+ids[0]), 200, "Northwind Rotterdam", "Primary, Technical", "active", "account.activated")
	})
}

// TestConsoleSeed003: a frontline tenant's required fields, all reported
// at once and next to their fields, then a one-time password for a person
// without email, who must choose their own at first sign-in.
func TestConsoleSeed003(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		ft, _ := w.newTenant(t, "shop", "Shop")
		b := w.admin(t, ft, usher.AdminTenant, "boss@shop.example")
		w.settings(t, &ft, func(s *usher.TenantSettings) {
			s.RequiredFields = usher.DefaultSettings(usher.TemplateFrontline).RequiredFields
		})
		ids := map[string]string{}
		for _, k := range []string{usher.KindDepartment, usher.KindJobProfile, usher.KindRole} {
			a, err := w.srv.catalog.CreateAttribute(ctx, opActor, ft, k, catalog.AttributeInput{Key: "x", Name: ptr("The " + k)})
			if err != nil {
				t.Fatal(err)
			}
			ids[k] = a.ID
		}
		p := b.get("/t/shop/admin/users/new")
		wantPage(t, p, 200, "Add user", `<abbr title="required">*</abbr>`, "Required: an email, or a username and a phone number")
		p = b.post("/t/shop/admin/users/new", "first_name", "Sam", "last_name", "", "username", "sam.s")
		wantPage(t, p, 422, `id="last_name-error"`, `id="department_id-error"`, `id="job_profile_id-error"`, `id="role_id-error"`,
			// The summary names each field, with no capital after a colon.
			`role="alert">Last name is required in this tenant. Job profile is required in this tenant.`, "Role is required in this tenant.",
			// Next to the field, no sentence starting with "Is".
			`id="department_id-error">Required in this tenant.</p>`)
		if strings.Contains(p.body, ": Is ") {
			t.Fatalf("the error summary capitalises after a colon:\n%s", p.body)
		}
		p = b.post("/t/shop/admin/users/new", "first_name", "Sam", "last_name", "Shelf", "username", "sam.s", "phone", "+46 70 123 45 67",
			"department_id", ids[usher.KindDepartment], "job_profile_id", ids[usher.KindJobProfile], "role_id", ids[usher.KindRole], "language", "sv")
		wantPage(t, p, 200, "Sam Shelf was created", "Set a one-time password")
		id := personID(t, p)
		acct, err := w.st.Read().AccountOfPerson(ctx, ft.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		p = b.post("/t/shop/admin/accounts/"+acct.ID+"/one-time-password", "one_time_password", "")
		wantPage(t, p, 200, "One-time password for Sam Shelf", "shown only now", "sam.s")
		otp := regexp.MustCompile(`id="otp">([a-z0-9]+)<`).FindStringSubmatch(p.body)
		if otp == nil {
			t.Fatalf("no one-time password on the page:\n%s", p.body)
		}
		// Too short a chosen one is refused next to its field.
		wantPage(t, b.post("/t/shop/admin/accounts/"+acct.ID+"/one-time-password", "one_time_password", "short"), 422, `id="one_time_password-error"`)
		p = b.post("/t/shop/admin/accounts/"+acct.ID+"/one-time-password", "one_time_password", "")
		otp = regexp.MustCompile(`id="otp">([a-z0-9]+)<`).FindStringSubmatch(p.body)
		sam := w.browser(t)
		wantPage(t, sam.post("/t/shop/signin/password", "identifier", "sam.s", "password", otp[1]), 200, "Choose your own password")
		p = sam.post("/t/shop/signin/choose", "identifier", "sam.s", "one_time", otp[1], "password", "sams shelf passphrase", "confirm", "sams shelf passphrase")
		wantPage(t, p, 200, "Your account", "sam.s")
	})
}

// TestConsoleSeed004: the add-user form with role, plan, primary and other
// groups; a full plan is shown before the form is filled in and refused.
func TestConsoleSeed004(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		role, _ := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindRole, catalog.AttributeInput{Key: "editor", Name: ptr("Editor")})
		g1, _ := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindGroup, catalog.AttributeInput{Key: "emea", Name: ptr("EMEA")})
		g2, _ := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindGroup, catalog.AttributeInput{Key: "apac", Name: ptr("APAC")})
		g3, _ := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindGroup, catalog.AttributeInput{Key: "amer", Name: ptr("Americas")})
		one := 2
		pro, err := w.srv.catalog.CreatePlan(ctx, opActor, w.tenant, catalog.PlanInput{Key: "pro", Name: ptr("Professional"), Seats: &one})
		if err != nil {
			t.Fatal(err)
		}
		b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")
		p := b.get("/t/acme/admin/users/new")
		wantPage(t, p, 200, "Professional (0 of 2 seats used)", "EMEA", `name="group_ids"`, `name="primary_group_id"`, "User administrator")
		p = b.post("/t/acme/admin/users/new", "first_name", "Grace", "last_name", "Hopper", "email", "grace@example.com", "username", "ghopper",
			"role_id", role.ID, "plan_id", pro.ID, "primary_group_id", g1.ID, "group_ids", g2.ID, "group_ids", g3.ID)
		wantPage(t, p, 200, "Grace Hopper was created", "Editor", "Professional",
			// Her page names her groups and her language.
			"<dt>Primary group</dt><dd>EMEA</dd>", "<dt>Other groups</dt><dd>APAC, Americas</dd>", "<dt>Language</dt><dd>English</dd>")
		// Free seats are a number, not a sum left to the reader, on the overview and on Plans.
		for _, page := range []string{"/t/acme/admin/", "/t/acme/admin/plans"} {
			wantPage(t, b.get(page), 200, `<td class="n">1 of 2</td><td>1</td>`, `<td class="n">1 of 50</td><td>49</td>`)
		}
		grace, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "ghopper")
		if err != nil || grace.PlanID != pro.ID || grace.PrimaryGroupID != g1.ID || len(grace.GroupIDs) != 2 || grace.RoleID != role.ID {
			t.Fatalf("Grace's account: %+v %v", grace, err)
		}
		// The plan fills up: the form says so before anything is typed.
		wantPage(t, b.post("/t/acme/admin/users/new", "first_name", "Hal", "last_name", "H", "email", "hal@example.com", "plan_id", pro.ID), 200, "Hal H was created")
		p = b.get("/t/acme/admin/users/new")
		wantPage(t, p, 200, "Professional (full)")
		if !regexp.MustCompile(`value="` + pro.ID + `"[^>]*disabled`).MatchString(p.body) {
			t.Fatal("a full plan can be chosen in the form")
		}
		// Posted anyway (an old form), it is refused next to the plan.
		wantPage(t, b.post("/t/acme/admin/users/new", "first_name", "Ivy", "last_name", "I", "email", "ivy@example.com", "plan_id", pro.ID), 422, `id="plan_id-error"`, "no free seat")
		// Every plan full: the page says so instead of the form.
		std := 3 // the admin and two more
		if _, err := w.srv.catalog.UpdatePlan(ctx, opActor, w.tenant, w.plan.ID, catalog.PlanInput{Seats: &std}); err != nil {
			t.Fatal(err)
		}
		for _, e := range []string{"x1@example.com", "x2@example.com"} {
			b.post("/t/acme/admin/users/new", "first_name", "X", "last_name", "X", "email", e)
		}
		p = b.get("/t/acme/admin/users/new")
		wantPage(t, p, 200, "Every plan is full")
		if strings.Contains(p.body, `name="first_name"`) {
			t.Fatal("the form is shown while every plan is full")
		}
		wantPage(t, b.get("/t/acme/admin/plans"), 200, "2 of 2", "3 of 3", "full")
		// Grace activates and signs in.
		link := w.lastLink(t, "grace@example.com", "invitation")
		g := w.browser(t)
		wantPage(t, g.post(strings.TrimPrefix(link, w.url), "password", "grace hopper cobol", "confirm", "grace hopper cobol"), 200, "Your account is active")
		g.signIn("acme", "ghopper", "grace hopper cobol")
	})
}

func TestConsoleAccountsAndLists(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")
		var accts []usher.Account
		for _, n := range []string{"alpha", "bravo", "charlie"} {
			c := w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: strings.ToUpper(n[:1]) + n[1:], LastName: "Test", Email: n + "@example.com"}})
			accts = append(accts, c.Account)
		}
		// Search, filter and page in the database.
		wantPage(t, b.get("/t/acme/admin/people?q=bra"), 200, "Bravo Test")
		if p := b.get("/t/acme/admin/people?q=bra"); strings.Contains(p.body, "Alpha Test") {
			t.Fatal("the search does not filter")
		}
		p := b.get("/t/acme/admin/people?state=invited&limit=2")
		wantPage(t, p, 200, "Next page")
		next := regexp.MustCompile(`href="(/t/acme/admin/people\?[^"]+)"[^>]*>Next page`).FindStringSubmatch(p.body)
		if next == nil {
			t.Fatalf("no next page link:\n%s", p.body)
		}
		wantPage(t, b.get(strings.ReplaceAll(next[1], "&amp;", "&")), 200, "Charlie Test")
		wantPage(t, b.get("/t/acme/admin/people?state=bogus"), 200, "choose a state from the list")

		// One account's actions, and a bulk action with a refusal reported.
		person := accts[0].PersonID
		wantPage(t, b.post("/t/acme/admin/accounts/"+accts[0].ID+"/resend"), 200, "A new activation link is kept under Messages for alpha@example.com")
		wantPage(t, b.post("/t/acme/admin/accounts/"+accts[0].ID+"/suspend"), 200, "The account is suspended")
		wantPage(t, b.post("/t/acme/admin/accounts/"+accts[0].ID+"/deactivate"), 200, "deactivated and its seat is free")
		wantPage(t, b.post("/t/acme/admin/accounts/"+accts[0].ID+"/reactivate"), 200, "reactivated", "invited")
		wantPage(t, b.post("/t/acme/admin/accounts/"+accts[0].ID+"/nonsense"), 404)
		p = b.post("/t/acme/admin/accounts/bulk", "action", "deactivate", "account", accts[1].ID, "account", accts[2].ID, "account", accts[0].ID)
		wantPage(t, p, 200, "Deactivate: done for 3 accounts")
		p = b.post("/t/acme/admin/accounts/bulk", "action", "suspend", "account", accts[1].ID, "account", accts[2].ID)
		wantPage(t, p, 200, "Suspend: done for 0 accounts", "Not done for 2 accounts")
		wantPage(t, b.post("/t/acme/admin/accounts/bulk", "action", "suspend"), 200, "Select between 1 and 200")
		// Another tenant's account is not found, and nothing happens to it.
		other, _ := w.newTenant(t, "other", "Other")
		oc := w.invite(t, other, provision.AccountInput{Person: &provision.PersonInput{FirstName: "O", LastName: "O", Email: "o@other.example"}})
		wantPage(t, b.post("/t/acme/admin/accounts/"+oc.Account.ID+"/deactivate"), 404)
		wantPage(t, b.get("/t/acme/admin/people/"+oc.Person.ID), 404)
		if a, _ := w.st.Read().Account(ctx, other.ID, oc.Account.ID); a.State != usher.StateInvited {
			t.Fatalf("another tenant's account changed: %+v", a)
		}

		// Details and the account are changed from the person's page, under the same rules.
		g, _ := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindGroup, catalog.AttributeInput{Key: "night", Name: ptr("Night")})
		bravo := accts[1]
		wantPage(t, b.post("/t/acme/admin/people/"+bravo.PersonID, "first_name", "Bravo", "last_name", "", "email", "not-an-email"), 422,
			`id="person_last_name-error"`, `id="person_email-error"`, "<details open><summary>Change details")
		before, _ := w.st.Read().Person(ctx, w.tenant.ID, bravo.PersonID)
		wantPage(t, b.post("/t/acme/admin/people/"+bravo.PersonID, "first_name", "Bravo", "last_name", "Renamed", "email", "bravo@example.com"), 200,
			"The details were saved", "Bravo Renamed", `<option value="en" selected>English</option>`)
		if after, _ := w.st.Read().Person(ctx, w.tenant.ID, bravo.PersonID); before.Language == "" || after.Language != before.Language {
			t.Fatalf("saving the details without a language changed it: %q to %q", before.Language, after.Language)
		}
		wantPage(t, b.post("/t/acme/admin/accounts/"+bravo.ID, "email", "alpha@example.com"), 409, "already a sign-in email", "<details open><summary>Change the account")
		wantPage(t, b.post("/t/acme/admin/accounts/"+bravo.ID, "email", "bravo@example.com", "username", "bravo.r", "group_ids", g.ID), 200, "The account was saved", "bravo.r")
		if got, _ := w.st.Read().Account(ctx, w.tenant.ID, bravo.ID); got.Username != "bravo.r" || len(got.GroupIDs) != 1 || got.GroupIDs[0] != g.ID {
			t.Fatalf("the account after the edit: %+v", got)
		}

		// The person's page shows the history; the audit log filters by person and action.
		wantPage(t, b.get("/t/acme/admin/people/"+person), 200, "account.deactivated", "account.activation_sent")
		p = b.get("/t/acme/admin/audit?person_id=" + person + "&action=account.")
		wantPage(t, p, 200, "account.deactivated", "What happened to <a href=\""+w.url+"/t/acme/admin/people/"+person+"\">Alpha Test</a>")
		if strings.Contains(p.body, "Bravo") || strings.Contains(p.body, "Charlie") {
			t.Fatal("the audit filter shows another person's events")
		}
		// Who did what is said by name, with a link; the ids stay in the API.
		boss, _ := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "boss@example.com")
		bossLink := `<a href="` + w.url + `/t/acme/admin/people/` + boss.PersonID + `">Admin Istrator</a>`
		hrefs := regexp.MustCompile(`[a-z-]+="[^"]*"`) // attributes: ids in addresses and forms are fine
		for _, page := range []string{"/t/acme/admin/", "/t/acme/admin/audit", "/t/acme/admin/people/" + person} {
			p = b.get(page)
			wantPage(t, p, 200, bossLink, "was invited, from 127.0.0.1</td>")
			if page != "/t/acme/admin/" { // the overview's latest ten are other events
				wantPage(t, p, 200, `plan: <a href="`+w.url+`/t/acme/admin/plans">Standard</a>`)
			}
			shown := hrefs.ReplaceAllString(p.body, "")
			for _, id := range []string{boss.ID, boss.PersonID, w.plan.ID, accts[0].ID, accts[0].PersonID} {
				if strings.Contains(shown, id[len(id)-8:]) {
					t.Errorf("%s shows an id: %s", page, id)
				}
			}
			if regexp.MustCompile(`account …|operator …|; </td>|;</td>`).MatchString(p.body) {
				t.Errorf("%s shows ids or a stray semicolon in the activity", page)
			}
		}
		wantPage(t, b.get("/t/acme/admin/audit?actor_id="+boss.ID), 200, "What "+bossLink+" did")
		// Messages, with their bodies and links (the embedded default delivers nothing).
		p = b.get("/t/acme/admin/messages?kind=invitation")
		wantPage(t, p, 200, "alpha@example.com", "queued")
		mid := regexp.MustCompile(`/admin/messages/([0-9a-f-]{36})`).FindStringSubmatch(p.body)
		p = b.get("/t/acme/admin/messages/" + mid[1])
		wantPage(t, p, 200, `<a href="`+w.url+`/t/acme/activate/`)
	})
}

func TestConsoleSettingsCataloguesLinks(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")
		form := []string{"registration", "open", "registration_fields", "email", "reveal_accounts", "on", "email_enabled", "on",
			"session_idle_minutes", "60", "session_max_hours", "12", "activation_ttl_hours", "48", "default_plan_id", w.plan.ID,
			"languages", "en", "languages", "nl", "default_language", "nl", "required_fields", "first_name", "required_fields", "last_name",
			"required_fields", "email_or_username_phone", "color", "#aa3300", "product_name", "Acme Portal"}
		p := b.post("/t/acme/admin/settings", append(form, "scim_unknown_names", "create", "scim_addresses", "keep")...)
		wantPage(t, p, 200, "The settings were saved", "Acme Portal", "--brand:#aa3300", `<option value="create" selected>`, `<option value="keep" selected>`)
		if tn, err := w.st.Read().Tenant(context.Background(), w.tenant.ID); err != nil || tn.Settings.SCIM.UnknownNames != usher.SCIMCreate || tn.Settings.SCIM.Addresses != usher.SCIMKeep {
			t.Fatalf("the SCIM settings were not saved: %+v %v", tn.Settings.SCIM, err)
		}
		// The sign-in page now offers registration.
		wantPage(t, w.browser(t).get("/t/acme/"), 200, "Create one now", "Acme Portal")
		bad := append([]string{}, form...)
		bad[len(bad)-3] = "red"                        // the colour
		bad = append(bad, "session_idle_minutes", "x") // a second, unreadable value is ignored: the first counts
		p = b.post("/t/acme/admin/settings", append(bad[:len(bad)-2], "languages", "de")...)
		wantPage(t, p, 422, "is not a colour", `id="color-error"`)
		p = b.post("/t/acme/admin/settings", "registration", "sometimes", "session_idle_minutes", "1", "session_max_hours", "0", "activation_ttl_hours", "48",
			"languages", "en", "default_language", "en")
		wantPage(t, p, 422, "Must be off, open or domains", "Must be between 5")

		// Catalogues: add (key made from the name), refuse a duplicate, deactivate.
		wantPage(t, b.post("/t/acme/admin/catalog/departments", "name", "Night Shift"), 200, "Night Shift was added", "night-shift")
		wantPage(t, b.post("/t/acme/admin/catalog/departments", "name", "Night shift"), 422, `id="key-error"`)
		wantPage(t, b.get("/t/acme/admin/catalog/nonsense"), 404)

		// Sign-up links with their QR codes.
		p = b.post("/t/acme/admin/signup-links", "name", "Poster", "max_uses", "-3")
		wantPage(t, p, 422, `id="max_uses-error"`)
		deps := regexp.MustCompile(`<option value="([0-9a-f-]{36})">Night Shift</option>`).FindStringSubmatch(p.body)
		if deps == nil {
			t.Fatalf("no department to choose for a link:\n%s", p.body)
		}
		p = b.post("/t/acme/admin/signup-links", "name", "Poster", "max_uses", "10", "expires_at", "2027-01-31", "department_id", deps[1])
		// The card says the link's department.
		wantPage(t, p, 200, "The link “Poster” was created", "0 used of 10", "/t/acme/join/", "<dt>Department</dt><dd>Night Shift</dd>", ">active</span>")
		qr := regexp.MustCompile(`src="([^"]+/qr\.svg)"`).FindStringSubmatch(p.body)
		if qr == nil {
			t.Fatalf("no QR code image:\n%s", p.body)
		}
		svg := b.get(strings.TrimPrefix(qr[1], w.url))
		if svg.status != 200 || !strings.HasPrefix(svg.header.Get("Content-Type"), "image/svg+xml") || !strings.Contains(svg.body, "<svg") {
			t.Fatalf("QR code: %d %s", svg.status, svg.header.Get("Content-Type"))
		}
		png := b.get(strings.TrimPrefix(strings.Replace(qr[1], ".svg", ".png", 1), w.url))
		if png.status != 200 || png.header.Get("Content-Type") != "image/png" {
			t.Fatalf("QR PNG: %d %s", png.status, png.header.Get("Content-Type"))
		}
	})
}

func TestOperatorConsole(t *testing.T) {
	onEachDatabaseOpen(t, func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
		// As after a first start: the operator token was made and printed.
		w := newSigninWorld(t, open, func(c *Config) { c.OperatorToken = "printed" })
		ctx := context.Background()
		const secret = "ush_operator-console-test-secret"
		if err := w.srv.apiTokens.EnsureBootstrapToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
		op := w.browser(t)
		p := op.get("/operator/")
		wantPage(t, p, 200, "Operators", `name="token"`, "Sign in with an operator API token: on a first install, the one usher printed when it started.")
		if strings.Contains(p.body, "USHER_BOOTSTRAP_OPERATOR_TOKEN") {
			t.Fatal("the operators' sign-in names USHER_BOOTSTRAP_OPERATOR_TOKEN, which was not set")
		}
		wantPage(t, op.post("/operator/signin", "token", "ush_wrong"), 401, "not a valid operator token")
		// A tenant's token is not an operator's.
		_, tenantSecret, err := w.srv.apiTokens.CreateToken(ctx, opActor, w.tenant, apitoken.TokenInput{Name: "hr", Role: usher.AdminTenant})
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, op.post("/operator/signin", "token", tenantSecret), 401, "not a valid operator token")
		p = op.post("/operator/signin", "token", secret)
		wantPage(t, p, 200, "Tenants", "Acme", "Standard: 0/50", "signed in with the operator token printed at start",
			// Without a base domain, where a new tenant is reached is said as it is.
			"acme is reached at "+w.url+"/t/acme/")
		if strings.Contains(p.body, "USHER_BOOTSTRAP_OPERATOR_TOKEN") || strings.Contains(p.body, "base domain") {
			t.Fatalf("the operators' console speaks of what is not configured:\n%s", p.body)
		}
		if c := op.cookie("usher_operator"); c != nil {
			t.Fatal("the operator cookie is sent outside /operator/")
		}
		wantPage(t, op.post("/operator/tenants", "name", "Beta", "slug", "Not A Slug"), 422, `id="slug-error"`)
		p = op.post("/operator/tenants", "name", "Beta Corp", "slug", "beta", "template", "frontline")
		wantPage(t, p, 200, "Beta Corp was created", "No plans yet")
		wantPage(t, op.post("/operator/tenants/beta/plans", "name", "Basic", "seats", "x"), 422, "whole number")
		p = op.post("/operator/tenants/beta/plans", "name", "Basic", "seats", "1")
		wantPage(t, p, 200, "Basic has 1 seat.", "basic")
		beta, err := w.st.Read().TenantBySlug(ctx, "beta")
		if err != nil {
			t.Fatal(err)
		}
		plans, _, _ := w.st.Read().Plans(ctx, beta.ID, true, store.ListOptions{})
		set := beta.Settings
		set.DefaultPlanID, set.RequiredFields = plans[0].ID, []string{usher.FieldFirstName}
		if beta, err = w.svc.UpdateTenant(ctx, opActor, beta.ID, provision.TenantUpdate{Settings: &set}); err != nil {
			t.Fatal(err)
		}
		w.activeUser(t, beta, "Bea", "bea@beta.example", "beas own passphrase")
		// Fewer seats than are used is refused, next to that plan's seats.
		wantPage(t, op.post("/operator/tenants/beta/plans/"+plans[0].ID, "seats", "0"), 409, "seats-"+plans[0].ID)
		wantPage(t, op.post("/operator/tenants/beta/plans/"+plans[0].ID, "seats", "5"), 200, "Basic has 5 seats")
		// Granting tenant-administrator rights: Bea then reaches Beta's settings.
		wantPage(t, op.post("/operator/tenants/beta/admins", "identifier", "nobody@beta.example"), 422, "No account of Beta Corp")
		wantPage(t, op.post("/operator/tenants/beta/admins", "identifier", "BEA@beta.example"), 200, "bea@beta.example is now a tenant administrator")
		bea := w.browser(t)
		bea.signIn("beta", "bea@beta.example", "beas own passphrase")
		wantPage(t, bea.get("/t/beta/admin/settings"), 200, "Settings")
		acct, _ := w.st.Read().AccountByLogin(ctx, beta.ID, "bea@beta.example")
		wantPage(t, op.post("/operator/tenants/beta/admins/"+acct.ID+"/remove"), 200, "no longer a tenant administrator")
		wantPage(t, bea.get("/t/beta/admin/settings"), 403)
		// Revoking the token ends the operator session.
		tok, err := w.srv.apiTokens.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.srv.apiTokens.RevokeToken(ctx, opActor, usher.Tenant{}, tok.ID); err != nil {
			t.Fatal(err)
		}
		wantPage(t, op.get("/operator/"), 200, `name="token"`)
	})
}

// TestConsoleSaysWhatBecameOfMessages: a new account's message is queued
// when a provider delivers its channel, and kept under Messages when none
// does; neither is told to have gone out.
func TestConsoleSaysWhatBecameOfMessages(t *testing.T) {
	onEachDatabaseOpen(t, func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
		for _, tc := range []struct {
			channels           []string
			form, notice, hint string
			list, notList      string
		}{
			{nil, "Their activation message is kept under",
				"Grace Hopper was created; an invitation is kept under Messages for grace@example.com (no email provider is configured, so nothing is sent).",
				"Not sent: no email provider is configured", "kept here: no email provider", ""},
			{[]string{usher.ChannelEmail}, "They get an activation message.",
				"Grace Hopper was created; an invitation is queued to go out by email to grace@example.com.",
				"Not delivered yet: it goes out by email", "queued", "kept here"},
		} {
			w := newSigninWorld(t, open, func(c *Config) { c.Channels = tc.channels })
			b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")
			wantPage(t, b.get("/t/acme/admin/users/new"), 200, tc.form)
			p := b.post("/t/acme/admin/users/new", "first_name", "Grace", "last_name", "Hopper", "email", "grace@example.com")
			wantPage(t, p, 200, tc.notice)
			if strings.Contains(p.body, "went out") {
				t.Fatalf("the console says a queued message went out:\n%s", p.body)
			}
			p = b.get("/t/acme/admin/messages?kind=invitation")
			wantPage(t, p, 200, "grace@example.com", "Invitation", tc.list)
			if tc.notList != "" && strings.Contains(p.body, tc.notList) {
				t.Fatalf("the list of messages says %q with a provider for the channel", tc.notList)
			}
			mid := regexp.MustCompile(`/admin/messages/([0-9a-f-]{36})`).FindStringSubmatch(p.body)
			wantPage(t, b.get("/t/acme/admin/messages/"+mid[1]), 200, tc.hint, "<dd>English</dd>")
		}
	})
}
