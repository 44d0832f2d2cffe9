package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/web/api"
)

// Bad input, as the probes of the issue "Holes found by probing" sent it:
// each is refused with a 4xx naming what is wrong, the same on both
// databases, and changes nothing. The harness fails a test whose server
// logged an error, so an answer of 500 fails twice.

// TestUnreadableInputIsRefusedAtTheEdge: a NUL byte or bytes that are not
// UTF-8 anywhere in a request (PostgreSQL refuses both in any text) are
// refused before any handler, in the path, the query, a form, the
// User-Agent and a JSON body.
func TestUnreadableInputIsRefusedAtTheEdge(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		ua := w.userAdmin.Secret
		acme := v1 + "/tenants/acme"
		c := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "N", "last_name": "U", "email": "nu@example.com"}, 201)
		before := e.snapshot(t, "acme", "globex")

		for _, tc := range []struct{ path, field string }{
			{acme + "/accounts/%00", "path"},
			{acme + "/accounts/%FF%FE", "path"},
			{acme + "/persons/a%00b", "path"},
			{acme + "/organizations/%00", "path"},
			{acme + "/roles/%00", "path"},
			{acme + "/plans/%C0", "path"},
			{acme + "/connections/%00", "path"},
			{acme + "/signup-links/%00", "path"},
			{acme + "/messages/%00", "path"},
			{v1 + "/tenants/%00", "path"},
			{v1 + "/identities/%00", "path"},
			{acme + "/accounts?after=%00", "after"},
			{acme + "/accounts?after=%FF", "after"},
			{acme + "/persons?after=%00", "after"},
			{acme + "/audit-events?after=%00", "after"},
			{acme + "/messages?after=%FF", "after"},
			{v1 + "/tenants?after=%00", "after"},
			{acme + "/accounts?login=%00", "login"},
			{acme + "/accounts?login=%FF", "login"},
			{acme + "/persons?email=%00", "email"},
			{acme + "/persons?name=%FF", "name"},
			{acme + "/audit-events?actor_id=%00", "actor_id"},
			{v1 + "/identities?email=%00", "email"},
			{acme + "/accounts?%00=1", "query"},
		} {
			wantProblem(t, e.call(t, "GET", tc.path, ua, nil), 400, "malformed", tc.field)
		}
		// Ids inside bodies.
		wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, obj{"first_name": "A", "last_name": "B", "email": "ab@example.com", "plan_id": "a\x00b"}), 422, "invalid", "plan_id")
		wantProblem(t, e.call(t, "PATCH", acme+"/accounts/"+c.Account.ID, ua, obj{"group_ids": []string{"x", "\x00"}}), 422, "invalid", "group_ids[1]")
		wantProblem(t, e.call(t, "POST", acme+"/persons", ua, obj{"first_name": "A", "last_name": "B", "department_id": "\x00"}), 422, "invalid", "department_id")
		wantProblem(t, e.call(t, "POST", acme+"/signup-links", ua, obj{"name": "L", "role_id": "\x00"}), 422, "invalid", "role_id")
		wantProblem(t, e.call(t, "PUT", acme+"/organizations/"+w.site.ID+"/relationships/%00", ua, obj{"roles": []string{"Primary"}}), 400, "malformed", "path")
		wantProblem(t, e.call(t, "PATCH", acme, w.tenantAdmin.Secret, rawBody(`{"settings":{"templates":{"invitation.nl\u0000":{}}}}`)), 422, "invalid", "settings.templates")
		e.unchanged(t, before, "acme", "globex")

		// The pages: a tenant in the path, the sign-in pages' forms, the User-Agent.
		form := func(path, body string, headers ...string) reply {
			return e.call(t, "POST", path, "", strings.NewReader(body), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
		}
		for _, r := range []reply{
			e.call(t, "GET", "/t/%00/", "", nil),
			e.call(t, "GET", "/t/%FF/", "", nil),
			e.call(t, "GET", "/t/acme/activate/%00", "", nil),
			e.call(t, "GET", "/t/acme/?next=%00", "", nil),
			form("/t/acme/signin", "identifier=a%00b"),
			form("/t/acme/signin", "identifier=a%FFb%40example.com"),
			form("/t/acme/signin/password", "identifier=nu%40example.com&password=a%00aaaaaaa"),
			form("/t/acme/activate", "identifier=%00&code=123456"),
			form("/t/acme/activate/request", "identifier=%FF"),
			form("/t/acme/signin/password", "identifier=nu%40example.com&password=aaaaaaaa", "User-Agent", "Mozilla\xff"),
		} {
			if r.Status != 400 || !strings.Contains(string(r.Body), "cannot be read") {
				t.Errorf("want 400 for an unreadable request to a page, got %s", r)
			}
		}
		e.unchanged(t, before, "acme", "globex")
	})
}

// TestEveryReferenceIsCheckedBeforeTheWrite: an id in a body that is not
// an active object of the tenant (unknown, another tenant's, deactivated)
// is refused naming its field, in every body that holds one.
func TestEveryReferenceIsCheckedBeforeTheWrite(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		op, ua, ta := e.op, w.userAdmin.Secret, w.tenantAdmin.Secret
		acme := v1 + "/tenants/acme"
		person := post[usher.Person](t, e, ua, acme+"/persons", obj{"first_name": "P", "last_name": "Q"}, 201)
		c := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "S", "last_name": "T", "email": "st@example.com"}, 201)
		gconn := post[usher.Connection](t, e, op, v1+"/tenants/globex/connections", obj{"name": "G", "protocol": "oidc", "client_id": "usher", "issuer": "https://g.example", "domains": []string{"globex.example"}}, 201)
		gdept := post[usher.Attribute](t, e, op, v1+"/tenants/globex/departments", obj{"key": "d", "name": "D"}, 201)
		gjob := post[usher.Attribute](t, e, op, v1+"/tenants/globex/job_profiles", obj{"key": "j", "name": "J"}, 201)
		ggroup := post[usher.Attribute](t, e, op, v1+"/tenants/globex/groups", obj{"key": "g", "name": "G"}, 201)
		gone := post[usher.Plan](t, e, op, acme+"/plans", obj{"key": "old", "name": "Old", "seats": 5}, 201)
		del[usher.Plan](t, e, op, acme+"/plans/"+gone.ID)
		for kind, a := range w.spare {
			del[usher.Attribute](t, e, op, acme+"/"+kind+"/"+a.ID)
		}
		retired := map[string]string{"plan": gone.ID, "role": w.spare[usher.KindRole].ID, "department": w.spare[usher.KindDepartment].ID,
			"job_profile": w.spare[usher.KindJobProfile].ID, "group": w.spare[usher.KindGroup].ID}
		other := map[string]string{"plan": w.globexPlan.ID, "role": w.globexRole.ID, "department": gdept.ID, "job_profile": gjob.ID,
			"group": ggroup.ID, "organization": w.globexSite.ID, "connection": gconn.ID}
		const unknown = "0190a0a0-0000-7000-8000-000000000000"
		before := e.snapshot(t, "acme", "globex")

		settings := func(field, id string) obj {
			m := map[string]any{}
			b, _ := json.Marshal(w.acme.Settings)
			_ = json.Unmarshal(b, &m)
			m[field] = id
			return obj{"settings": m}
		}
		type probe struct {
			method, path, token string
			body                func(id string) any
			field, of           string // the field named, and the kind of object it refers to
		}
		var probes []probe
		add := func(method, path, token, field, of string, body func(id string) any) {
			probes = append(probes, probe{method, path, token, body, field, of})
		}
		newUser := func(f string) func(string) any {
			return func(id string) any { return obj{"first_name": "A", "last_name": "B", "email": "ab@example.com", f: id} }
		}
		for f, of := range map[string]string{"plan_id": "plan", "role_id": "role", "department_id": "department", "job_profile_id": "job_profile",
			"primary_group_id": "group", "organization_id": "organization", "connection_id": "connection"} {
			add("POST", acme+"/accounts", ua, f, of, newUser(f))
		}
		add("POST", acme+"/accounts", ua, "group_ids[1]", "group", func(id string) any {
			return obj{"first_name": "A", "last_name": "B", "email": "ab@example.com", "group_ids": []string{w.attrs[usher.KindGroup].ID, id}}
		})
		for f, of := range map[string]string{"plan_id": "plan", "role_id": "role", "primary_group_id": "group", "connection_id": "connection"} {
			add("POST", acme+"/persons/"+person.ID+"/account", ua, f, of, func(id string) any { return obj{"email": "pq@example.com", f: id} })
		}
		for f, of := range map[string]string{"plan_id": "plan", "role_id": "role", "primary_group_id": "group"} {
			add("PATCH", acme+"/accounts/"+c.Account.ID, ua, f, of, func(id string) any { return obj{f: id} })
		}
		add("PATCH", acme+"/accounts/"+c.Account.ID, ua, "group_ids[0]", "group", func(id string) any { return obj{"group_ids": []string{id}} })
		for f, of := range map[string]string{"department_id": "department", "job_profile_id": "job_profile", "organization_id": "organization"} {
			add("POST", acme+"/persons", ua, f, of, func(id string) any { return obj{"first_name": "A", "last_name": "B", f: id} })
		}
		for f, of := range map[string]string{"department_id": "department", "job_profile_id": "job_profile"} {
			add("PATCH", acme+"/persons/"+person.ID, ua, f, of, func(id string) any { return obj{f: id} })
		}
		add("POST", acme+"/organizations", ua, "parent_id", "organization", func(id string) any { return obj{"name": "X", "parent_id": id} })
		for f, of := range map[string]string{"jit_plan_id": "plan", "jit_role_id": "role", "jit_department_id": "department", "jit_job_profile_id": "job_profile"} {
			add("POST", acme+"/connections", ta, f, of, func(id string) any {
				return obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": "https://c.example", f: id}
			})
		}
		for f, of := range map[string]string{"plan_id": "plan", "role_id": "role", "department_id": "department", "job_profile_id": "job_profile"} {
			add("POST", acme+"/signup-links", ua, f, of, func(id string) any { return obj{"name": "L", f: id} })
		}
		for f, of := range map[string]string{"default_plan_id": "plan", "default_role_id": "role", "default_department_id": "department",
			"default_job_profile_id": "job_profile"} {
			add("PATCH", acme, ta, "settings."+f, of, func(id string) any { return settings(f, id) })
		}
		for _, p := range probes {
			ids := map[string]string{"unknown": unknown, "another tenant's": other[p.of]}
			if id, ok := retired[p.of]; ok {
				ids["deactivated"] = id
			}
			for what, id := range ids {
				r := e.call(t, p.method, p.path, p.token, p.body(id))
				if r.Status != 404 && r.Status != 422 {
					t.Fatalf("%s %s with %s %s %s: want 404 or 422 naming %s, got %s", p.method, p.path, what, p.of, p.field, p.field, r)
				}
				code := map[int]string{404: "not_found", 422: "invalid"}[r.Status]
				wantProblem(t, r, r.Status, code, p.field)
			}
		}
		// A relationship names the person or the site it cannot find.
		wantProblem(t, e.call(t, "PUT", acme+"/organizations/"+w.site.ID+"/relationships/"+w.globexPerson.ID, ua, obj{"roles": []string{"Primary"}}), 404, "not_found", "person_id")
		wantProblem(t, e.call(t, "PUT", acme+"/organizations/"+w.globexSite.ID+"/relationships/"+person.ID, ua, obj{"roles": []string{"Primary"}}), 404, "not_found", "site_id")
		e.unchanged(t, before, "acme", "globex")

		// A reference retired since it was set does not block saving the rest.
		conn := post[usher.Connection](t, e, ta, acme+"/connections", obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": "https://c.example",
			"jit_role_id": w.attrs[usher.KindRole].ID}, 201)
		del[usher.Attribute](t, e, op, acme+"/roles/"+w.attrs[usher.KindRole].ID)
		del[usher.Connection](t, e, ta, acme+"/connections/"+conn.ID)
	})
}

// TestFieldsAreCheckedForWhatTheyHold: a connection's addresses, the
// members the server sets, the tenant's branding and message overrides,
// and an administrator's one-time password refuse what could not be used
// (or would inject a header), naming the field.
func TestFieldsAreCheckedForWhatTheyHold(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		ua, ta := w.userAdmin.Secret, w.tenantAdmin.Secret
		acme := v1 + "/tenants/acme"
		c := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "O", "last_name": "T", "email": "ot@example.com"}, 201)
		conn := post[usher.Connection](t, e, ta, acme+"/connections", obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": "https://login.example.com/v2.0"}, 201)
		before := e.snapshot(t, "acme")

		long := "https://" + strings.Repeat("a", 100_000) + ".example"
		for _, bad := range []string{"not a url", "javascript:alert(1)", "https://a.example/\r\nX-Injected: 1", "http://idp.example", "ftp://idp.example",
			"https://user:pw@idp.example", "//idp.example", long} {
			wantProblem(t, e.call(t, "POST", acme+"/connections", ta, obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": bad}), 422, "invalid", "issuer")
			wantProblem(t, e.call(t, "POST", acme+"/connections", ta, obj{"name": "C", "protocol": "saml", "metadata_url": bad}), 422, "invalid", "metadata_url")
			wantProblem(t, e.call(t, "PUT", acme+"/connections/"+conn.ID, ta, obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": bad}), 422, "invalid", "issuer")
		}
		wantProblem(t, e.call(t, "POST", acme+"/connections", ta, obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": "https://idp.example/?tenant=1"}), 422, "invalid", "issuer")
		wantProblem(t, e.call(t, "POST", acme+"/connections", ta, obj{"name": "C", "protocol": "oidc", "issuer": "https://idp.example", "client_id": "a\r\nb"}), 422, "invalid", "client_id")
		for _, f := range []string{"id", "created_at", "updated_at", "deactivated_at"} {
			val := any("2020-01-01T00:00:00Z")
			if f == "id" {
				val = conn.ID
			}
			wantProblem(t, e.call(t, "POST", acme+"/connections", ta, obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": "https://idp.example", f: val}), 422, "invalid", f)
			wantProblem(t, e.call(t, "PUT", acme+"/connections/"+conn.ID, ta, obj{"name": "C", "protocol": "oidc", "client_id": "usher", "issuer": "https://idp.example", f: val}), 422, "invalid", f)
		}

		settings := func(mod func(m map[string]any)) obj {
			m := map[string]any{}
			b, _ := json.Marshal(w.acme.Settings)
			_ = json.Unmarshal(b, &m)
			mod(m)
			return obj{"settings": m}
		}
		many := map[string]any{}
		for i := range 10_000 {
			many[fmt.Sprintf("invitation.x%d", i)] = obj{"subject": "Hi"}
		}
		for _, tc := range []struct {
			field string
			mod   func(m map[string]any)
		}{
			{"settings.branding.product_name", func(m map[string]any) { m["branding"] = obj{"product_name": "Acme\r\nBcc: all@example.com"} }},
			{"settings.branding.product_name", func(m map[string]any) { m["branding"] = obj{"product_name": strings.Repeat("a", 100_000)} }},
			{"settings.branding.product_name", func(m map[string]any) { m["branding"] = obj{"product_name": "a\x01b"} }},
			{"settings.branding.logo_url", func(m map[string]any) { m["branding"] = obj{"logo_url": "https://a.example/\r\nlogo.png"} }},
			{"settings.templates.invitation.xx", func(m map[string]any) { m["templates"] = obj{"invitation.xx": obj{"subject": "Hi"}} }},
			{"settings.templates", func(m map[string]any) { m["templates"] = many }},
			{"settings.templates.invitation.nl.subject", func(m map[string]any) {
				m["templates"] = obj{"invitation.nl": obj{"subject": "Welkom\r\nBcc: all@example.com"}}
			}},
			{"settings.languages[1]", func(m map[string]any) { m["languages"] = []string{"en", "xx"} }},
			{"settings.contact_roles[1]", func(m map[string]any) { m["contact_roles"] = []string{"Primary", "Sales\r\nX"} }},
		} {
			wantProblem(t, e.call(t, "PATCH", acme, ta, settings(tc.mod)), 422, "invalid", tc.field)
		}
		wantProblem(t, e.call(t, "POST", acme+"/accounts/"+c.Account.ID+"/one-time-password", ua, obj{"one_time_password": "abcdefgh\r\nijkl"}), 422, "invalid", "one_time_password")
		wantProblem(t, e.call(t, "POST", acme+"/accounts/"+c.Account.ID+"/one-time-password", ua, obj{"one_time_password": "abcd\tefghijkl"}), 422, "invalid", "one_time_password")
		e.unchanged(t, before, "acme")

		// What is allowed still is: http to localhost for tests, a long but sane product name.
		post[usher.Connection](t, e, ta, acme+"/connections", obj{"name": "Local", "protocol": "oidc", "client_id": "usher", "issuer": "http://localhost:8080/realms/test"}, 201)
		patch[usher.Tenant](t, e, ta, acme, settings(func(m map[string]any) {
			m["branding"] = obj{"product_name": "Acme Självservice"}
			m["templates"] = obj{"invitation.nl": obj{"subject": "Welkom bij {{.TenantName}}"}}
		}))
	})
}

// writable is a connection as read, less the members the server sets,
// which a PUT refuses: what a client sends back to replace it.
func writable(c usher.Connection) map[string]any {
	m := map[string]any{}
	b, _ := json.Marshal(c)
	_ = json.Unmarshal(b, &m)
	for _, f := range connectionSet {
		delete(m, f)
	}
	return m
}

// TestLookAlikeIdentifiers: an address or username that reads like
// another is either the same login (full-width forms, invisible
// characters) or refused (mixed scripts, odd domains); names refuse
// characters that make them read otherwise than they are stored.
func TestLookAlikeIdentifiers(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		ua := w.userAdmin.Secret
		acme := v1 + "/tenants/acme"
		admin := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "A", "last_name": "D", "email": "admin@acme.example",
			"username": "admin", "phone": "+31612345678"}, 201)
		before := e.snapshot(t, "acme")
		user := func(f, v string) obj {
			o := obj{"first_name": "Eve", "last_name": "L", "email": "eve@example.com"}
			o[f] = v
			return o
		}
		for _, email := range []string{"\u0430dmin@acme.example", "admin@\u0430cme.example", "a@[127.0.0.1]", "a@-b.example", "a@b_c.example", "a@b-.example", "a@1.2.3.4"} {
			wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, user("email", email)), 422, "invalid", "email")
			wantProblem(t, e.call(t, "PATCH", acme+"/accounts/"+admin.Account.ID, ua, obj{"email": email}), 422, "invalid", "email")
		}
		// The same login as admin's, however it is written.
		for _, email := range []string{"ａｄｍｉｎ@acme.example", "ad\u200bmin@acme.example", "ADMIN@ACME.EXAMPLE\u200d"} {
			wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, user("email", email)), 409, "conflict", "email")
		}
		for _, name := range []string{"ａdmin", "ad\u200bmin", "ADMIN"} {
			wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, user("username", name)), 409, "conflict", "username")
		}
		wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, user("username", "p\u0430ypal")), 422, "invalid", "username")
		wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, user("phone", "＋３１ ６ １２３４ ５６７８")), 409, "conflict", "phone")
		for _, name := range []string{"Eve\u202eLIAM", "E\u200bve", "\u2067Eve"} {
			wantProblem(t, e.call(t, "POST", acme+"/accounts", ua, user("first_name", name)), 422, "invalid", "first_name")
			wantProblem(t, e.call(t, "POST", acme+"/persons", ua, obj{"first_name": "Eve", "last_name": name}), 422, "invalid", "last_name")
		}
		e.unchanged(t, before, "acme")

		// Lookups fold the same way.
		for _, login := range []string{"ａｄｍｉｎ@acme.example", "ad%E2%80%8Bmin", "%EF%BC%8B31612345678"} {
			got := get[api.Page[usher.Account]](t, e, ua, acme+"/accounts?login="+login)
			if len(got.Items) != 1 || got.Items[0].ID != admin.Account.ID {
				t.Fatalf("?login=%s finds %+v, want admin's account", login, got.Items)
			}
		}
		got := get[api.Page[usher.Person]](t, e, ua, acme+"/persons?email=ａｄｍｉｎ@acme.example")
		if len(got.Items) != 1 || got.Items[0].ID != admin.Person.ID {
			t.Fatalf("?email= in full width finds %+v", got.Items)
		}
	})
}

// TestSignInFoldsTheIdentifier: a person who types their address in
// full-width letters or with an invisible character signs in.
func TestSignInFoldsTheIdentifier(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		w.browser(t).signIn("acme", "ａｄａ@ｅｘａｍｐｌｅ.ｃｏｍ", "analytical engine 1843")
		w.browser(t).signIn("acme", "a\u200bda@example.com", "analytical engine 1843")
	})
}

// TestDecodingIsStrict: what encoding/json and the query would take
// leniently is refused, naming the field: names in another case, a null
// body, a charset that is not UTF-8, text that is not UTF-8 (which would
// be replaced by U+FFFD), a name given twice, a cursor that is no id
// (which gave an empty page) and parameters of the unpaged relationship
// lists (which took any).
func TestDecodingIsStrict(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		ua := w.userAdmin.Secret
		acme := v1 + "/tenants/acme"
		person := post[usher.Person](t, e, ua, acme+"/persons", obj{"first_name": "P", "last_name": "Q"}, 201)
		before := e.snapshot(t, "acme")

		p := wantProblem(t, e.call(t, "POST", acme+"/persons", ua, rawBody(`{"FIRST_NAME":"A","last_name":"B"}`)), 422, "invalid", "FIRST_NAME")
		if !strings.Contains(p.Detail, "first_name") {
			t.Errorf("the problem does not point to first_name: %+v", p)
		}
		wantProblem(t, e.call(t, "PATCH", acme, w.tenantAdmin.Secret, rawBody(`{"settings":{"Branding":{}}}`)), 422, "invalid", "settings.Branding")
		for _, body := range []string{`null`, `[]`, `"x"`, `5`} {
			wantProblem(t, e.call(t, "PATCH", acme+"/persons/"+person.ID, ua, rawBody(body)), 400, "malformed", "")
		}
		for _, ct := range []string{"application/json; charset=latin1", "application/json; charset=utf-16"} {
			wantProblem(t, e.call(t, "POST", acme+"/persons", ua, rawBody(`{"first_name":"A","last_name":"B"}`), "Content-Type", ct), 415, "unsupported_media_type", "Content-Type")
		}
		post[usher.Person](t, e, ua, acme+"/persons", rawBody(`{"first_name":"A","last_name":"B","email":"cs@example.com"}`), 201)
		before = e.snapshot(t, "acme")
		wantProblem(t, e.call(t, "POST", acme+"/persons", ua, rawBody("{\"first_name\":\"A\xff\",\"last_name\":\"B\"}")), 422, "invalid", "first_name")
		wantProblem(t, e.call(t, "POST", acme+"/persons", ua, rawBody("{\"first_name\":\"A\",\"last_name\xc0\":\"B\"}")), 400, "malformed", "")
		wantProblem(t, e.call(t, "POST", acme+"/persons", ua, rawBody(`{"first_name":"A\ud800","last_name":"B"}`)), 422, "invalid", "first_name")
		wantProblem(t, e.call(t, "POST", acme+"/persons", ua, rawBody(`{"first_name":"A","last_name":"\udc00B"}`)), 422, "invalid", "last_name")
		wantProblem(t, e.call(t, "POST", acme+"/persons", ua, rawBody(`{"first_name":"A","first_name":"C","last_name":"B"}`)), 422, "invalid", "first_name")
		for _, list := range []string{"/accounts", "/persons", "/audit-events", "/messages", "/roles", "/plans", "/organizations", "/signup-links", "/connections"} {
			for _, after := range []string{"zzz", "0190A0A0-0000-7000-8000-000000000000", "' OR 1=1 --"} {
				wantProblem(t, e.call(t, "GET", acme+list+"?after="+url.QueryEscape(after), ua, nil), 422, "invalid", "after")
			}
		}
		for _, rel := range []string{"/organizations/" + w.site.ID + "/relationships", "/persons/" + person.ID + "/relationships"} {
			for _, q := range []string{"bogus=1", "limit=abc", "after=x", "limit=5"} {
				name, _, _ := strings.Cut(q, "=")
				wantProblem(t, e.call(t, "GET", acme+rel+"?"+q, ua, nil), 422, "invalid", name)
			}
		}
		e.unchanged(t, before, "acme")

		// A cursor from a page still works, and sensible bodies still decode.
		page := get[api.Page[usher.Person]](t, e, ua, acme+"/persons?limit=1")
		if page.Next == "" {
			t.Fatal("no next page")
		}
		get[api.Page[usher.Person]](t, e, ua, acme+"/persons?limit=1&after="+page.Next)
		post[usher.Person](t, e, ua, acme+"/persons", rawBody("{\"first_name\":\"Zoë \\u00e9\\ud83d\\ude00\",\"last_name\":\"B\"}"), 201)
		e.call(t, "GET", acme+"/persons", ua, nil, "Content-Type", "application/json; charset=UTF-8")
	})
}
