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

// ssoWorld is a tenant whose connection to Dex signs in grace@example.com.
type ssoWorld struct {
	in   provision.ConnectionInput
	conn usher.Connection
	dex  *testidp.Dex
}

func (w *world) sso(t *testing.T) ssoWorld {
	t.Helper()
	ctx := context.Background()
	in := provision.ConnectionInput{Connection: usher.Connection{Name: "Example Corp", Protocol: "oidc", Domains: []string{"example.com"},
		Issuer: "http://127.0.0.1:1/not-yet", ClientID: "usher", ClientSecret: "dex-secret", JIT: true}}
	conn, err := w.svc.SaveConnection(ctx, ssoAdmin, w.tenant, "", in)
	if err != nil {
		t.Fatal(err)
	}
	dex := testidp.StartDex(t, testidp.DexConfig{
		Clients: []testidp.DexClient{{ID: "usher", Secret: "dex-secret", RedirectURIs: []string{w.issuer(w.tenant) + "/sso/" + conn.ID + "/callback"}}},
		Users:   []testidp.DexUser{{Email: "grace@example.com", Username: "Grace Hopper", UserID: "grace", Password: "pw-grace"}},
	})
	in.Connection = conn
	in.Issuer = dex.Issuer
	if conn, err = w.svc.SaveConnection(ctx, ssoAdmin, w.tenant, conn.ID, in); err != nil {
		t.Fatal(err)
	}
	in.Connection = conn
	return ssoWorld{in: in, conn: conn, dex: dex}
}

var ssoAdmin = usher.Actor{Kind: "token", Role: usher.AdminTenant}

// signedInThroughSSO runs r's code flow in b for grace, through Dex.
func (r *rp) signedInThroughSSO(b *browser, sw ssoWorld) result {
	r.t.Helper()
	t, w := r.t, r.w
	l := r.start()
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
	back, err := sw.dex.LoginAt(context.Background(), &http.Client{Jar: b.c.Jar}, html.UnescapeString(h[1]), "grace@example.com", "pw-grace")
	if err != nil {
		t.Fatal(err)
	}
	b.get(back.String())
	return r.finish(l, b.back)
}

// TestCodeFlowThroughSSO: a product signs in a person whose company signs
// them in: the product's authorization request, usher's identifier step,
// the hand-over to the company's OpenID Connect provider (Dex), a
// just-in-time account, and back to the product with a code whose tokens
// name that account.
func TestCodeFlowThroughSSO(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		sw := w.sso(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "type": "confidential", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		res := r.signedInThroughSSO(w.browser(t), sw)
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

// TestConnectionDeactivatedEndsGrants: deactivating a connection ends the
// sessions signed in through it and, in the same transaction, revokes the
// grants those sessions gave the products and queues their logout tokens;
// a grant of a password session of the same tenant stays.
func TestConnectionDeactivatedEndsGrants(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		// A person of another domain signs in with a password.
		w.person(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ken", LastName: "Thompson", Email: "ken@unix.example.org"}},
			"pdp-7 space travel 1969")
		sw := w.sso(t)
		rc := newReceiver(t, w.clock.Now)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "type": "confidential", "redirect_uris": []string{callback},
			"backchannel_logout_uri": rc.url + "/a"})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		grace := r.signedInThroughSSO(w.browser(t), sw)
		ken := r.signedInAs(w.browser(t), "ken@unix.example.org", "pdp-7 space travel 1969")
		refresh := func(rt string) (int, map[string]any) {
			return w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", rt)
		}

		off := true
		sw.in.Deactivated = &off
		if _, err := w.svc.SaveConnection(ctx, ssoAdmin, w.tenant, sw.conn.ID, sw.in); err != nil {
			t.Fatal(err)
		}
		if status, out := refresh(grace.token.RefreshToken); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("a refresh token of a deactivated connection's session: %d %v", status, out)
		}
		if status, out := refresh(ken.token.RefreshToken); status != 200 {
			t.Fatalf("a refresh token of a password session: %d %v", status, out)
		}
		w.deliver(t)
		got := rc.tokens("/a")
		if len(got) != 1 || w.verifyLogout(t, rc, w.tenant, got[0], c.ID)["sid"] != grace.claims["sid"] {
			t.Fatalf("after the deactivation Ledger has %d logout tokens", len(got))
		}
	})
}
