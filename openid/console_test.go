package openid_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

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

// TestBrowserConsolePrivateKeyJWT: a tenant administrator registers a
// product that authenticates with private_key_jwt by pasting its public
// keys; keys usher cannot use are refused next to the field, saying which
// key and why; the product's page lists its keys' ids and algorithms, and
// the product gets tokens with assertions signed by its private key.
func TestBrowserConsolePrivateKeyJWT(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.person(t, w.tenant, provision.AccountInput{AdminRole: usher.AdminTenant, Person: &provision.PersonInput{FirstName: "Grace", LastName: "Admin",
			Email: "grace@example.com"}}, "grace's admin passphrase")
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		public, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "ledger-2026", Algorithm: "ES256", Use: "sig"}}})
		private, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "ledger-2026"}}})

		p := browsertest.New(t)
		p.Open(w.issuer(w.tenant) + "/admin/clients")
		p.Fill("Email, username or phone number", "grace@example.com")
		p.Click("Continue")
		p.Fill("Password", "grace's admin passphrase")
		p.Click("Sign in")
		p.WantH1("Products")
		p.Fill("Name", "Ledger")
		p.Select("How a confidential product authenticates", "private_key_jwt")
		p.SetChecked("authorization_code", false)
		p.SetChecked("refresh_token", false)
		p.SetChecked("client_credentials", true)
		p.Click("Register")
		if e := p.FieldError("Public keys for private_key_jwt (JWKS)"); !strings.Contains(e, "needs the client's public keys") {
			t.Fatalf("no keys: the field says %q", e)
		}
		p.Fill("Public keys for private_key_jwt (JWKS)", `{"keys": [`)
		p.Click("Register")
		if e := p.FieldError("Public keys for private_key_jwt (JWKS)"); !strings.Contains(strings.ToLower(e), "not a json object") {
			t.Fatalf("not JSON: the field says %q", e)
		}
		p.Fill("Public keys for private_key_jwt (JWKS)", string(private))
		p.Click("Register")
		if e := p.FieldError("Public keys for private_key_jwt (JWKS)"); !strings.Contains(e, `ey 1 (kid "ledger-2026") holds a private key`) {
			t.Fatalf("a private key: the field says %q", e)
		}
		p.Fill("Public keys for private_key_jwt (JWKS)", string(public))
		p.Click("Register")
		p.WantText("is registered")
		p.WantNoText("shown this once")
		id := browsertest.Eval[string](p, `document.querySelector('td code').innerText`)

		p.ClickLink("Ledger")
		p.WantH1("Ledger")
		p.WantText("authenticates with private_key_jwt", "kid ledger-2026: EC P-256, ES256")
		p.WantNoText("Give it a new secret")
		p.Screenshot("console-client-private-key-jwt")

		status, out := w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials",
			"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", w.assertion(t, id, key, "ledger-2026"))
		if status != 200 || out["access_token"] == nil {
			t.Fatalf("the product registered in the console: %d %v", status, out)
		}

		// The product moves to publishing its keys: its page shows the address and what is there.
		next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		published, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: next.Public(), KeyID: "ledger-2027", Use: "sig"}}})
		hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.Write(published) }))
		defer hs.Close()
		p.Fill("Or the address of its JWKS (jwks_uri)", hs.URL+"/jwks")
		p.Click("Save")
		if e := p.FieldError("Or the address of its JWKS (jwks_uri)"); !strings.Contains(e, "not both") {
			t.Fatalf("keys and an address: the field says %q", e)
		}
		p.Fill("Public keys for private_key_jwt (JWKS)", "")
		p.Click("Save")
		p.WantText("Saved.", "Published at "+hs.URL+"/jwks", "kid ledger-2027: EC P-256, ES256")
		p.WantNoText("ledger-2026")
		status, out = w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials",
			"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", w.assertion(t, id, next, "ledger-2027"))
		if status != 200 || out["access_token"] == nil {
			t.Fatalf("the product with its published key: %d %v", status, out)
		}
	})
}

// TestBrowserConsoleSignOutDeliveries: on a product's page a tenant
// administrator sees the sign-out that could not be delivered, with what
// went wrong, retries it, and finds it delivered; the whole list is a page
// of its own. The pages pass the harness's accessibility and layout checks
// on a phone and on a desktop.
func TestBrowserConsoleSignOutDeliveries(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		w.person(t, w.tenant, provision.AccountInput{AdminRole: usher.AdminTenant, Person: &provision.PersonInput{FirstName: "Grace", LastName: "Admin",
			Email: "grace@example.com"}}, "grace's admin passphrase")
		rc := newReceiver(t, w.clock.Now)
		rc.fail["/a"] = 1 << 20
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/a"})
		ledger := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		for range 2 {
			b := w.browser(t)
			ledger.signedIn(b)
			b.post(w.issuer(w.tenant) + "/signout")
			w.clock.Advance(time.Minute)
		}
		w.deliver(t)
		w.clock.Advance(25 * time.Hour)
		w.deliver(t) // both abandoned
		rc.mu.Lock()
		rc.fail["/a"] = 0
		rc.mu.Unlock()

		p := browsertest.New(t)
		p.Open(w.issuer(w.tenant) + "/admin/clients/" + c.ID)
		p.Fill("Email, username or phone number", "grace@example.com")
		p.Click("Continue")
		p.Fill("Password", "grace's admin passphrase")
		p.Click("Sign in")
		p.WantH1("Ledger")
		p.WantText("Sign-out deliveries", "Ada Lovelace", "abandoned", "The product answered 503 Service Unavailable.")
		p.Screenshot("console-sign-out-deliveries")
		p.ClickLink("Sign-out deliveries by state")
		p.WantH1("Sign-out deliveries to Ledger")
		p.SetViewport(browsertest.Desktop)
		p.Select("State", "Abandoned")
		p.Click("Filter")
		p.WantText("Ada Lovelace", "abandoned")
		p.ScreenshotAt("console-sign-out-deliveries-desktop", browsertest.Desktop)
		p.SetViewport(browsertest.Phone)
		// One retried through the API: the other is the one Retry button left.
		newest := w.logoutEvents(t, w.tenant)[0].ID
		if r := w.api(t, "POST", "/api/v1/tenants/acme/clients/"+c.ID+"/logout-deliveries/"+newest+"/retry", nil); r.status != 200 {
			t.Fatalf("retry through the API: %d %s", r.status, r.body)
		}
		p.Reload()
		p.Click("Retry now")
		p.WantText("usher will deliver this sign-out again")
		w.deliver(t)
		if len(rc.tokens("/a")) != 2 {
			t.Fatalf("the retried sign-out: %d delivered", len(rc.tokens("/a")))
		}
		p.Reload()
		p.WantText("delivered")
	})
}
