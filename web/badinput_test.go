package web

import (
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
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
		wantProblem(t, e.call(t, "PATCH", acme, w.tenantAdmin.Secret, rawBody(`{"settings":{"templates":{"invitation.nl\u0000":{}}}}`)), 422, "invalid", "settings.templates.invitation.nl\x00")
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
		_ = usher.StateInvited
	})
}
