package web

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/web/api"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
)

const v1 = "/api/v1"

// TestAPIWorkflow walks the admin API end to end, as its users do: an
// operator sets up a tenant, a user administrator provisions people, and
// every change shows in the lists, the outbox and the audit log.
func TestAPIWorkflow(t *testing.T) {
	onEachDatabase(t, testWorkflow)
}

// ids of the catalogue entries and plans a workflow creates.
type world struct {
	acme, globex   usher.Tenant
	std, tiny      usher.Plan
	attrs          map[string]usher.Attribute // by kind
	spare          map[string]usher.Attribute // a second entry by kind, to deactivate
	internal       usher.Organization
	partner, site  usher.Organization
	tenantAdmin    api.CreatedToken
	userAdmin      api.CreatedToken
	globexUserAdm  api.CreatedToken
	globexPlan     usher.Plan
	globexSite     usher.Organization
	globexPerson   usher.Person
	globexAccount  provision.Created
	globexRole     usher.Attribute
	globexInternal usher.Organization
}

func recent(t testing.TB, what string, at time.Time, since time.Time) {
	t.Helper()
	if at.Before(since.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("%s is %v, not the time of the request (%v..now)", what, at, since)
	}
}

// setUp is the operator's part: two tenants with plans, catalogues,
// organizations and tokens. It checks every answer on the way.
func setUp(t *testing.T, e *apiEnv) *world {
	t.Helper()
	op, w := e.op, &world{attrs: map[string]usher.Attribute{}, spare: map[string]usher.Attribute{}}
	start := time.Now()

	// A fresh server has no tenant: an empty list is [], not null, and has no next page.
	r := e.call(t, "GET", v1+"/tenants", op, nil)
	if got := ok[api.Page[usher.Tenant]](t, r, 200); len(got.Items) != 0 || got.Next != "" || !bytes.Contains(r.Body, []byte(`"items":[]`)) {
		t.Fatalf("tenants of a fresh server: %s", r)
	}

	w.acme = post[usher.Tenant](t, e, op, v1+"/tenants", obj{"slug": "acme", "name": "  Acme Corp "}, 201)
	if w.acme.ID == "" || w.acme.Slug != "acme" || w.acme.Name != "Acme Corp" || w.acme.DeactivatedAt != nil ||
		!reflect.DeepEqual(w.acme.Settings, usher.DefaultSettings(usher.TemplateStandard)) {
		t.Fatalf("created tenant: %+v", w.acme)
	}
	recent(t, "created_at", w.acme.CreatedAt, start)
	w.globex = post[usher.Tenant](t, e, op, v1+"/tenants", obj{"slug": "globex", "name": "Globex", "template": "frontline"}, 201)
	if !reflect.DeepEqual(w.globex.Settings, usher.DefaultSettings(usher.TemplateFrontline)) {
		t.Fatalf("a frontline tenant's settings: %+v", w.globex.Settings)
	}
	if got := get[usher.Tenant](t, e, op, v1+"/tenants/acme"); !reflect.DeepEqual(got, w.acme) {
		t.Fatalf("read back:\n%+v\ncreated:\n%+v", got, w.acme)
	}
	if got := get[api.Page[usher.Tenant]](t, e, op, v1+"/tenants"); len(got.Items) != 2 || got.Items[0].ID != w.acme.ID || got.Items[1].ID != w.globex.ID {
		t.Fatalf("tenants in creation order: %+v", got)
	}

	// The tenant's own organization comes with it.
	internal := get[api.Page[usher.Organization]](t, e, op, v1+"/tenants/acme/organizations?kind=internal")
	if len(internal.Items) != 1 || internal.Items[0].Name != "Acme Corp" || internal.Items[0].ParentID != "" {
		t.Fatalf("internal organization: %+v", internal)
	}
	w.internal = internal.Items[0]

	// Plans with seats (operators).
	w.std = post[usher.Plan](t, e, op, v1+"/tenants/acme/plans", obj{"key": "std", "name": "Standard", "seats": 4}, 201)
	if w.std.Key != "std" || w.std.Name != "Standard" || w.std.Seats != 4 || w.std.SeatsUsed != 0 {
		t.Fatalf("plan: %+v", w.std)
	}
	w.tiny = post[usher.Plan](t, e, op, v1+"/tenants/acme/plans", obj{"key": "tiny", "name": "Tiny", "seats": 1}, 201)
	w.globexPlan = post[usher.Plan](t, e, op, v1+"/tenants/globex/plans", obj{"key": "std", "name": "Standard", "seats": 5}, 201)

	// Catalogues.
	for _, kind := range []string{usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup} {
		a := post[usher.Attribute](t, e, op, v1+"/tenants/acme/"+kind, obj{"key": "main", "name": "Main " + kind, "description": "the " + kind}, 201)
		if a.ID == "" || a.Key != "main" || a.Name != "Main "+kind || a.Description != "the "+kind || a.DeactivatedAt != nil {
			t.Fatalf("%s: %+v", kind, a)
		}
		w.attrs[kind] = a
		w.spare[kind] = post[usher.Attribute](t, e, op, v1+"/tenants/acme/"+kind, obj{"key": "spare", "name": "Spare"}, 201)
		if got := get[usher.Attribute](t, e, op, v1+"/tenants/acme/"+kind+"/"+a.ID); !reflect.DeepEqual(got, a) {
			t.Fatalf("%s read back: %+v, created %+v", kind, got, a)
		}
	}
	w.globexRole = post[usher.Attribute](t, e, op, v1+"/tenants/globex/roles", obj{"key": "main", "name": "Main"}, 201)

	// An external organization and a site of it.
	w.partner = post[usher.Organization](t, e, op, v1+"/tenants/acme/organizations", obj{"name": "Partner BV"}, 201)
	if w.partner.Kind != usher.OrgExternal || w.partner.ParentID != "" || w.partner.Name != "Partner BV" {
		t.Fatalf("organization: %+v", w.partner)
	}
	w.site = post[usher.Organization](t, e, op, v1+"/tenants/acme/organizations", obj{"name": "Partner Amsterdam", "parent_id": w.partner.ID}, 201)
	if w.site.Kind != usher.OrgExternal || w.site.ParentID != w.partner.ID {
		t.Fatalf("site: %+v", w.site)
	}
	gi := get[api.Page[usher.Organization]](t, e, op, v1+"/tenants/globex/organizations")
	if len(gi.Items) != 1 {
		t.Fatalf("globex organizations: %+v", gi)
	}
	w.globexInternal = gi.Items[0]
	w.globexSite = post[usher.Organization](t, e, op, v1+"/tenants/globex/organizations", obj{"name": "Globex Site", "parent_id": w.globexInternal.ID}, 201)
	if w.globexSite.Kind != usher.OrgInternal {
		t.Fatalf("a site of the internal organization is internal: %+v", w.globexSite)
	}

	// Tokens: the operator gives acme a tenant administrator and a user administrator.
	w.tenantAdmin = post[api.CreatedToken](t, e, op, v1+"/tenants/acme/tokens", obj{"name": "acme admin", "role": usher.AdminTenant}, 201)
	w.userAdmin = post[api.CreatedToken](t, e, op, v1+"/tenants/acme/tokens", obj{"name": "acme helpdesk", "role": usher.AdminUser}, 201)
	w.globexUserAdm = post[api.CreatedToken](t, e, op, v1+"/tenants/globex/tokens", obj{"name": "globex helpdesk", "role": usher.AdminUser}, 201)
	for _, tok := range []api.CreatedToken{w.tenantAdmin, w.userAdmin, w.globexUserAdm} {
		if !strings.HasPrefix(tok.Secret, "ush_") || len(tok.Secret) < 40 || tok.ID == "" || tok.RevokedAt != nil {
			t.Fatalf("created token: %+v", tok)
		}
	}
	if w.userAdmin.Role != usher.AdminUser || w.userAdmin.Name != "acme helpdesk" {
		t.Fatalf("user administrator token: %+v", w.userAdmin)
	}

	// The tenant administrator sets the default plan; settings are replaced whole.
	set := w.acme.Settings
	set.DefaultPlanID = w.std.ID
	set.ContactRoles = append(set.ContactRoles, "Sales")
	w.acme = patch[usher.Tenant](t, e, w.tenantAdmin.Secret, v1+"/tenants/acme", obj{"settings": set})
	if !reflect.DeepEqual(w.acme.Settings, set) {
		t.Fatalf("settings after PATCH: %+v, want %+v", w.acme.Settings, set)
	}
	// Globex (frontline) needs a default plan and more for its users.
	gset := w.globex.Settings
	gset.DefaultPlanID, gset.DefaultRoleID = w.globexPlan.ID, w.globexRole.ID
	gset.RequiredFields = []string{usher.FieldFirstName, usher.FieldLastName, usher.FieldLogin}
	w.globex = patch[usher.Tenant](t, e, op, v1+"/tenants/globex", obj{"settings": gset})

	// Globex gets a person with an account, to be looked for from acme later.
	w.globexAccount = post[provision.Created](t, e, w.globexUserAdm.Secret, v1+"/tenants/globex/accounts",
		obj{"first_name": "Gil", "last_name": "Globex", "email": "gil@globex.example"}, 201)
	w.globexPerson = w.globexAccount.Person
	return w
}

func testWorkflow(t *testing.T, e *apiEnv) {
	w := setUp(t, e)
	op, ua, ta := e.op, w.userAdmin.Secret, w.tenantAdmin.Secret
	acme := v1 + "/tenants/acme"
	start := time.Now()

	// A user administrator reads the tenant and the catalogues.
	if got := get[usher.Tenant](t, e, ua, acme); got.ID != w.acme.ID || got.Settings.DefaultPlanID != w.std.ID {
		t.Fatalf("tenant as read by its user administrator: %+v", got)
	}
	if got := get[api.Page[usher.Attribute]](t, e, ua, acme+"/roles"); len(got.Items) != 2 {
		t.Fatalf("roles: %+v", got)
	}

	// New employee, without an account.
	ada := post[usher.Person](t, e, ua, acme+"/persons", obj{"first_name": " Ada ", "last_name": "Lovelace", "email": "ADA@Example.COM ",
		"department_id": w.attrs[usher.KindDepartment].ID, "job_profile_id": w.attrs[usher.KindJobProfile].ID, "external_id": "E-1"}, 201)
	if ada.ID == "" || ada.FirstName != "Ada" || ada.Email != "ada@example.com" || ada.OrganizationID != w.internal.ID ||
		ada.DepartmentID != w.attrs[usher.KindDepartment].ID || ada.ExternalID != "E-1" {
		t.Fatalf("person: %+v", ada)
	}
	recent(t, "person created_at", ada.CreatedAt, start)
	if got := get[usher.Person](t, e, ua, acme+"/persons/"+ada.ID); !reflect.DeepEqual(got, ada) {
		t.Fatalf("person read back: %+v\ncreated: %+v", got, ada)
	}
	wantProblem(t, e.call(t, "GET", acme+"/persons/"+ada.ID+"/account", ua, nil), 404, "not_found", "person_id")

	// "Create user account" for her, choosing the authentication system.
	adaC := post[provision.Created](t, e, ua, acme+"/persons/"+ada.ID+"/account", obj{"auth_system": "password",
		"role_id": w.attrs[usher.KindRole].ID, "plan_id": w.std.ID, "group_ids": []string{w.attrs[usher.KindGroup].ID}}, 201)
	adaAcct := adaC.Account
	if adaC.Person.ID != ada.ID || adaAcct.PersonID != ada.ID || adaAcct.State != usher.StateInvited || adaAcct.Invitation != usher.InvitationPending ||
		adaAcct.AuthSystem != usher.AuthPassword || adaAcct.Email != "ada@example.com" || adaAcct.RoleID != w.attrs[usher.KindRole].ID ||
		adaAcct.PlanID != w.std.ID || !slices.Equal(adaAcct.GroupIDs, []string{w.attrs[usher.KindGroup].ID}) || adaAcct.Language != "en" {
		t.Fatalf("account for person: %+v", adaC)
	}
	if adaAcct.InviteExpiresAt == nil || adaAcct.InviteExpiresAt.Sub(start) < 7*24*time.Hour-time.Minute || adaAcct.InviteExpiresAt.Sub(start) > 7*24*time.Hour+time.Minute {
		t.Fatalf("the invitation should last the tenant's 7 days: %v", adaAcct.InviteExpiresAt)
	}
	if len(adaC.Messages) != 1 {
		t.Fatalf("one invitation by email (SMS is off): %+v", adaC.Messages)
	}
	// The creation answers with the message queued; its text is written
	// out when it is sent or read.
	m := adaC.Messages[0]
	if m.Kind != provision.KindInvitation || m.Channel != usher.ChannelEmail || m.To != "ada@example.com" || m.AccountID != adaAcct.ID ||
		m.Body != "" || m.State != usher.MessageQueued {
		t.Fatalf("invitation: %+v", m)
	}
	if m = get[usher.Message](t, e, ua, acme+"/messages/"+m.ID); !strings.Contains(m.Subject, "Acme Corp") ||
		!strings.Contains(m.Body, e.url+"/t/acme/activate/") || !strings.Contains(m.HTML, e.url+"/t/acme/activate/") || m.State != usher.MessageQueued {
		t.Fatalf("invitation read back: %+v", m)
	}
	if got := get[usher.Account](t, e, ua, acme+"/persons/"+ada.ID+"/account"); got.ID != adaAcct.ID || got.State != usher.StateInvited {
		t.Fatalf("account of the person: %+v", got)
	}
	// (The sub-microsecond part of invite_expires_at differs on PostgreSQL: see TestKnownBugs/expiry_precision.)
	if got := get[usher.Account](t, e, ua, acme+"/accounts/"+adaAcct.ID); !reflect.DeepEqual(micro(got), micro(adaAcct)) {
		t.Fatalf("account read back:\n%+v\ncreated:\n%+v", got, adaAcct)
	}
	// A second account for the same person is a conflict.
	wantProblem(t, e.call(t, "POST", acme+"/persons/"+ada.ID+"/account", ua, obj{"auth_system": "password"}), 409, "conflict", "person_id")

	// A user in one step: the person's and the account's fields side by side.
	bobC := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "Bob", "last_name": "Byte", "email": "bob@example.com",
		"phone": "+31 6 1234 5678", "username": "Bob.Byte", "role_id": w.attrs[usher.KindRole].ID, "primary_group_id": w.attrs[usher.KindGroup].ID,
		"group_ids": []string{w.attrs[usher.KindGroup].ID, w.spare[usher.KindGroup].ID}, "language": "nl"}, 201)
	bob, bobAcct := bobC.Person, bobC.Account
	if bob.ID == "" || bob.FirstName != "Bob" || bob.Email != "bob@example.com" || bob.Phone != "+31612345678" || bob.OrganizationID != w.internal.ID ||
		bob.Language != "nl" {
		t.Fatalf("new user's person: %+v", bob)
	}
	if bobAcct.PersonID != bob.ID || bobAcct.Username != "Bob.Byte" || bobAcct.Phone != "+31612345678" || bobAcct.PlanID != w.std.ID ||
		bobAcct.PrimaryGroupID != w.attrs[usher.KindGroup].ID || !slices.Equal(bobAcct.GroupIDs, []string{w.spare[usher.KindGroup].ID}) ||
		bobAcct.Language != "nl" || bobAcct.AuthSystem != usher.AuthPassword {
		t.Fatalf("new user's account (default plan, primary group out of the other groups): %+v", bobAcct)
	}
	if len(bobC.Messages) != 1 || bobC.Messages[0].To != "bob@example.com" || bobC.Messages[0].AccountID != bobAcct.ID {
		t.Fatalf("new user's invitation: %+v", bobC.Messages)
	}
	if got := get[usher.Plan](t, e, ua, acme+"/plans/"+w.std.ID); got.SeatsUsed != 2 || got.Seats != 4 {
		t.Fatalf("two seats of std are taken: %+v", got)
	}

	// A contact of the partner, related to its site: the first relationship
	// gives them an account and sends the welcome message.
	carol := post[usher.Person](t, e, ua, acme+"/persons", obj{"organization_id": w.partner.ID, "first_name": "Carol", "last_name": "Contact",
		"email": "carol@partner.example"}, 201)
	if carol.OrganizationID != w.partner.ID {
		t.Fatalf("contact: %+v", carol)
	}
	rel := put[provision.Related](t, e, ua, acme+"/organizations/"+w.site.ID+"/relationships/"+carol.ID, obj{"roles": []string{"Technical", "Primary"}})
	if rel.Relationship.SiteID != w.site.ID || rel.Relationship.PersonID != carol.ID || !slices.Equal(rel.Relationship.Roles, []string{"Primary", "Technical"}) {
		t.Fatalf("relationship: %+v", rel.Relationship)
	}
	if rel.Account == nil || rel.Account.PersonID != carol.ID || rel.Account.State != usher.StateInvited || rel.Account.AuthSystem != usher.AuthPassword ||
		rel.Account.PlanID != w.std.ID || rel.Account.Email != "carol@partner.example" {
		t.Fatalf("the first relationship creates the account: %+v", rel.Account)
	}
	if len(rel.Messages) != 1 || rel.Messages[0].Kind != provision.KindWelcome || rel.Messages[0].To != "carol@partner.example" {
		t.Fatalf("the first relationship sends the welcome message: %+v", rel.Messages)
	}
	carolAcct := *rel.Account
	// The welcome message is in the outbox, with its link.
	welcome := get[api.Page[usher.Message]](t, e, ua, acme+"/messages?kind=welcome")
	if len(welcome.Items) != 1 || welcome.Items[0].ID != rel.Messages[0].ID || welcome.Items[0].AccountID != carolAcct.ID ||
		!strings.Contains(welcome.Items[0].Subject, "Acme Corp") || welcome.Items[0].Channel != usher.ChannelEmail {
		t.Fatalf("welcome messages: %+v", welcome)
	}
	if got := get[usher.Message](t, e, ua, acme+"/messages/"+rel.Messages[0].ID); !strings.Contains(got.Body, "Carol") ||
		!strings.Contains(got.Body, e.url+"/t/acme/activate/") {
		t.Fatalf("welcome message: %+v", got)
	}
	if got := get[api.Page[usher.Message]](t, e, ua, acme+"/messages?account_id="+carolAcct.ID+"&channel=email&state=queued"); len(got.Items) != 1 {
		t.Fatalf("carol's messages: %+v", got)
	}
	listed := get[api.Page[usher.Message]](t, e, ua, acme+"/messages")
	if len(listed.Items) != 3 || listed.Items[0].ID != rel.Messages[0].ID {
		t.Fatalf("three messages so far (ada, bob, carol), carol's first: %+v", listed)
	}
	// A list carries the plain text with its link, not the HTML email; one message has both.
	for _, m := range listed.Items {
		if m.HTML != "" || !strings.Contains(m.Body, e.url+"/t/acme/") {
			t.Fatalf("a listed message: html %d bytes, body %q", len(m.HTML), m.Body)
		}
	}
	if m := get[usher.Message](t, e, ua, acme+"/messages/"+rel.Messages[0].ID); !strings.Contains(m.HTML, "<html") {
		t.Fatalf("one message without its HTML: %+v", m)
	}
	if got := get[api.Page[usher.Message]](t, e, ua, acme+"/messages?order=oldest"); len(got.Items) != 3 || got.Items[2].ID != rel.Messages[0].ID {
		t.Fatalf("messages oldest first: %+v", got)
	}
	// Primary is held once per site: a second Primary contact is refused, and creates no account.
	dave := post[usher.Person](t, e, ua, acme+"/persons", obj{"organization_id": w.partner.ID, "first_name": "Dave", "last_name": "Deal",
		"email": "dave@partner.example"}, 201)
	wantProblem(t, e.call(t, "PUT", acme+"/organizations/"+w.site.ID+"/relationships/"+dave.ID, ua, obj{"roles": []string{"Primary"}}), 409, "conflict", "roles")
	wantProblem(t, e.call(t, "GET", acme+"/persons/"+dave.ID+"/account", ua, nil), 404, "not_found", "person_id")
	wantProblem(t, e.call(t, "PUT", acme+"/organizations/"+w.site.ID+"/relationships/"+dave.ID, ua, obj{"roles": []string{"Chief"}}), 422, "invalid", "roles[0]")
	wantProblem(t, e.call(t, "PUT", acme+"/organizations/"+w.site.ID+"/relationships/"+dave.ID, ua, obj{"roles": []string{}}), 422, "invalid", "roles")
	daveRel := put[provision.Related](t, e, ua, acme+"/organizations/"+w.site.ID+"/relationships/"+dave.ID, obj{"roles": []string{"Sales"}})
	if daveRel.Account == nil || len(daveRel.Messages) != 1 {
		t.Fatalf("dave's first relationship: %+v", daveRel)
	}
	// Later relationships send nothing.
	again := put[provision.Related](t, e, ua, acme+"/organizations/"+w.site.ID+"/relationships/"+carol.ID, obj{"roles": []string{"Primary", "Billing"}})
	if again.Account != nil || len(again.Messages) != 0 || !slices.Equal(again.Relationship.Roles, []string{"Billing", "Primary"}) {
		t.Fatalf("a later relationship: %+v", again)
	}
	if got := get[api.Page[usher.Message]](t, e, ua, acme+"/messages?kind=welcome"); len(got.Items) != 2 {
		t.Fatalf("welcome messages after a later relationship: %+v", got)
	}
	siteRels := get[api.List[usher.Relationship]](t, e, ua, acme+"/organizations/"+w.site.ID+"/relationships")
	if len(siteRels.Items) != 2 || siteRels.Items[0].SiteID != w.site.ID {
		t.Fatalf("the site's contacts: %+v", siteRels)
	}
	if got := get[api.List[usher.Relationship]](t, e, ua, acme+"/persons/"+carol.ID+"/relationships"); len(got.Items) != 1 ||
		!slices.Equal(got.Items[0].Roles, []string{"Billing", "Primary"}) {
		t.Fatalf("carol's sites: %+v", got)
	}

	// More people, for paging.
	var extra []usher.Person
	for i := range 5 {
		extra = append(extra, post[usher.Person](t, e, ua, acme+"/persons", obj{"first_name": fmt.Sprintf("Extra%d", i), "last_name": "Person"}, 201))
	}
	all := get[api.Page[usher.Person]](t, e, ua, acme+"/persons?limit=500")
	wantIDs := []string{ada.ID, bob.ID, carol.ID, dave.ID}
	for _, p := range extra {
		wantIDs = append(wantIDs, p.ID)
	}
	if got := personIDs(all.Items); !slices.Equal(got, wantIDs) || all.Next != "" {
		t.Fatalf("persons in creation order:\n%v\nwant\n%v (next %q)", got, wantIDs, all.Next)
	}
	for _, limit := range []int{1, 2, 4, 9, 10} {
		var walked []string
		pages, after := 0, ""
		for {
			path := fmt.Sprintf("%s/persons?limit=%d", acme, limit)
			if after != "" {
				path += "&after=" + after
			}
			pg := get[api.Page[usher.Person]](t, e, ua, path)
			pages++
			if len(pg.Items) > limit || (pg.Next != "" && len(pg.Items) != limit) {
				t.Fatalf("limit %d: page of %d with next %q", limit, len(pg.Items), pg.Next)
			}
			walked = append(walked, personIDs(pg.Items)...)
			if pg.Next == "" {
				break
			}
			if pg.Next != pg.Items[len(pg.Items)-1].ID {
				t.Fatalf("next is the last id of the page: %q", pg.Next)
			}
			after = pg.Next
			if pages > 20 {
				t.Fatal("paging does not end")
			}
		}
		if !slices.Equal(walked, wantIDs) {
			t.Fatalf("limit %d: walked %v, want %v", limit, walked, wantIDs)
		}
		if want := (len(wantIDs) + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages for %d persons", limit, pages, len(wantIDs))
		}
	}
	// Filters.
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"name=lov", []string{ada.ID}},
		{"name=LOVE", []string{ada.ID}},
		{"name=extra&limit=2", []string{extra[0].ID, extra[1].ID}},
		{"name=%25", nil}, // a LIKE wildcard is taken literally
		{"email=ADA@example.com", []string{ada.ID}},
		{"external_id=E-1", []string{ada.ID}},
		{"department_id=" + w.attrs[usher.KindDepartment].ID, []string{ada.ID}},
		{"job_profile_id=" + w.attrs[usher.KindJobProfile].ID, []string{ada.ID}},
		{"organization_id=" + w.partner.ID, []string{carol.ID, dave.ID}},
		{"organization_id=" + w.partner.ID + "&name=dav", []string{dave.ID}},
		{"active=true&organization_id=" + w.internal.ID + "&limit=2", []string{ada.ID, bob.ID}},
	} {
		if got := personIDs(get[api.Page[usher.Person]](t, e, ua, acme+"/persons?"+c.query).Items); !slices.Equal(got, c.want) {
			t.Errorf("persons?%s: %v, want %v", c.query, got, c.want)
		}
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"login=BOB.BYTE", []string{bobAcct.ID}},
		{"login=bob@EXAMPLE.com", []string{bobAcct.ID}},
		{"login=%2B31%206%201234%205678", []string{bobAcct.ID}},
		{"login=nobody", nil},
		{"state=invited", []string{adaAcct.ID, bobAcct.ID, carolAcct.ID, daveRel.Account.ID}},
		{"state=active", nil},
		{"invitation=pending&limit=1", []string{adaAcct.ID}},
		{"role_id=" + w.attrs[usher.KindRole].ID, []string{adaAcct.ID, bobAcct.ID}},
		{"group_id=" + w.attrs[usher.KindGroup].ID, []string{adaAcct.ID, bobAcct.ID}}, // bob's is his primary group
		{"group_id=" + w.spare[usher.KindGroup].ID, []string{bobAcct.ID}},
		{"plan_id=" + w.std.ID, []string{adaAcct.ID, bobAcct.ID, carolAcct.ID, daveRel.Account.ID}},
		{"plan_id=" + w.tiny.ID, nil},
		{"auth_system=password&organization_id=" + w.partner.ID, []string{carolAcct.ID, daveRel.Account.ID}},
		{"admin_role=user_administrator", nil},
	} {
		if got := accountIDs(get[api.Page[usher.Account]](t, e, ua, acme+"/accounts?"+c.query).Items); !slices.Equal(got, c.want) {
			t.Errorf("accounts?%s: %v, want %v", c.query, got, c.want)
		}
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"kind=external", []string{w.partner.ID, w.site.ID}},
		{"parent_id=" + w.partner.ID, []string{w.site.ID}},
		{"parent_id=-", []string{w.internal.ID, w.partner.ID}},
		{"name=partner%20a", []string{w.site.ID}},
	} {
		got := get[api.Page[usher.Organization]](t, e, ua, acme+"/organizations?"+c.query).Items
		var ids []string
		for _, o := range got {
			ids = append(ids, o.ID)
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("organizations?%s: %v, want %v", c.query, ids, c.want)
		}
	}

	// PATCH and DELETE, for every kind of object.

	// Tenant: name and settings by its administrator; deactivation is the operator's.
	renamed := patch[usher.Tenant](t, e, ta, acme, obj{"name": "Acme Inc"})
	if renamed.Name != "Acme Inc" || !reflect.DeepEqual(renamed.Settings, w.acme.Settings) {
		t.Fatalf("renamed tenant: %+v", renamed)
	}
	if got := get[usher.Tenant](t, e, ua, acme); got.Name != "Acme Inc" {
		t.Fatalf("the rename is seen at once (the tenant cache is cleared): %+v", got)
	}
	wantProblem(t, e.call(t, "PATCH", acme, ta, obj{"deactivated": true}), 403, "forbidden", "")
	post[usher.Tenant](t, e, op, v1+"/tenants", obj{"slug": "initech", "name": "Initech"}, 201)
	if got := patch[usher.Tenant](t, e, op, v1+"/tenants/initech", obj{"deactivated": true}); got.DeactivatedAt == nil {
		t.Fatalf("deactivated tenant: %+v", got)
	}
	if got := patch[usher.Tenant](t, e, op, v1+"/tenants/initech", obj{"deactivated": false}); got.DeactivatedAt != nil {
		t.Fatalf("reactivated tenant: %+v", got)
	}

	// Plans (operators): more seats, fewer than used is refused, deactivate.
	if got := patch[usher.Plan](t, e, op, acme+"/plans/"+w.std.ID, obj{"name": "Standard+", "seats": 6}); got.Seats != 6 || got.SeatsUsed != 4 || got.Name != "Standard+" {
		t.Fatalf("plan with more seats: %+v", got)
	}
	wantProblem(t, e.call(t, "PATCH", acme+"/plans/"+w.std.ID, op, obj{"seats": 3}), 409, "conflict", "seats")
	wantProblem(t, e.call(t, "PATCH", acme+"/plans/"+w.std.ID, op, obj{"key": "other"}), 422, "invalid", "key")
	if got := del[usher.Plan](t, e, op, acme+"/plans/"+w.tiny.ID); got.DeactivatedAt == nil || got.ID != w.tiny.ID {
		t.Fatalf("deactivated plan: %+v", got)
	}
	if got := get[api.Page[usher.Plan]](t, e, ua, acme+"/plans?active=true"); len(got.Items) != 1 || got.Items[0].ID != w.std.ID {
		t.Fatalf("active plans: %+v", got)
	}
	if got := get[api.Page[usher.Plan]](t, e, ua, acme+"/plans?limit=1"); len(got.Items) != 1 || got.Next != w.std.ID {
		t.Fatalf("plans, first page: %+v", got)
	}
	if got := get[api.Page[usher.Plan]](t, e, ua, acme+"/plans?limit=1&after="+w.std.ID); len(got.Items) != 1 || got.Items[0].ID != w.tiny.ID || got.Next != "" {
		t.Fatalf("plans, second page: %+v", got)
	}

	// Catalogues (tenant administrators): rename, describe, deactivate, list the active ones.
	for kind, a := range w.attrs {
		got := patch[usher.Attribute](t, e, ta, acme+"/"+kind+"/"+a.ID, obj{"name": "Renamed", "description": ""})
		if got.Name != "Renamed" || got.Description != "" || got.Key != "main" || got.DeactivatedAt != nil {
			t.Fatalf("%s after PATCH: %+v", kind, got)
		}
		wantProblem(t, e.call(t, "PATCH", acme+"/"+kind+"/"+a.ID, ta, obj{"key": "x"}), 422, "invalid", "key")
		wantProblem(t, e.call(t, "PATCH", acme+"/"+kind+"/"+a.ID, ta, obj{"name": ""}), 422, "invalid", "name")
		if got := del[usher.Attribute](t, e, ta, acme+"/"+kind+"/"+w.spare[kind].ID); got.DeactivatedAt == nil {
			t.Fatalf("%s deactivated: %+v", kind, got)
		}
		if got := get[api.Page[usher.Attribute]](t, e, ua, acme+"/"+kind+"?active=true"); len(got.Items) != 1 || got.Items[0].ID != a.ID {
			t.Fatalf("active %s: %+v", kind, got)
		}
		if got := get[api.Page[usher.Attribute]](t, e, ua, acme+"/"+kind); len(got.Items) != 2 {
			t.Fatalf("all %s: %+v", kind, got)
		}
	}
	// A deactivated catalogue entry cannot be given.
	wantProblem(t, e.call(t, "PATCH", acme+"/accounts/"+adaAcct.ID, ua, obj{"role_id": w.spare[usher.KindRole].ID}), 422, "invalid", "role_id")

	// Organizations: rename, deactivate; the tenant's own cannot be deactivated.
	if got := patch[usher.Organization](t, e, ua, acme+"/organizations/"+w.partner.ID, obj{"name": "Partner NV"}); got.Name != "Partner NV" || got.Kind != usher.OrgExternal {
		t.Fatalf("renamed organization: %+v", got)
	}
	wantProblem(t, e.call(t, "DELETE", acme+"/organizations/"+w.internal.ID, ua, nil), 422, "invalid", "deactivated")
	wantProblem(t, e.call(t, "PATCH", acme+"/organizations/"+w.partner.ID, ua, obj{"kind": "internal"}), 422, "invalid", "kind")

	// Relationships: remove one.
	if r := e.call(t, "DELETE", acme+"/organizations/"+w.site.ID+"/relationships/"+dave.ID, ua, nil); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("remove a relationship: %s", r)
	}
	wantProblem(t, e.call(t, "DELETE", acme+"/organizations/"+w.site.ID+"/relationships/"+dave.ID, ua, nil), 404, "not_found", "person_id")
	if got := get[api.List[usher.Relationship]](t, e, ua, acme+"/persons/"+dave.ID+"/relationships"); len(got.Items) != 0 {
		t.Fatalf("dave's relationships after removal: %+v", got)
	}
	site := del[usher.Organization](t, e, ua, acme+"/organizations/"+w.site.ID)
	if site.DeactivatedAt == nil {
		t.Fatalf("deactivated site: %+v", site)
	}
	wantProblem(t, e.call(t, "PUT", acme+"/organizations/"+w.site.ID+"/relationships/"+dave.ID, ua, obj{"roles": []string{"Sales"}}), 422, "invalid", "site_id")
	if got := get[api.Page[usher.Organization]](t, e, ua, acme+"/organizations?active=true"); len(got.Items) != 2 {
		t.Fatalf("active organizations: %+v", got)
	}
	if got := patch[usher.Organization](t, e, ua, acme+"/organizations/"+w.site.ID, obj{"deactivated": false}); got.DeactivatedAt != nil {
		t.Fatalf("reactivated site: %+v", got)
	}

	// Persons: change, deactivate (which deactivates the account and frees its seat).
	adaP := patch[usher.Person](t, e, ua, acme+"/persons/"+ada.ID, obj{"last_name": "King", "phone": "+44 20 7946 0000", "external_id": ""})
	if adaP.LastName != "King" || adaP.Phone != "+442079460000" || adaP.ExternalID != "" || adaP.FirstName != "Ada" || adaP.Email != "ada@example.com" {
		t.Fatalf("person after PATCH: %+v", adaP)
	}
	bobGone := del[usher.Person](t, e, ua, acme+"/persons/"+bob.ID)
	if bobGone.DeactivatedAt == nil {
		t.Fatalf("deactivated person: %+v", bobGone)
	}
	if got := get[usher.Account](t, e, ua, acme+"/accounts/"+bobAcct.ID); got.State != usher.StateDeactivated || got.DeactivatedAt == nil {
		t.Fatalf("a deactivated person's account: %+v", got)
	}
	if got := get[usher.Plan](t, e, ua, acme+"/plans/"+w.std.ID); got.SeatsUsed != 3 {
		t.Fatalf("bob's seat is free again: %+v", got)
	}
	if got := personIDs(get[api.Page[usher.Person]](t, e, ua, acme+"/persons?active=true&limit=3").Items); !slices.Equal(got, []string{ada.ID, carol.ID, dave.ID}) {
		t.Fatalf("active persons: %v", got)
	}

	// Accounts: identifiers, groups, state.
	adaA := patch[usher.Account](t, e, ua, acme+"/accounts/"+adaAcct.ID, obj{"username": "ada.k", "group_ids": []string{}, "role_id": "", "language": "de"})
	if adaA.Username != "ada.k" || len(adaA.GroupIDs) != 0 || adaA.RoleID != "" || adaA.Language != "de" || adaA.Email != "ada@example.com" {
		t.Fatalf("account after PATCH: %+v", adaA)
	}
	if got := accountIDs(get[api.Page[usher.Account]](t, e, ua, acme+"/accounts?login=ADA.K").Items); !slices.Equal(got, []string{adaAcct.ID}) {
		t.Fatalf("the new username signs in: %v", got)
	}
	// An invited account can be suspended (its invitation stops working) and
	// resumed (invited again, with a new invitation).
	if got := patch[usher.Account](t, e, ua, acme+"/accounts/"+adaAcct.ID, obj{"state": "suspended"}); got.State != usher.StateSuspended {
		t.Fatalf("suspend an invited account: %+v", got)
	}
	if got := patch[usher.Account](t, e, ua, acme+"/accounts/"+adaAcct.ID, obj{"state": "active"}); got.State != usher.StateInvited || got.Invitation != usher.InvitationPending {
		t.Fatalf("resume an invited account: %+v", got)
	}
	wantProblem(t, e.call(t, "PATCH", acme+"/accounts/"+adaAcct.ID, ua, obj{"state": "active"}), 409, "conflict", "state")
	wantProblem(t, e.call(t, "PATCH", acme+"/accounts/"+adaAcct.ID, ua, obj{"username": "carol@partner.example"}), 422, "invalid", "username")
	wantProblem(t, e.call(t, "PATCH", acme+"/accounts/"+adaAcct.ID, ua, obj{"email": "carol@partner.example"}), 409, "conflict", "email")
	adaD := del[usher.Account](t, e, ua, acme+"/accounts/"+adaAcct.ID)
	if adaD.State != usher.StateDeactivated || adaD.DeactivatedAt == nil {
		t.Fatalf("deactivated account: %+v", adaD)
	}
	if got := get[usher.Plan](t, e, ua, acme+"/plans/"+w.std.ID); got.SeatsUsed != 2 {
		t.Fatalf("ada's seat is free again: %+v", got)
	}
	if got := patch[usher.Account](t, e, ua, acme+"/accounts/"+adaAcct.ID, obj{"state": "active"}); got.State != usher.StateInvited || got.DeactivatedAt != nil {
		t.Fatalf("a reactivated account that never activated is invited again: %+v", got)
	}
	if got := get[usher.Plan](t, e, ua, acme+"/plans/"+w.std.ID); got.SeatsUsed != 3 {
		t.Fatalf("ada holds a seat again: %+v", got)
	}

	// Connections (tenant administrators): the client secret is write-only.
	conn := post[usher.Connection](t, e, ta, acme+"/connections", obj{"name": "Okta", "protocol": "oidc", "issuer": "https://acme.okta.example",
		"client_id": "usher", "client_secret": "s3cret", "domains": []string{"ACME.example", "acme.example"}}, 201)
	if conn.ID == "" || conn.ClientSecret != "" || !slices.Equal(conn.Domains, []string{"acme.example"}) || conn.Issuer != "https://acme.okta.example" {
		t.Fatalf("connection: %+v", conn)
	}
	if r := e.call(t, "GET", acme+"/connections/"+conn.ID, ua, nil); r.Status != 200 || bytes.Contains(r.Body, []byte("s3cret")) {
		t.Fatalf("a connection's secret is never shown: %s", r)
	}
	if r := e.call(t, "GET", acme+"/connections", ua, nil); r.Status != 200 || bytes.Contains(r.Body, []byte("s3cret")) {
		t.Fatalf("a connection's secret is never listed: %s", r)
	}
	conn.Name, conn.Enforced = "Okta SSO", true
	if got := put[usher.Connection](t, e, ta, acme+"/connections/"+conn.ID, writable(conn)); got.Name != "Okta SSO" || !got.Enforced || got.ID != conn.ID {
		t.Fatalf("replaced connection: %+v", got)
	}
	// An internal user now signs in with the connection.
	ed := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "Ed", "last_name": "Emp", "email": "ed@acme.example"}, 201)
	if ed.Account.AuthSystem != usher.AuthConnection || ed.Account.ConnectionID != conn.ID || len(ed.Messages) != 1 {
		t.Fatalf("an internal user of a tenant with SSO: %+v", ed)
	}
	if m := get[usher.Message](t, e, ua, acme+"/messages/"+ed.Messages[0].ID); !strings.Contains(m.Body, e.url+"/t/acme/") || strings.Contains(m.Body, "/activate/") {
		t.Fatalf("the message of an internal user of a tenant with SSO: %+v", m)
	}
	if got := del[usher.Connection](t, e, ta, acme+"/connections/"+conn.ID); got.DeactivatedAt == nil || got.ClientSecret != "" {
		t.Fatalf("deactivated connection: %+v", got)
	}
	if got := get[api.Page[usher.Connection]](t, e, ua, acme+"/connections?active=true"); len(got.Items) != 0 {
		t.Fatalf("active connections: %+v", got)
	}

	// Tokens: the tenant administrator makes and revokes a user administrator's token.
	extraTok := post[api.CreatedToken](t, e, ta, acme+"/tokens", obj{"name": "temp", "role": usher.AdminUser}, 201)
	toks := get[api.Page[usher.APIToken]](t, e, ta, acme+"/tokens")
	if len(toks.Items) != 3 || toks.Items[2].ID != extraTok.ID || toks.Items[2].Role != usher.AdminUser {
		t.Fatalf("tenant tokens: %+v", toks)
	}
	get[usher.Tenant](t, e, extraTok.Secret, acme)
	if r := e.call(t, "DELETE", acme+"/tokens/"+extraTok.ID, ta, nil); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("revoke a token: %s", r)
	}
	wantProblem(t, e.call(t, "GET", acme, extraTok.Secret, nil), 401, "unauthorized", "Authorization")
	wantProblem(t, e.call(t, "DELETE", acme+"/tokens/"+extraTok.ID, ta, nil), 404, "not_found", "token_id")
	// Operator tokens.
	opTok := post[api.CreatedToken](t, e, op, v1+"/tokens", obj{"name": "second operator", "role": usher.PrincipalOperator}, 201)
	if got := get[api.Page[usher.APIToken]](t, e, opTok.Secret, v1+"/tokens"); len(got.Items) != 2 ||
		!slices.ContainsFunc(got.Items, func(x usher.APIToken) bool { return x.ID == "bootstrap-operator" }) ||
		!slices.ContainsFunc(got.Items, func(x usher.APIToken) bool { return x.ID == opTok.ID && x.Role == usher.PrincipalOperator }) {
		t.Fatalf("operator tokens: %+v", got)
	}
	if r := e.call(t, "DELETE", v1+"/tokens/"+opTok.ID, op, nil); r.Status != 204 {
		t.Fatalf("revoke an operator token: %s", r)
	}
	wantProblem(t, e.call(t, "GET", v1+"/tokens", opTok.Secret, nil), 401, "unauthorized", "Authorization")

	// The audit log shows every change, newest first, with who made it and from where;
	// order=oldest reads it forward.
	newest := get[api.Page[usher.AuditEvent]](t, e, ua, acme+"/audit-events?limit=500").Items
	events := get[api.Page[usher.AuditEvent]](t, e, ua, acme+"/audit-events?limit=500&order=oldest").Items
	if len(newest) != len(events) || len(events) < 2 || newest[0].ID != events[len(events)-1].ID || newest[len(newest)-1].ID != events[0].ID {
		t.Fatalf("the audit log newest first is not the oldest first reversed: %d and %d events", len(newest), len(events))
	}
	for i := 1; i < len(newest); i++ {
		if newest[i].ID >= newest[i-1].ID {
			t.Fatalf("audit events not newest first at %d", i)
		}
	}
	wantProblem(t, e.call(t, "GET", acme+"/audit-events?order=sideways", ua, nil), 422, "invalid", "order")
	var actions []string
	for i, ev := range events {
		actions = append(actions, ev.Action)
		if i > 0 && ev.ID <= events[i-1].ID {
			t.Fatalf("audit events out of order at %d", i)
		}
		if ev.Source != "127.0.0.1" {
			t.Errorf("event %s from %q, want the client's address", ev.Action, ev.Source)
		}
	}
	for _, want := range [][]string{
		{"tenant.created", "plan.created", "plan.created", "roles.created", "roles.created", "departments.created"},
		{"token.created", "token.created", "tenant.updated", "person.created", "account.created", "account.created"},
		{"person.created", "relationship.saved", "account.created", "person.created", "relationship.saved", "account.created", "relationship.saved"},
		{"person.deactivated"}, {"account.updated", "account.deactivated", "account.updated", "account.invited"},
		{"connection.created", "connection.updated", "account.created", "connection.updated", "token.created", "token.revoked"},
	} {
		if !containsRun(actions, want) {
			t.Errorf("the audit log lacks %v:\n%v", want, actions)
		}
	}
	byAction := func(action string) []usher.AuditEvent {
		return get[api.Page[usher.AuditEvent]](t, e, ua, acme+"/audit-events?order=oldest&action="+action).Items
	}
	if evs := byAction("tenant.created"); len(evs) != 1 || evs[0].ActorKind != "operator" || evs[0].ActorID != "bootstrap-operator" ||
		evs[0].TargetID != w.acme.ID || evs[0].Details["slug"] != "acme" {
		t.Fatalf("tenant.created: %+v", evs)
	}
	if evs := byAction("person.created"); len(evs) != 8 || evs[0].ActorKind != "token" || evs[0].ActorID != w.userAdmin.ID || evs[0].TargetID != ada.ID {
		t.Fatalf("person.created: %+v", evs)
	}
	if evs := byAction("account."); len(evs) != 15 {
		t.Fatalf("account.* events (prefix filter): %d %+v", len(evs), evs)
	}
	adaEvents := get[api.Page[usher.AuditEvent]](t, e, ua, acme+"/audit-events?order=oldest&target_id="+adaAcct.ID).Items
	var adaActions []string
	for _, ev := range adaEvents {
		adaActions = append(adaActions, ev.Action)
	}
	if want := []string{"account.created", "account.updated", "account.updated", "account.suspended", "account.updated", "account.invited",
		"account.updated", "account.deactivated", "account.updated", "account.invited"}; !slices.Equal(adaActions, want) {
		t.Fatalf("ada's account history: %v, want %v", adaActions, want)
	}
	if got := byAction("account.created"); got[0].Details["route"] != provision.RouteAccountForPerson || got[0].Details["plan_id"] != w.std.ID ||
		got[1].Details["person_created"] != "true" || got[2].Details["route"] != "relationship" {
		t.Fatalf("account.created details: %+v", got)
	}
	if got := get[api.Page[usher.AuditEvent]](t, e, ua, acme+"/audit-events?actor_id="+w.tenantAdmin.ID).Items; len(got) == 0 {
		t.Fatal("no events by the tenant administrator")
	} else {
		for _, ev := range got {
			if ev.ActorID != w.tenantAdmin.ID || ev.ActorKind != "token" {
				t.Fatalf("actor filter: %+v", ev)
			}
		}
	}
	// Paging the audit log gives the same events, in either order.
	for order, listed := range map[string][]usher.AuditEvent{"newest": newest, "oldest": events} {
		var walked []string
		for after := ""; ; {
			pg := get[api.Page[usher.AuditEvent]](t, e, ua, acme+"/audit-events?limit=7&order="+order+"&after="+after)
			for _, ev := range pg.Items {
				walked = append(walked, ev.ID)
			}
			if after = pg.Next; after == "" {
				break
			}
		}
		if len(walked) != len(listed) || walked[0] != listed[0].ID || walked[len(walked)-1] != listed[len(listed)-1].ID {
			t.Fatalf("walked %d audit events %s first, listed %d", len(walked), order, len(listed))
		}
	}
	// Nothing of acme shows in globex's log.
	for _, ev := range get[api.Page[usher.AuditEvent]](t, e, op, v1+"/tenants/globex/audit-events?limit=500").Items {
		if ev.TargetID == ada.ID || ev.TargetID == w.acme.ID {
			t.Fatalf("acme's event in globex's log: %+v", ev)
		}
	}
}

// micro drops what PostgreSQL does not keep.
func micro(a usher.Account) usher.Account {
	if a.InviteExpiresAt != nil {
		x := a.InviteExpiresAt.Truncate(time.Microsecond)
		a.InviteExpiresAt = &x
	}
	return a
}

func personIDs(ps []usher.Person) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func accountIDs(as []usher.Account) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

// containsRun reports whether want occurs in xs in order (not necessarily adjacent).
func containsRun(xs, want []string) bool {
	i := 0
	for _, x := range xs {
		if i < len(want) && x == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestHealth checks the unauthenticated endpoints beside the API.
func TestHealth(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		if got := ok[map[string]string](t, e.call(t, "GET", "/healthz", "", nil), 200); got["status"] != "ok" {
			t.Fatalf("healthz: %v", got)
		}
		got := ok[map[string]string](t, e.call(t, "GET", "/readyz", "", nil), 200)
		if got["status"] != "ready" || got["database"] != string(e.st.Dialect()) {
			t.Fatalf("readyz: %v", got)
		}
		e.call(t, "GET", v1+"/tenants", e.op, nil)
		r := e.call(t, "GET", "/metrics", "", nil)
		if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`usher_http_requests_total{code="200",route="GET /api/v1/tenants"} 1`)) {
			t.Fatalf("metrics count requests by route:\n%s", r.Body)
		}
		// The writers' counters, which usherload reads around each phase.
		for _, name := range []string{"usher_db_writer_transactions_total ", "usher_db_writer_writes_total ",
			"usher_db_writer_busy_seconds_total ", "usher_db_writer_commit_seconds_total "} {
			if !bytes.Contains(r.Body, []byte("\n"+name)) {
				t.Errorf("metrics lack %q", name)
			}
		}
	})
}
