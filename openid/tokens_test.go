package openid_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
)

// form posts a form to the tenant's endpoint path, with basic
// authentication when clientID is set, and returns the JSON answer.
func (w *world) form(t *testing.T, tn usher.Tenant, path, clientID, secret string, kv ...string) (int, map[string]any) {
	t.Helper()
	return w.formAt(t, w.issuer(tn), path, clientID, secret, kv...)
}

// formAt is form for the issuer at base (another replica's, say).
func (w *world) formAt(t *testing.T, base, path, clientID, secret string, kv ...string) (int, map[string]any) {
	t.Helper()
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b := new(strings.Builder)
	if _, err := io.Copy(b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(b.String()); strings.HasPrefix(s, "{") {
		out = jsonOf(t, s)
	} else {
		out = map[string]any{"text": s}
	}
	return resp.StatusCode, out
}

func (w *world) introspect(t *testing.T, tn usher.Tenant, clientID, secret, token string) map[string]any {
	t.Helper()
	status, out := w.form(t, tn, "/oauth/introspect", clientID, secret, "token", token)
	if status != 200 {
		t.Fatalf("introspection: %d %v", status, out)
	}
	return out
}

// signedIn runs a code flow for ada with r and returns its tokens.
func (r *rp) signedIn(b *browser) result {
	r.t.Helper()
	l := r.start()
	p := b.get(l.url)
	if b.back != nil {
		return r.finish(l, b.back)
	}
	return r.finish(l, b.signIn(p, r.tn, "ada@example.com", "analytical engine 1843"))
}

// TestRefreshRotation: each refresh gives a new refresh token and the old
// one stops working; presenting a used one revokes the whole family, and
// introspection says so at once.
func TestRefreshRotation(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		first := r.signedIn(w.browser(t))

		rt1 := first.token.RefreshToken
		if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, rt1); in["active"] != true || in["token_type"] != "refresh_token" {
			t.Fatalf("a fresh refresh token introspects as %v", in)
		}
		t1 := &oauth2.Token{RefreshToken: rt1, Expiry: time.Now().Add(-time.Hour)}
		second, err := r.cfg.TokenSource(r.ctx, t1).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if second.RefreshToken == "" || second.RefreshToken == rt1 || second.AccessToken == first.token.AccessToken {
			t.Fatalf("refresh did not rotate: %+v", second)
		}
		res := r.verify(second, "")
		if res.claims["email"] != "ada@example.com" || res.claims["role"] != "manager" {
			t.Fatalf("refreshed ID token claims %v", res.claims)
		}
		if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, second.AccessToken); in["active"] != true || in["client_id"] != c.ID || in["scope"] == nil {
			t.Fatalf("the new access token introspects as %v", in)
		}
		if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, rt1); in["active"] != false {
			t.Fatalf("a used refresh token introspects as %v", in)
		}

		// The used token again: refused, and the family is revoked.
		status, out := w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", rt1)
		if status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("a reused refresh token: %d %v", status, out)
		}
		status, out = w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", second.RefreshToken)
		if status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("the newest token of a revoked family: %d %v", status, out)
		}
		for _, tok := range []string{second.AccessToken, first.token.AccessToken, second.RefreshToken} {
			if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, tok); in["active"] != false {
				t.Fatalf("a token of a revoked family introspects as %v", in)
			}
		}
		if _, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(second)); err == nil {
			t.Fatal("userinfo answers an access token of a revoked family")
		}
	})
}

// TestRevocation: RFC 7009 revocation of a refresh token ends its family;
// of an access token, that token; an unknown token is no error; another
// client's token is refused.
func TestRevocation(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}})
		other := w.client(t, w.tenant, map[string]any{"name": "Other", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		b := w.browser(t)
		a := r.signedIn(b)

		if status, out := w.form(t, w.tenant, "/oauth/revoke", other.ID, other.ClientSecret, "token", a.token.AccessToken); status != 400 {
			t.Fatalf("another client revoked the access token: %d %v", status, out)
		}
		if status, _ := w.form(t, w.tenant, "/oauth/revoke", c.ID, c.ClientSecret, "token", "not-a-token"); status != 200 {
			t.Fatalf("an unknown token: %d", status)
		}
		if status, out := w.form(t, w.tenant, "/oauth/revoke", c.ID, c.ClientSecret, "token", a.token.AccessToken, "token_type_hint", "access_token"); status != 200 {
			t.Fatalf("revoke access token: %d %v", status, out)
		}
		if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, a.token.AccessToken); in["active"] != false {
			t.Fatalf("a revoked access token introspects as %v", in)
		}
		// The refresh token lives on, until it is revoked itself.
		if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, a.token.RefreshToken); in["active"] != true {
			t.Fatalf("the refresh token after its access token's revocation: %v", in)
		}
		if status, out := w.form(t, w.tenant, "/oauth/revoke", c.ID, c.ClientSecret, "token", a.token.RefreshToken); status != 200 {
			t.Fatalf("revoke refresh token: %d %v", status, out)
		}
		status, out := w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", a.token.RefreshToken)
		if status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("a revoked refresh token: %d %v", status, out)
		}
	})
}

// TestClientCredentials: a machine client gets an access token for itself,
// which introspects as active; a wrong secret gets nothing.
func TestClientCredentials(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		m := w.client(t, w.tenant, map[string]any{"name": "Nightly sync", "grant_types": []string{"client_credentials"}, "scopes": []string{"usher"}})
		status, out := w.form(t, w.tenant, "/oauth/token", m.ID, m.ClientSecret, "grant_type", "client_credentials", "scope", "usher")
		if status != 200 || out["access_token"] == nil || out["refresh_token"] != nil || out["id_token"] != nil {
			t.Fatalf("client credentials: %d %v", status, out)
		}
		at := out["access_token"].(string)
		if h := header(t, at); h["typ"] != "at+jwt" || h["alg"] != "ES256" {
			t.Fatalf("header %v", h)
		}
		in := w.introspect(t, w.tenant, m.ID, m.ClientSecret, at)
		if in["active"] != true || in["sub"] != m.ID || in["client_id"] != m.ID || in["tenant"] != "acme" {
			t.Fatalf("introspection of a machine token: %v", in)
		}
		// client_secret_post works too.
		status, _ = w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_id", m.ID, "client_secret", m.ClientSecret)
		if status != 200 {
			t.Fatalf("client_secret_post: %d", status)
		}
		status, out = w.form(t, w.tenant, "/oauth/token", m.ID, m.ClientSecret+"x", "grant_type", "client_credentials")
		if status != 401 || out["error"] != "invalid_client" {
			t.Fatalf("a wrong secret: %d %v", status, out)
		}
		// Not a grant this client has.
		status, out = w.form(t, w.tenant, "/oauth/token", m.ID, m.ClientSecret, "grant_type", "refresh_token", "refresh_token", "x")
		if status < 400 || status >= 500 {
			t.Fatalf("refresh_token for a machine client: %d %v", status, out)
		}
		// Deleting the client ends its tokens at once.
		if r := w.api(t, "DELETE", "/api/v1/tenants/acme/clients/"+m.ID, nil); r.status != 200 || !strings.Contains(r.body, "deleted_at") {
			t.Fatalf("delete client: %d %s", r.status, r.body)
		}
		w.clock.Advance(3 * time.Second) // other replicas' caches
		gw := w.client(t, w.tenant, map[string]any{"name": "Gateway", "grant_types": []string{"client_credentials"}})
		if in := w.introspect(t, w.tenant, gw.ID, gw.ClientSecret, at); in["active"] != false {
			t.Fatalf("a deleted client's token: %v", in)
		}
	})
}

// TestAccountEnded: suspending an account, deactivating it, or signing
// out everywhere revokes what its products were given; a reactivation
// does not bring it back.
func TestAccountEnded(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ada := w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		admin := usher.Actor{Kind: usher.ActorToken, Role: usher.AdminUser}
		state := func(s string) {
			t.Helper()
			if _, err := w.svc.UpdateAccount(ctx, admin, w.tenant, ada.ID, provision.AccountUpdate{State: &s}); err != nil {
				t.Fatal(err)
			}
		}
		refresh := func(rt string) (int, map[string]any) {
			return w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", rt)
		}

		a := r.signedIn(w.browser(t))
		state(usher.StateSuspended)
		if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, a.token.AccessToken); in["active"] != false {
			t.Fatalf("a suspended account's access token: %v", in)
		}
		if status, out := refresh(a.token.RefreshToken); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("a suspended account's refresh token: %d %v", status, out)
		}
		state(usher.StateActive)
		if status, _ := refresh(a.token.RefreshToken); status != 400 {
			t.Fatal("reactivation brought a revoked refresh token back")
		}

		// Deactivation.
		b := w.browser(t)
		a = r.signedIn(b)
		state(usher.StateDeactivated)
		if status, _ := refresh(a.token.RefreshToken); status != 400 {
			t.Fatal("a deactivated account's refresh token works")
		}
		if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, a.token.AccessToken); in["active"] != false {
			t.Fatalf("a deactivated account's access token: %v", in)
		}
		state(usher.StateActive)

		// Sign out everywhere else: the other browsers' grants end, this one's stay.
		phone, laptop := w.browser(t), w.browser(t)
		onPhone, onLaptop := r.signedIn(phone), r.signedIn(laptop)
		p := laptop.post(w.issuer(w.tenant) + "/account/sessions/end-others")
		if p.status != 200 {
			t.Fatalf("sign out everywhere else: %d %s", p.status, p.body)
		}
		if status, _ := refresh(onPhone.token.RefreshToken); status != 400 {
			t.Fatal("signing out everywhere else left the phone's refresh token working")
		}
		if status, out := refresh(onLaptop.token.RefreshToken); status != 200 {
			t.Fatalf("this browser's own refresh token: %d %v", status, out)
		}
	})
}

// TestLogout: RP-initiated logout with an id_token_hint ends the browser's
// session and the grants made through it, and goes to the registered
// post-logout address with the state; an unregistered one is refused.
func TestLogout(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		const after = "http://localhost/rp/signed-out"
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "post_logout_redirect_uris": []string{after}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		b := w.browser(t)
		a := r.signedIn(b)
		idt := a.token.Extra("id_token").(string)
		end := w.issuer(w.tenant) + "/oauth/logout?"

		p := b.get(end + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"http://localhost/elsewhere"}}.Encode())
		if p.status != 400 || b.back != nil {
			t.Fatalf("an unregistered post-logout address: %d, back to %v", p.status, b.back)
		}
		b.get(end + url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {after}, "state": {"s1"}}.Encode())
		if b.back == nil || !strings.HasPrefix(b.back.String(), after) {
			t.Fatalf("logout went to %v", b.back)
		}
		wantParam(t, b.back, "state", "s1")
		if status, _ := w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", a.token.RefreshToken); status != 400 {
			t.Fatal("the grant of a signed-out session still refreshes")
		}
		// Signed out: prompt=none now answers login_required.
		l := r.start(oauth2.SetAuthURLParam("prompt", "none"))
		b.get(l.url)
		wantParam(t, b.back, "error", "login_required")
	})
}
