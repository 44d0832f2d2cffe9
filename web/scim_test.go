package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/store"
)

// SCIM as the shell mounts it: per tenant, at /t/<slug>/scim/v2 and on the
// tenant's own host; a scim token reaches SCIM only, other tokens do not
// reach SCIM; the API and the console show who manages a person.
func TestSCIMMounted(t *testing.T) {
	onEachDatabaseOpen(t, func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
		w := newSigninWorld(t, open)
		ctx := context.Background()
		// Tokens through the API, as the README says: {"name":"Entra ID","role":"scim"}.
		_, adminSecret, err := w.srv.apiTokens.CreateToken(ctx, opActor, w.tenant, apitoken.TokenInput{Name: "admin", Role: usher.AdminTenant})
		if err != nil {
			t.Fatal(err)
		}
		r := scimCall(t, w.url+"/api/v1/tenants/acme/tokens", "", "POST", adminSecret, `{"name":"Entra ID","role":"scim"}`)
		var tok struct {
			ID, Role, Secret string
		}
		if r.Status != 201 || json.Unmarshal(r.Body, &tok) != nil || tok.Role != usher.PrincipalSCIM || tok.Secret == "" {
			t.Fatalf("a scim token: %s", r)
		}
		user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example","name":{"givenName":"Ada","familyName":"Lovelace"}}`
		r = scimCall(t, w.url+"/t/acme/scim/v2/Users", "", "POST", tok.Secret, user)
		if r.Status != 201 || r.Header.Get("Content-Type") != "application/scim+json" || !strings.HasPrefix(r.Header.Get("Location"), w.url+"/t/acme/scim/v2/Users/") {
			t.Fatalf("POST at /t/acme/scim/v2: %s (Location %q)", r, r.Header.Get("Location"))
		}
		var created struct{ ID string }
		json.Unmarshal(r.Body, &created)
		// A scim token reaches no admin API; an admin token reaches no SCIM.
		if r := scimCall(t, w.url+"/api/v1/tenants/acme/accounts", "", "GET", tok.Secret, ""); r.Status != 403 || !strings.Contains(string(r.Body), "SCIM endpoint") {
			t.Fatalf("the API with a scim token: %s", r)
		}
		if r := scimCall(t, w.url+"/api/v1/tenants/acme", "", "GET", tok.Secret, ""); r.Status != 403 {
			t.Fatalf("the tenant with a scim token: %s", r)
		}
		if r := scimCall(t, w.url+"/t/acme/scim/v2/Users", "", "GET", adminSecret, ""); r.Status != 403 || !strings.Contains(string(r.Body), "role scim") {
			t.Fatalf("SCIM with an admin token: %s", r)
		}
		if r := scimCall(t, w.url+"/operator/signin", "", "POST", "", ""); r.Status == 200 && strings.Contains(string(r.Body), "tenants") {
			t.Fatalf("operator console: %s", r)
		}
		// The API shows the source on the account and the person.
		r = scimCall(t, w.url+"/api/v1/tenants/acme/accounts/"+created.ID, "", "GET", adminSecret, "")
		var acct usher.Account
		if r.Status != 200 || json.Unmarshal(r.Body, &acct) != nil || acct.ManagedBy != tok.ID {
			t.Fatalf("the account in the API: %s", r)
		}
		r = scimCall(t, w.url+"/api/v1/tenants/acme/persons/"+acct.PersonID, "", "GET", adminSecret, "")
		if r.Status != 200 || !strings.Contains(string(r.Body), `"managed_by":"`+tok.ID+`"`) {
			t.Fatalf("the person in the API: %s", r)
		}
		// A change by hand of what the source sets is refused, saying why.
		r = scimCall(t, w.url+"/api/v1/tenants/acme/persons/"+acct.PersonID, "", "PATCH", adminSecret, `{"first_name":"Augusta"}`)
		if r.Status != 409 || !strings.Contains(string(r.Body), `managed by the provisioning source \"Entra ID\"`) || !strings.Contains(string(r.Body), "first_name") {
			t.Fatalf("a hand change of the source's field: %s", r)
		}
		// The console says who manages the person.
		b := w.admin(t, w.tenant, usher.AdminUser, "admin@acme.example")
		wantPage(t, b.get("/t/acme/admin/people/"+acct.PersonID), 200, "Managed by", "Entra ID", "changed there")
		if r := scimCall(t, w.url+"/t/acme/scim/v2/Groups", "", "POST", tok.Secret, `{"displayName":"Night shift"}`); r.Status != 201 {
			t.Fatalf("a group: %s", r)
		}
		wantPage(t, b.get("/t/acme/admin/catalog/groups"), 200, "Night shift", "managed by Entra ID")
	})
}

// With a base domain, SCIM is on the tenant's own host at /scim/v2.
func TestSCIMOnTenantHost(t *testing.T) {
	onEachDatabaseOpen(t, func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
		w := newSigninWorld(t, open, func(c *Config) { c.Links.BaseDomain = "usher.test" })
		_, secret, err := w.srv.apiTokens.CreateToken(context.Background(), opActor, w.tenant, apitoken.TokenInput{Name: "Okta", Role: usher.PrincipalSCIM})
		if err != nil {
			t.Fatal(err)
		}
		user := `{"userName":"ada@acme.example","name":{"givenName":"Ada","familyName":"Lovelace"}}`
		r := scimCall(t, w.url+"/scim/v2/Users", "acme.usher.test", "POST", secret, user)
		if r.Status != 201 || !strings.HasPrefix(r.Header.Get("Location"), "https://acme.usher.test/scim/v2/Users/") {
			t.Fatalf("POST on the tenant's host: %s (Location %q)", r, r.Header.Get("Location"))
		}
		var created struct{ ID string }
		json.Unmarshal(r.Body, &created)
		if r := scimCall(t, w.url+"/scim/v2/Users/"+created.ID, "ACME.usher.test:443", "GET", secret, ""); r.Status != 200 || !strings.Contains(string(r.Body), "Lovelace") {
			t.Fatalf("GET on the tenant's host: %s", r)
		}
		w.newTenant(t, "globex", "Globex")
		if r := scimCall(t, w.url+"/scim/v2/Users/"+created.ID, "globex.usher.test", "GET", secret, ""); r.Status != 404 {
			t.Fatalf("another tenant's host: %s", r)
		}
	})
}

func scimCall(t *testing.T, url, host, method, token, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// TestBrowserSourcePatchResponse: a tenant administrator chooses, per
// provisioning source, how SCIM answers its successful PATCH requests, in
// the API (patch_response on the scim token) and on the console's settings
// page, and SCIM answers accordingly; the setting is a source's, checked,
// and out of reach of another tenant.
func TestBrowserSourcePatchResponse(t *testing.T) {
	onEachDatabaseOpen(t, func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
		browsertest.Available(t)
		w := newSigninWorld(t, open, func(c *Config) { c.Channels, c.OperatorToken = []string{usher.ChannelEmail}, "printed" })
		ctx := context.Background()
		_, adminSecret, err := w.srv.apiTokens.CreateToken(ctx, opActor, w.tenant, apitoken.TokenInput{Name: "admin", Role: usher.AdminTenant})
		if err != nil {
			t.Fatal(err)
		}
		r := scimCall(t, w.url+"/api/v1/tenants/acme/tokens", "", "POST", adminSecret, `{"name":"Okta","role":"scim","patch_response":"resource"}`)
		var tok struct {
			ID, Secret    string
			PatchResponse string `json:"patch_response"`
		}
		if r.Status != 201 || json.Unmarshal(r.Body, &tok) != nil || tok.PatchResponse != usher.PatchResource {
			t.Fatalf("an Okta source: %s", r)
		}
		user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example","name":{"givenName":"Ada","familyName":"Lovelace"}}`
		r = scimCall(t, w.url+"/t/acme/scim/v2/Users", "", "POST", tok.Secret, user)
		var created struct{ ID string }
		if r.Status != 201 || json.Unmarshal(r.Body, &created) != nil {
			t.Fatalf("create a user: %s", r)
		}
		rename := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name.givenName","value":"Augusta"}]}`
		if r = scimCall(t, w.url+"/t/acme/scim/v2/Users/"+created.ID, "", "PATCH", tok.Secret, rename); r.Status != 200 || !strings.Contains(string(r.Body), `"givenName":"Augusta"`) {
			t.Fatalf("PATCH from a resource source: %s", r)
		}

		// Checked in the API; another tenant's administrator does not find it.
		r = scimCall(t, w.url+"/api/v1/tenants/acme/tokens/"+tok.ID, "", "PATCH", adminSecret, `{"patch_response":"everything"}`)
		if r.Status != 422 || !strings.Contains(string(r.Body), `"field":"patch_response"`) || !strings.Contains(string(r.Body), "no_content") {
			t.Fatalf("a wrong patch_response: %s", r)
		}
		globex, _ := w.newTenant(t, "globex", "Globex")
		_, globexAdmin, err := w.srv.apiTokens.CreateToken(ctx, opActor, globex, apitoken.TokenInput{Name: "admin", Role: usher.AdminTenant})
		if err != nil {
			t.Fatal(err)
		}
		if r = scimCall(t, w.url+"/api/v1/tenants/globex/tokens/"+tok.ID, "", "PATCH", globexAdmin, `{"patch_response":"no_content"}`); r.Status != 404 {
			t.Fatalf("another tenant's source: %s", r)
		}

		// The console's settings page lists the source with its choice, and changes it.
		p := consoleAdmin(t, w)
		p.ClickLink("Settings")
		p.WantH1("Settings")
		const field = "How a successful PATCH from “Okta” is answered"
		if v := p.Value(field); v != usher.PatchResource {
			t.Fatalf("the settings page shows %q", v)
		}
		p.Select(field, "204 without a body (Entra ID)")
		p.Click("Save for Okta")
		wantAlert(t, p, "is now answered with 204 without a body")
		if v := p.Value(field); v != usher.PatchNoContent {
			t.Fatalf("after saving the settings page shows %q", v)
		}
		p.Screenshot("console-scim-sources")
		w.clock.Advance(3 * time.Second) // the shell's token cache
		if r = scimCall(t, w.url+"/t/acme/scim/v2/Users/"+created.ID, "", "PATCH", tok.Secret, rename); r.Status != 204 || len(r.Body) != 0 {
			t.Fatalf("PATCH after the console's change: %s", r)
		}
		if audit := w.audited(t, "token.updated"); len(audit) != 1 || audit[0].Details["patch_response"] != usher.PatchNoContent {
			t.Fatalf("audit: %+v", audit)
		}
	})
}
