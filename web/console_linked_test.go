package web

import (
	"context"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// TestConsoleLinkedAccounts: a tenant administrator sets up an external
// system through the console's form (errors by field, the secret kept and
// never shown, the redirect URI to register); a user administrator sees it
// read-only, links suggested people many at once and one by one, sees them
// pending, and unlinks one; a person's page lists their links, to unlink
// or make one; another tenant's are not found.
func TestConsoleLinkedAccounts(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")
		ua := w.admin(t, w.tenant, usher.AdminUser, "ua@example.com")
		ann := w.activeUser(t, w.tenant, "Ann", "ann@example.com", "ann-usher-password-1")
		bob := w.activeUser(t, w.tenant, "Bob", "bob@example.com", "bob-usher-password-1")
		cy := w.activeUser(t, w.tenant, "Cy", "cy@example.com", "cy-usher-password-1")

		wantPage(t, b.get("/t/acme/admin/"), 200, `/t/acme/admin/linked"`, "Linked accounts")
		wantPage(t, b.get("/t/acme/admin/linked"), 200, "No external systems yet", `name="kind" value="google" checked`, `value="exchange"`)
		wantPage(t, b.get("/t/acme/admin/linked/systems/new?kind=fax"), 404)
		p := b.get("/t/acme/admin/linked/systems/new?kind=google")
		wantPage(t, p, 200, "New Google Workspace system", `name="client_secret"`, "Preset for Google Workspace", w.srv.cfg.Linked.CallbackURL(w.tenant))
		if strings.Contains(p.body, `name="ews_url"`) {
			t.Fatal("a Google system's form asks for an EWS URL")
		}
		wantPage(t, b.get("/t/acme/admin/linked/systems/new?kind=exchange"), 200, `name="ews_url"`)

		// Errors next to their fields; the secret not shown back.
		p = b.post("/t/acme/admin/linked/systems/new?kind=google", "name", "", "client_id", "", "client_secret", "g-secret-1", "reminder_days", "400")
		wantPage(t, p, 422, `id="name-error"`, `id="client_id-error"`, `id="reminder_days-error"`, `aria-invalid="true"`, `role="alert"`)
		if strings.Contains(p.body, "g-secret-1") {
			t.Fatal("the form shows the client secret it was sent")
		}
		p = b.post("/t/acme/admin/linked/systems/new?kind=google", "name", "Acme calendar", "client_id", "usher-app", "client_secret", "g-secret-1", "reminder_days", "7")
		wantPage(t, p, 200, "“Acme calendar” is saved", "A secret is kept and never shown", `value="usher-app"`)
		id := p.url[strings.LastIndex(p.url, "/")+1:]
		kept, err := w.st.Read().ExternalSystem(ctx, w.tenant.ID, id)
		if err != nil || kept.ClientSecret == "" || kept.ReminderDays != 7 {
			t.Fatalf("as saved: %+v %v", kept, err)
		}
		if strings.Contains(p.body, "g-secret-1") || strings.Contains(p.body, kept.ClientSecret) {
			t.Fatal("the system's page shows its client secret")
		}
		// Saved again with the secret empty: kept.
		wantPage(t, b.post("/t/acme/admin/linked/systems/"+id, "name", "Acme Google calendar", "client_id", "usher-app", "reminder_days", "3"), 200, "Saved.", "Acme Google calendar")
		if again, _ := w.st.Read().ExternalSystem(ctx, w.tenant.ID, id); again.ClientSecret != kept.ClientSecret || again.ReminderDays != 3 {
			t.Fatalf("after a save without the secret: %+v", again)
		}

		// A user administrator: read-only settings, no new system.
		wantPage(t, ua.get("/t/acme/admin/linked"), 200, "Acme Google calendar", "Link users", "Tenant administrators add and change external systems")
		wantPage(t, ua.get("/t/acme/admin/linked/systems/"+id), 200, "<fieldset disabled>")
		wantPage(t, ua.post("/t/acme/admin/linked/systems/"+id, "name", "Mine", "client_id", "x"), 403)
		wantPage(t, ua.get("/t/acme/admin/linked/systems/new?kind=google"), 403)
		wantPage(t, ua.post("/t/acme/admin/linked/systems/"+id+"/deactivate"), 403)

		// Suggestions: the accounts with their emails; link two at once.
		p = ua.get("/t/acme/admin/linked/systems/" + id + "/links")
		wantPage(t, p, 200, "Suggested", `value="ann@example.com"`, `value="`+bob.ID+`"`, "Link the chosen", "No links.")
		wantPage(t, ua.post("/t/acme/admin/linked/systems/"+id+"/links", "do", "many"), 422, `id="account-error"`, "Choose at least one account")
		p = ua.post("/t/acme/admin/linked/systems/"+id+"/links", "do", "many", "account", ann.ID, "login_"+ann.ID, "ann@example.com",
			"account", bob.ID, "login_"+bob.ID, "")
		wantPage(t, p, 422, "1 linked", "1 not linked: Bob Tester: is required", `id="s`)
		p = ua.get("/t/acme/admin/linked/systems/" + id + "/links?state=pending")
		wantPage(t, p, 200, "ann@example.com", `class="state pending">pending`, "Unlink Ann Tester")
		// One by one, with its error next to its field.
		wantPage(t, ua.post("/t/acme/admin/linked/systems/"+id+"/links", "do", "one", "account_id", cy.ID, "login", ""), 422, `id="login-error"`)
		wantPage(t, ua.post("/t/acme/admin/linked/systems/"+id+"/links", "do", "one", "account_id", cy.ID, "login", "cy@acme.example"), 200,
			"Linked: the person was sent the message", "cy@acme.example")
		pending, _, err := w.srv.cfg.Linked.Links(ctx, w.tenant, store.LinkFilter{ExternalSystemID: id, State: usher.LinkPending}, store.ListOptions{})
		if err != nil || len(pending) != 2 {
			t.Fatalf("pending: %+v %v", pending, err)
		}

		// Unlink from the list, and from the person's page.
		var annLink, cyLink usher.Link
		for _, l := range pending {
			if l.AccountID == ann.ID {
				annLink = l
			} else {
				cyLink = l
			}
		}
		wantPage(t, ua.post("/t/acme/admin/linked/links/"+annLink.ID+"/unlink"), 200, "Unlinked", `class="state unlinked">unlinked`)
		p = ua.get("/t/acme/admin/people/" + cy.PersonID)
		wantPage(t, p, 200, "Linked accounts", "cy@acme.example", `class="state pending">pending`, "Unlink Acme Google calendar")
		p = ua.post("/t/acme/admin/linked/links/"+cyLink.ID+"/unlink", "person", cy.PersonID)
		wantPage(t, p, 200, "Unlinked", `class="state unlinked">unlinked`)
		if !strings.Contains(p.url, "/people/"+cy.PersonID) {
			t.Fatalf("after unlinking from the person's page: %s", p.url)
		}
		wantPage(t, ua.post("/t/acme/admin/linked/links/"+cyLink.ID+"/unlink"), 409)

		// Linking one from the person's page, with the error next to its field there.
		p = ua.get("/t/acme/admin/people/" + bob.PersonID)
		wantPage(t, p, 200, "Link to an external system", `value="bob@example.com"`, `<option value="`+id+`">Acme Google calendar</option>`)
		p = ua.post("/t/acme/admin/linked/accounts/"+bob.ID, "open", "link", "external_system_id", id, "login", "")
		wantPage(t, p, 422, `id="link_login-error"`, "<details open>", "Bob Tester")
		p = ua.post("/t/acme/admin/linked/accounts/"+bob.ID, "open", "link", "external_system_id", id, "login", "bob@acme.example")
		wantPage(t, p, 200, "Linked: the person was sent", "bob@acme.example", `class="state pending">pending`)
		if !strings.Contains(p.url, "/people/"+bob.PersonID) || strings.Contains(p.body, "Link to an external system") {
			t.Fatalf("after linking from the person's page: at %s, still offering to link", p.url)
		}

		// Deactivated by the tenant administrator: no more suggestions.
		wantPage(t, b.post("/t/acme/admin/linked/systems/"+id+"/deactivate"), 200, "is switched off", "Reactivate it")
		p = ua.get("/t/acme/admin/linked/systems/" + id + "/links")
		if strings.Contains(p.body, "Link the chosen") {
			t.Fatal("a deactivated system suggests links")
		}
		wantPage(t, b.post("/t/acme/admin/linked/systems/"+id+"/reactivate"), 200, "active again")

		// Another tenant's system is not found.
		other, _ := w.newTenant(t, "other", "Other")
		o := w.admin(t, other, usher.AdminTenant, "boss@other.example")
		wantPage(t, o.get("/t/other/admin/linked/systems/"+id), 404)
		wantPage(t, o.get("/t/other/admin/linked/systems/"+id+"/links"), 404)
		wantPage(t, o.post("/t/other/admin/linked/links/"+annLink.ID+"/unlink"), 404)
		wantPage(t, o.post("/t/other/admin/linked/accounts/"+ann.ID, "external_system_id", id, "login", "ann@example.com"), 404)
	})
}
