package web

import (
	"bytes"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/api"
)

// TestLinkedAccountsAPI: tenant administrators set up an external system
// (its secret never answered); user administrators read it, link one
// account and many, list, read and unlink; another tenant's are not found.
func TestLinkedAccountsAPI(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		w := setUp(t, e)
		ta, ua, gua := w.tenantAdmin.Secret, w.userAdmin.Secret, w.globexUserAdm.Secret
		acme := v1 + "/tenants/acme"
		ann := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "Ann", "last_name": "A", "email": "ann@acme.example"}, 201)
		bob := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "Bob", "last_name": "B", "email": "bob@acme.example"}, 201)
		cy := post[provision.Created](t, e, ua, acme+"/accounts", obj{"first_name": "Cy", "last_name": "C", "email": "cy@acme.example"}, 201)

		// Field errors, all at once; a user administrator may not create.
		sys := obj{"name": "Google calendar", "kind": usher.ExternalGoogle, "client_id": "usher-client", "client_secret": "google-secret-1", "reminder_days": 7}
		r := e.call(t, "POST", acme+"/external-systems", ta, obj{"name": "", "kind": "carrier-pigeon", "reminder_days": -1})
		p := wantProblem(t, r, 422, "invalid", "name")
		if len(p.Errors) < 3 {
			t.Errorf("want a problem per field, got %s", r)
		}
		wantProblem(t, e.call(t, "POST", acme+"/external-systems", ua, sys), 403, "forbidden", "")
		wantProblem(t, e.call(t, "POST", acme+"/external-systems", ta, obj{"id": "x", "name": "N", "kind": "google", "client_id": "c"}), 422, "invalid", "id")

		r = e.call(t, "POST", acme+"/external-systems", ta, sys)
		x := ok[usher.ExternalSystem](t, r, 201)
		if x.ID == "" || x.ClientSecret != "" || bytes.Contains(r.Body, []byte("google-secret-1")) || x.Kind != usher.ExternalGoogle {
			t.Fatalf("created: %s", r)
		}
		// A user administrator reads it, never its secret.
		for _, path := range []string{acme + "/external-systems", acme + "/external-systems/" + x.ID} {
			if r := e.call(t, "GET", path, ua, nil); r.Status != 200 || bytes.Contains(r.Body, []byte("google-secret-1")) || bytes.Contains(r.Body, []byte("client_secret")) {
				t.Fatalf("GET %s: %s", path, r)
			}
		}
		if got := get[api.Page[usher.ExternalSystem]](t, e, ua, acme+"/external-systems"); len(got.Items) != 1 || got.Items[0].ID != x.ID {
			t.Fatalf("list: %+v", got)
		}
		// PUT without a secret keeps it; a user administrator may not.
		sys["name"] = "Google Workspace calendar"
		delete(sys, "client_secret")
		wantProblem(t, e.call(t, "PUT", acme+"/external-systems/"+x.ID, ua, sys), 403, "forbidden", "")
		if got := put[usher.ExternalSystem](t, e, ta, acme+"/external-systems/"+x.ID, sys); got.Name != "Google Workspace calendar" || got.ClientSecret != "" {
			t.Fatalf("put: %+v", got)
		}
		if kept, err := e.st.Read().ExternalSystem(t.Context(), w.acme.ID, x.ID); err != nil || kept.ClientSecret == "" {
			t.Fatalf("the secret after PUT without one is not kept: %v", err)
		}

		// Suggestions: every account with an email and no live link.
		sug := get[api.List[store.LinkSuggestion]](t, e, ua, acme+"/external-systems/"+x.ID+"/suggestions")
		if len(sug.Items) != 3 {
			t.Fatalf("suggestions: %+v", sug)
		}
		// Link one: 201, pending, the authorize message queued.
		l := post[usher.Link](t, e, ua, acme+"/accounts/"+ann.Account.ID+"/links", obj{"external_system_id": x.ID, "login": "ann@acme.example"}, 201)
		if l.State != usher.LinkPending || l.AccountID != ann.Account.ID || l.Login != "ann@acme.example" {
			t.Fatalf("link: %+v", l)
		}
		msgs := get[api.Page[usher.Message]](t, e, ua, acme+"/messages?account_id="+ann.Account.ID)
		found := false
		for _, m := range msgs.Items {
			found = found || m.Kind == linked.KindAuthorize
		}
		if !found {
			t.Errorf("no message to authorize the link to %s: %+v", ann.Account.ID, msgs.Items)
		}
		wantProblem(t, e.call(t, "POST", acme+"/accounts/"+bob.Account.ID+"/links", ua, obj{"external_system_id": x.ID, "login": ""}), 422, "invalid", "login")

		// Link many: a result per item, in order, each on its own.
		r = e.call(t, "POST", acme+"/links", ua, obj{"links": []obj{
			{"account_id": bob.Account.ID, "external_system_id": x.ID, "login": "bob@acme.example"},
			{"account_id": "nobody", "external_system_id": x.ID, "login": "x@acme.example"},
			{"account_id": cy.Account.ID, "external_system_id": x.ID, "login": "cy@acme.example"},
		}})
		many := ok[api.List[api.LinkResult]](t, r, 200)
		if len(many.Items) != 3 || many.Items[0].Link == nil || many.Items[0].Link.AccountID != bob.Account.ID ||
			many.Items[1].Error == nil || many.Items[1].Error.Field != "account_id" || many.Items[2].Link == nil {
			t.Fatalf("link many: %s", r)
		}
		// Linking a linked account again is refused, the others still made.
		r = e.call(t, "POST", acme+"/links", ua, obj{"links": []obj{{"account_id": bob.Account.ID, "external_system_id": x.ID, "login": "bob@acme.example"}}})
		if again := ok[api.List[api.LinkResult]](t, r, 200); len(again.Items) != 1 || again.Items[0].Error == nil || again.Items[0].Error.Code != "conflict" || again.Items[0].Link != nil {
			t.Fatalf("linking again: %s", r)
		}
		wantProblem(t, e.call(t, "POST", acme+"/links", ua, obj{"links": []obj{}}), 422, "invalid", "links")
		wantProblem(t, e.call(t, "POST", acme+"/links", ta, obj{"links": []obj{{"account_id": bob.Account.ID, "external_system_id": x.ID, "login": "b", "token": "x"}}}), 422, "invalid", "links[0].token")
		if sug := get[api.List[store.LinkSuggestion]](t, e, ua, acme+"/external-systems/"+x.ID+"/suggestions"); len(sug.Items) != 0 {
			t.Fatalf("suggestions once all are linked: %+v", sug)
		}

		// List by state and account; read one; unlink.
		if got := get[api.Page[usher.Link]](t, e, ua, acme+"/links?state=pending"); len(got.Items) != 3 {
			t.Fatalf("pending: %+v", got)
		}
		if got := get[api.Page[usher.Link]](t, e, ua, acme+"/links?account_id="+ann.Account.ID+"&external_system_id="+x.ID); len(got.Items) != 1 || got.Items[0].ID != l.ID {
			t.Fatalf("ann's: %+v", got)
		}
		if got := get[api.Page[usher.Link]](t, e, ua, acme+"/links?limit=2"); len(got.Items) != 2 || got.Next == "" {
			t.Fatalf("a page of 2: %+v", got)
		}
		wantProblem(t, e.call(t, "GET", acme+"/links?state=sideways", ua, nil), 422, "invalid", "state")
		if got := get[usher.Link](t, e, ua, acme+"/links/"+l.ID); got.ID != l.ID {
			t.Fatalf("get: %+v", got)
		}
		if got := del[usher.Link](t, e, ua, acme+"/links/"+l.ID); got.State != usher.LinkUnlinked {
			t.Fatalf("unlinked: %+v", got)
		}
		wantProblem(t, e.call(t, "DELETE", acme+"/links/"+l.ID, ua, nil), 409, "conflict", "state")
		if got := get[api.Page[usher.Link]](t, e, ua, acme+"/links?state=unlinked"); len(got.Items) != 1 || got.Items[0].ID != l.ID {
			t.Fatalf("unlinked: %+v", got)
		}

		// Another tenant's token sees none of it.
		globex := v1 + "/tenants/globex"
		for _, c := range []struct{ method, path string }{{"GET", "/external-systems/" + x.ID}, {"GET", "/links/" + l.ID},
			{"DELETE", "/links/" + many.Items[0].Link.ID}} {
			r := e.call(t, c.method, globex+c.path, gua, nil)
			if r.Status != 404 {
				t.Errorf("%s globex%s: want 404, got %s", c.method, c.path, r)
			}
		}
		wantProblem(t, e.call(t, "GET", globex+"/external-systems/"+x.ID+"/suggestions", gua, nil), 404, "not_found", "external_system_id")
		wantProblem(t, e.call(t, "POST", globex+"/accounts/"+w.globexAccount.Account.ID+"/links", gua, obj{"external_system_id": x.ID, "login": "g@globex.example"}),
			422, "invalid", "external_system_id")

		// Deactivated (by a tenant administrator only): read still, linked to no more.
		wantProblem(t, e.call(t, "DELETE", acme+"/external-systems/"+x.ID, ua, nil), 403, "forbidden", "")
		if got := del[usher.ExternalSystem](t, e, ta, acme+"/external-systems/"+x.ID); got.DeactivatedAt == nil || got.ClientSecret != "" {
			t.Fatalf("deactivated: %+v", got)
		}
		wantProblem(t, e.call(t, "POST", acme+"/accounts/"+ann.Account.ID+"/links", ua, obj{"external_system_id": x.ID, "login": "ann@acme.example"}), 422, "invalid", "external_system_id")
		if got := get[api.Page[usher.ExternalSystem]](t, e, ua, acme+"/external-systems?active=true"); len(got.Items) != 0 {
			t.Fatalf("active: %+v", got)
		}
	})
}
