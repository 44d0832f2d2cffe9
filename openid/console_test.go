package openid_test

import (
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/provision"
)

// TestBrowserConsoleClients: a tenant administrator registers a product in
// the console, sees its secret once, gives it a new one, and deletes it;
// a product registered there signs people in.
func TestBrowserConsoleClients(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		w.person(t, w.tenant, provision.AccountInput{AdminRole: usher.AdminTenant, Person: &provision.PersonInput{FirstName: "Grace", LastName: "Admin",
			Email: "grace@example.com"}}, "grace's admin passphrase")
		p := browsertest.New(t)
		p.Open(w.issuer(w.tenant) + "/admin/clients")
		p.WantH1("Sign in")
		p.Fill("Email, username or phone number", "grace@example.com")
		p.Click("Continue")
		p.Fill("Password", "grace's admin passphrase")
		p.Click("Sign in")
		p.WantH1("Products")
		p.Fill("Name", "Ledger")
		p.Fill("Redirect URIs", callback)
		p.Click("Register")
		p.WantText("is registered", "shown this once")
		secret := browsertest.Eval[string](p, `document.getElementById('client-secret').innerText`)
		id := browsertest.Eval[string](p, `document.querySelector('td code').innerText`)
		p.Screenshot("console-clients")

		// The product it registered signs ada in.
		r := w.rp(t, w.tenant, id, secret)
		if res := r.signedIn(w.browser(t)); res.claims["email"] != "ada@example.com" {
			t.Fatalf("claims %v", res.claims)
		}

		p.ClickLink("Ledger")
		p.WantH1("Ledger")
		// Its logout addresses: https only (http on localhost), sid asked for.
		p.Fill("Back-channel logout address", "http://ledger.example/logout/back")
		p.Click("Save")
		if e := p.FieldError("Back-channel logout address"); !strings.Contains(e, "Must be an https:// address") {
			t.Fatalf("an http back-channel address: %q", e)
		}
		p.Fill("Back-channel logout address", "https://ledger.example/logout/back")
		p.SetChecked("Logout tokens must carry the session id (sid)", true)
		p.Fill("Front-channel logout address", "https://ledger.example/logout/front")
		p.Click("Save")
		p.WantH1("Ledger")
		got := jsonOf(t, w.api(t, "GET", "/api/v1/tenants/acme/clients/"+id, nil).body)
		if got["backchannel_logout_uri"] != "https://ledger.example/logout/back" || got["backchannel_logout_session_required"] != true ||
			got["frontchannel_logout_uri"] != "https://ledger.example/logout/front" || got["frontchannel_logout_session_required"] != false {
			t.Fatalf("the client after the console's change: %v", got)
		}
		p.Click("Give it a new secret")
		p.WantText("The new client secret")
		if again := browsertest.Eval[string](p, `document.getElementById('client-secret').innerText`); again == secret || again == "" {
			t.Fatal("no new secret")
		}
		status, out := w.form(t, w.tenant, "/oauth/token", id, secret, "grant_type", "client_credentials")
		if status != 401 {
			t.Fatalf("the old secret still works: %d %v", status, out)
		}
		p.Click("Delete it")
		p.WantH1("Products")
		p.WantText("is deleted", "deleted")
		if audit := w.api(t, "GET", "/api/v1/tenants/acme/audit-events?action=client.", nil); !strings.Contains(audit.body, "client.created") ||
			!strings.Contains(audit.body, "client.deleted") {
			t.Fatalf("audit: %s", audit.body)
		}
	})
}
