package openid_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/testidp"
	"github.com/usherhq/usher/provision"
)

var handOverRE = regexp.MustCompile(`href="([^"]*/sso/[^"]+/start[^"]*)"`)

// TestCodeFlowThroughSSO: a product signs in a person whose company signs
// them in: the product's authorization request, usher's identifier step,
// the hand-over to the company's OpenID Connect provider (Dex), a
// just-in-time account, and back to the product with a code whose tokens
// name that account.
func TestCodeFlowThroughSSO(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		admin := usher.Actor{Kind: "token", Role: usher.AdminTenant}
		in := provision.ConnectionInput{Connection: usher.Connection{Name: "Example Corp", Protocol: "oidc", Domains: []string{"example.com"},
			Issuer: "http://127.0.0.1:1/not-yet", ClientID: "usher", ClientSecret: "dex-secret", JIT: true}}
		conn, err := w.svc.SaveConnection(ctx, admin, w.tenant, "", in)
		if err != nil {
			t.Fatal(err)
		}
		dex := testidp.StartDex(t, testidp.DexConfig{
			Clients: []testidp.DexClient{{ID: "usher", Secret: "dex-secret", RedirectURIs: []string{w.issuer(w.tenant) + "/sso/" + conn.ID + "/callback"}}},
			Users:   []testidp.DexUser{{Email: "grace@example.com", Username: "Grace Hopper", UserID: "grace", Password: "pw-grace"}},
		})
		in.Connection = conn
		in.Issuer = dex.Issuer
		if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, conn.ID, in); err != nil {
			t.Fatal(err)
		}

		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "type": "confidential", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		l := r.start()
		b := w.browser(t)
		p := b.get(l.url)
		m := nextRE.FindStringSubmatch(p.body)
		if p.status != 200 || m == nil {
			t.Fatalf("want the sign-in page with a next address, got %d:\n%s", p.status, p.body)
		}
		p = b.post(w.issuer(w.tenant)+"/signin", "identifier", "grace@example.com", "next", html.UnescapeString(m[1]))
		h := handOverRE.FindStringSubmatch(p.body)
		if h == nil {
			t.Fatalf("no hand-over to the company's sign-in:\n%s", p.body)
		}
		// Dex's pages with the browser's cookies; back at usher, the
		// browser follows on to the product.
		back, err := dex.LoginAt(ctx, &http.Client{Jar: b.c.Jar}, html.UnescapeString(h[1]), "grace@example.com", "pw-grace")
		if err != nil {
			t.Fatal(err)
		}
		b.get(back.String())
		res := r.finish(l, b.back)
		a, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "grace@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if res.idToken.Subject == "" || res.claims["email"] != "grace@example.com" || res.claims["given_name"] != "Grace" {
			t.Fatalf("the product's ID token: sub %q claims %v", res.idToken.Subject, res.claims)
		}
		if a.AuthSystem != usher.AuthConnection || a.State != usher.StateActive {
			t.Fatalf("the account: %+v", a)
		}
	})
}
