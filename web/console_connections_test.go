package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"html"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// idpMetadata is an identity provider's SAML metadata, with a signing
// certificate of its own, as an administrator pastes it.
func idpMetadata(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp.acme.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.acme.example/saml">
<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		base64.StdEncoding.EncodeToString(der) + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.acme.example/saml/sso"/>
</IDPSSODescriptor></EntityDescriptor>`
}

// TestConsoleConnections: a tenant administrator makes an OpenID Connect
// and a SAML connection through the console's forms and sees the values
// to give the identity provider; the client secret is kept when the form
// leaves it empty and never shown; errors stand next to their fields; a
// user administrator sees connections but cannot change them; another
// tenant's connection is not found.
func TestConsoleConnections(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		role, _ := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindRole, catalog.AttributeInput{Key: "engineer", Name: ptr("Engineer")})
		group, _ := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindGroup, catalog.AttributeInput{Key: "eng", Name: ptr("Engineering")})
		b := w.admin(t, w.tenant, usher.AdminTenant, "boss@example.com")
		ua := w.admin(t, w.tenant, usher.AdminUser, "ua@example.com")
		wantPage(t, b.get("/t/acme/admin/"), 200, `/t/acme/admin/connections"`, "Single sign-on")
		wantPage(t, b.get("/t/acme/admin/connections"), 200, "No connections yet", `name="protocol" value="oidc" checked`, `value="saml"`, "New connection")
		wantPage(t, b.get("/t/acme/admin/connections/new?protocol=ldap"), 404)
		p := b.get("/t/acme/admin/connections/new?protocol=oidc")
		wantPage(t, p, 200, "New OpenID Connect connection", "<legend>OpenID Connect</legend>", `name="client_secret"`, `placeholder="given_name"`,
			"can never use a password")
		if strings.Contains(p.body, "<legend>SAML 2.0</legend>") || strings.Contains(p.body, "Test this connection") {
			t.Fatal("a new OpenID Connect connection's form shows SAML's settings or the test")
		}

		// Errors next to their fields, the form keeping what was typed but the secret.
		form := func(kv ...string) []string {
			f := map[string]string{"name": "Acme Entra", "domains": "acme.example, acme.test", "enforced": "on", "jit": "on", "jit_role_id": role.ID,
				"mapping.preset": "entra", "mapping.department": "extension_dept", "issuer": "https://login.acme.example/v2.0", "client_id": "usher-app",
				"client_secret": "s3cret-at-the-idp", "scopes": "offline_access groups", "userinfo": "on", "update_on_signin": "on"}
			for i := 0; i+1 < len(kv); i += 2 {
				f[kv[i]] = kv[i+1]
			}
			var out []string
			for k, v := range f {
				out = append(out, k, v)
			}
			// Three rows of group rules: one filled, one without the group name (left out), one empty.
			return append(out, "rule_idp_group", "Engineers", "rule_group_id", group.ID, "rule_role_id", role.ID,
				"rule_idp_group", "", "rule_group_id", group.ID, "rule_role_id", "",
				"rule_idp_group", "", "rule_group_id", "", "rule_role_id", "")
		}
		p = b.post("/t/acme/admin/connections/new?protocol=oidc", form("domains", "acme.example\nnot a domain")...)
		wantPage(t, p, 422, `id="domains-error"`, `role="alert">Domains: &#34;not a domain&#34; is not an email domain.`, `aria-invalid="true"`,
			`value="Acme Entra"`, `value="https://login.acme.example/v2.0"`, `value="extension_dept"`, `value="Engineers"`)
		if strings.Contains(p.body, "s3cret-at-the-idp") {
			t.Fatal("the form shows the client secret it was sent")
		}
		wantPage(t, b.post("/t/acme/admin/connections/new?protocol=oidc", form("client_id", "")...), 422, `id="client_id-error"`)
		wantPage(t, b.post("/t/acme/admin/connections/new?protocol=oidc", form("jit_plan_id", role.ID)...), 422, `id="jit_plan_id-error"`, `role="alert">Just-in-time plan`)
		// A rule that gives nothing is refused at its row.
		p = b.post("/t/acme/admin/connections/new?protocol=oidc", append(form(), "rule_idp_group", "Sales", "rule_group_id", "", "rule_role_id", "")...)
		wantPage(t, p, 422, `id="rule2-error"`, "Group rule 2: choose the group or role members of &#34;Sales&#34; get")
		if all, _, _ := w.st.Read().Connections(ctx, w.tenant.ID, false, store.ListOptions{}); len(all) != 0 {
			t.Fatalf("a refused form made a connection: %+v", all)
		}

		// Created: the values for the identity provider, and the test.
		p = b.post("/t/acme/admin/connections/new?protocol=oidc", form()...)
		wantPage(t, p, 200, "“Acme Entra” is saved", "Values for your identity provider", "Test this connection", `name="purpose" value="test"`,
			"A secret is kept and never shown", `<option value="entra" selected>`, `value="Engineers"`)
		id := p.url[strings.LastIndex(p.url, "/")+1:]
		conn, err := w.st.Read().Connection(ctx, w.tenant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, p, 200, `value="`+w.srv.cfg.SSO.CallbackURL(w.tenant, conn)+`"`, `action="`+w.url+`/t/acme/sso/`+id+`/start"`)
		if strings.Contains(p.body, "s3cret-at-the-idp") || strings.Contains(p.body, conn.ClientSecret) {
			t.Fatal("the connection's page shows its client secret")
		}
		if !conn.Enforced || !conn.JIT || conn.JITRoleID != role.ID || !conn.UserInfo || !conn.UpdateOnSignIn || conn.Mapping.Preset != "entra" ||
			conn.Mapping.Department != "extension_dept" || len(conn.Domains) != 2 || strings.Join(conn.Scopes, " ") != "offline_access groups" ||
			len(conn.Mapping.GroupRules) != 1 || conn.Mapping.GroupRules[0] != (usher.GroupRule{IdPGroup: "Engineers", GroupID: group.ID, RoleID: role.ID}) {
			t.Fatalf("the connection as saved: %+v", conn)
		}

		// Changed with the secret left empty: the stored one is kept.
		p = b.post("/t/acme/admin/connections/"+id, form("name", "Acme Entra ID", "client_secret", "", "jit", "")...)
		wantPage(t, p, 200, "Saved.", "Acme Entra ID")
		again, _ := w.st.Read().Connection(ctx, w.tenant.ID, id)
		if got, err := w.svc.ConnectionSecret(again); err != nil || got != "s3cret-at-the-idp" || again.JIT || again.Name != "Acme Entra ID" {
			t.Fatalf("after a change without the secret: %+v, secret %q %v", again, got, err)
		}
		// A group of another tenant's is not one of this tenant's.
		other, _ := w.newTenant(t, "other", "Other")
		og, _ := w.srv.catalog.CreateAttribute(ctx, opActor, other, usher.KindGroup, catalog.AttributeInput{Key: "eng", Name: ptr("Theirs")})
		p = b.post("/t/acme/admin/connections/"+id, append(form()[:len(form())-18], "rule_idp_group", "Engineers", "rule_group_id", og.ID, "rule_role_id", "")...)
		wantPage(t, p, 422, `id="rule1-error"`, `aria-describedby="rule1-error"`)

		// SAML: the entity ID, the ACS URL and the metadata to download.
		p = b.get("/t/acme/admin/connections/new?protocol=saml")
		wantPage(t, p, 200, "New SAML 2.0 connection", "<legend>SAML 2.0</legend>", `name="metadata_xml"`, `placeholder="NameID"`, "Off unless you need it")
		if strings.Contains(p.body, `name="client_secret"`) || strings.Contains(p.body, `name="idp_initiated" value="on" checked`) {
			t.Fatal("a new SAML connection's form asks for a client secret or starts with IdP-initiated sign-in on")
		}
		wantPage(t, b.post("/t/acme/admin/connections/new?protocol=saml", "name", "Acme Okta", "domains", "okta.example"), 422, `id="metadata_url-error"`,
			"its URL, or the XML pasted")
		p = b.post("/t/acme/admin/connections/new?protocol=saml", "name", "Acme Okta", "domains", "okta.example", "mapping.preset", "okta",
			"metadata_xml", idpMetadata(t))
		wantPage(t, p, 200, "“Acme Okta” is saved", "Values for your identity provider", "Entity ID", "ACS URL", "Download usher's metadata")
		sid := p.url[strings.LastIndex(p.url, "/")+1:]
		saml, _ := w.st.Read().Connection(ctx, w.tenant.ID, sid)
		wantPage(t, p, 200, `value="`+w.srv.cfg.SSO.MetadataURL(w.tenant, saml)+`"`, `value="`+w.srv.cfg.SSO.ACSURL(w.tenant, saml)+`"`,
			`href="`+w.srv.cfg.SSO.MetadataURL(w.tenant, saml)+`" download`)
		if strings.Contains(p.body, "<legend>OpenID Connect</legend>") || saml.IdPInitiated || saml.Protocol != "saml" {
			t.Fatalf("the SAML connection: %+v", saml)
		}
		// usher's certificate for the connection, once the SAML connector made it; never its key.
		if saml.SPCertificate != "" {
			wantPage(t, p, 200, "usher's certificate for this connection", "-----BEGIN CERTIFICATE-----")
		}
		if strings.Contains(p.body, "PRIVATE KEY") || (saml.SPKey != "" && strings.Contains(p.body, saml.SPKey)) {
			t.Fatal("the SAML connection's page shows usher's private key")
		}

		// Deactivated and reactivated; the list says which.
		p = b.post("/t/acme/admin/connections/" + sid + "/deactivate")
		wantPage(t, p, 200, "The connection is deactivated", "Reactivate it")
		if strings.Contains(p.body, "Test this connection") {
			t.Fatal("a deactivated connection offers the test")
		}
		wantPage(t, b.get("/t/acme/admin/connections"), 200, "Acme Entra ID", "acme.example, acme.test", "enforced: no passwords", "Acme Okta", "deactivated")
		wantPage(t, b.post("/t/acme/admin/connections/"+sid+"/reactivate"), 200, "The connection is active again", "Deactivate it")
		wantPage(t, b.post("/t/acme/admin/connections/"+sid+"/nonsense"), 404)

		// A user administrator sees them, read-only, and cannot change them.
		wantPage(t, ua.get("/t/acme/admin/connections"), 200, "Acme Entra ID", "Tenant administrators add and change connections")
		p = ua.get("/t/acme/admin/connections/" + id)
		wantPage(t, p, 200, "Values for your identity provider", "<fieldset disabled>")
		if strings.Contains(p.body, `<button type="submit">Save</button>`) || strings.Contains(p.body, "Deactivate it") {
			t.Fatal("a user administrator is offered to change a connection")
		}
		wantPage(t, ua.post("/t/acme/admin/connections/"+id, form("name", "Taken over")...), 403)
		wantPage(t, ua.post("/t/acme/admin/connections/"+id+"/deactivate"), 403)
		wantPage(t, ua.post("/t/acme/admin/connections/new?protocol=oidc", form("name", "Sneaky", "domains", "sneaky.example")...), 403)
		wantPage(t, ua.get("/t/acme/admin/connections/new?protocol=saml"), 403)
		if now, _ := w.st.Read().Connection(ctx, w.tenant.ID, id); now.Name != "Acme Entra ID" || now.DeactivatedAt != nil {
			t.Fatalf("a user administrator changed a connection: %+v", now)
		}

		// Another tenant's connection is not found, and stays as it was.
		oc, err := w.svc.SaveConnection(ctx, opActor, other, "", provision.ConnectionInput{Connection: usher.Connection{Name: "Other SSO", Protocol: "oidc",
			Domains: []string{"other.example"}, Issuer: "https://login.other.example", ClientID: "theirs"}})
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.get("/t/acme/admin/connections/"+oc.ID), 404)
		wantPage(t, b.post("/t/acme/admin/connections/"+oc.ID, form("name", "Mine now")...), 404)
		wantPage(t, b.post("/t/acme/admin/connections/"+oc.ID+"/deactivate"), 404)
		if now, _ := w.st.Read().Connection(ctx, other.ID, oc.ID); now.Name != "Other SSO" || now.DeactivatedAt != nil {
			t.Fatalf("another tenant's connection changed: %+v", now)
		}
	})
}

var testFormRE = regexp.MustCompile(`<form method="get" action="([^"]+/start)"[^>]*><input type="hidden" name="purpose" value="(test)">`)

// TestConsoleConnectionTest: the console's "Test this connection" goes to
// the identity provider (Dex) and back to the page of what it sent, and
// creates no account.
func TestConsoleConnectionTest(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, sw *signinWorld) {
		// The administrator first: with a connection, a new internal user would be on it.
		b := sw.admin(t, sw.tenant, usher.AdminTenant, "boss@admins.test")
		w := newSSOWorld(t, sw, nil)
		p := b.get("/t/acme/admin/connections/" + w.conn.ID)
		wantPage(t, p, 200, "Test this connection", "creates and changes nothing")
		m := testFormRE.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no test form:\n%s", p.body)
		}
		p = w.viaDex(t, b, html.UnescapeString(m[1])+"?purpose="+m[2], "full@example.com", "full")
		wantPage(t, p, 200, "The connection works", "full@example.com", "Nothing was created")
		if _, err := w.st.Read().AccountByLogin(context.Background(), w.tenant.ID, "full@example.com"); err == nil {
			t.Fatal("the test created an account")
		}
	})
}
