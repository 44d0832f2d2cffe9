package openid_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// codeFor signs ada in for r's client (once per browser) and returns the
// code of an authorization request made with extra parameters, and the
// request's PKCE verifier.
func (r *rp) codeFor(b *browser, extra ...oauth2.AuthCodeOption) (string, login) {
	r.t.Helper()
	l := r.start(extra...)
	p := b.get(l.url)
	back := b.back
	if back == nil {
		back = b.signIn(p, r.tn, "ada@example.com", "analytical engine 1843")
	}
	if e := back.Query().Get("error"); e != "" {
		r.t.Fatalf("authorization error %s: %s", e, back.Query().Get("error_description"))
	}
	return back.Query().Get("code"), l
}

// exchange posts a code to the token endpoint as r's client would.
func (r *rp) exchange(code, verifier string, kv ...string) (int, map[string]any) {
	r.t.Helper()
	args := append([]string{"grant_type", "authorization_code", "code", code, "redirect_uri", callback}, kv...)
	if verifier != "" {
		args = append(args, "code_verifier", verifier)
	}
	return r.w.form(r.t, r.tn, "/oauth/token", r.cfg.ClientID, r.cfg.ClientSecret, args...)
}

func wantError(t *testing.T, what string, status int, out map[string]any, wantStatus int, wantErr string) {
	t.Helper()
	if status != wantStatus || out["error"] != wantErr {
		t.Fatalf("%s: got %d %v, want %d %s", what, status, out, wantStatus, wantErr)
	}
}

// TestRefusals: each way a request can be wrong is refused, and the refusal
// gives nothing away nor sends anyone anywhere it should not.
func TestRefusals(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ada := w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		b := w.browser(t)
		authz := w.issuer(w.tenant) + "/oauth/authorize?"

		t.Run("unregistered and near-miss redirect URIs get an error page, never a redirect", func(t *testing.T) {
			for _, uri := range []string{"http://evil.example/cb", callback + "/", callback + "?x=1", "http://localhost:80/rp/callback",
				"http://LOCALHOST/rp/callback", "https://localhost/rp/callback", "http://localhost/rp/Callback", callback + "#f", ""} {
				q := url.Values{"client_id": {c.ID}, "redirect_uri": {uri}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"},
					"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
				p := b.get(authz + q.Encode())
				if b.back != nil || p.status != 400 || !strings.Contains(p.body, "This sign-in cannot continue") {
					t.Fatalf("redirect_uri %q: %d, sent to %v:\n%s", uri, p.status, b.back, p.body)
				}
			}
		})

		t.Run("an unknown client, or another tenant's, gets an error page at this issuer", func(t *testing.T) {
			other, _ := w.newTenant(t, "globex")
			oc := w.client(t, other, map[string]any{"name": "Globex app", "redirect_uris": []string{callback}})
			for _, id := range []string{"nobody", oc.ID} {
				q := url.Values{"client_id": {id}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"openid"}}
				p := b.get(authz + q.Encode())
				if b.back != nil || p.status != 400 || !strings.Contains(p.body, "not registered with Acme") {
					t.Fatalf("client %s: %d, sent to %v", id, p.status, b.back)
				}
			}
			// Its credentials mean nothing here either.
			status, out := w.form(t, w.tenant, "/oauth/token", oc.ID, oc.ClientSecret, "grant_type", "client_credentials")
			wantError(t, "another tenant's client at the token endpoint", status, out, 401, "invalid_client")
			status, out = w.form(t, w.tenant, "/oauth/introspect", oc.ID, oc.ClientSecret, "token", "x")
			if status != 401 {
				t.Fatalf("another tenant's client at introspection: %d %v", status, out)
			}
			// And a code of this tenant is nothing at the other's issuer.
			code, l := r.codeFor(b)
			status, out = w.form(t, other, "/oauth/token", oc.ID, oc.ClientSecret, "grant_type", "authorization_code", "code", code,
				"redirect_uri", callback, "code_verifier", l.verifier)
			wantError(t, "a code at another tenant's issuer", status, out, 400, "invalid_grant")
		})

		t.Run("a wrong client secret", func(t *testing.T) {
			code, l := r.codeFor(b)
			status, out := w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret+"x", "grant_type", "authorization_code", "code", code,
				"redirect_uri", callback, "code_verifier", l.verifier)
			wantError(t, "wrong secret", status, out, 401, "invalid_client")
			status, out = w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "authorization_code", "code", code,
				"redirect_uri", callback, "code_verifier", l.verifier, "client_id", c.ID)
			wantError(t, "no secret", status, out, 401, "invalid_client")
			// The code was not spent by the refusals.
			status, out = r.exchange(code, l.verifier)
			if status != 200 {
				t.Fatalf("the right secret after refusals: %d %v", status, out)
			}
		})

		t.Run("a reused code is refused and revokes what its first use issued", func(t *testing.T) {
			code, l := r.codeFor(b)
			status, first := r.exchange(code, l.verifier)
			if status != 200 {
				t.Fatalf("first use: %d %v", status, first)
			}
			status, out := r.exchange(code, l.verifier)
			wantError(t, "second use", status, out, 400, "invalid_grant")
			status, out = w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", first["refresh_token"].(string))
			wantError(t, "the first use's refresh token", status, out, 400, "invalid_grant")
			if in := w.introspect(t, w.tenant, c.ID, c.ClientSecret, first["access_token"].(string)); in["active"] != false {
				t.Fatalf("the first use's access token: %v", in)
			}
		})

		t.Run("a code exchanged by another client, or for another redirect URI", func(t *testing.T) {
			other := w.client(t, w.tenant, map[string]any{"name": "Other", "redirect_uris": []string{callback}})
			code, l := r.codeFor(b)
			status, out := w.form(t, w.tenant, "/oauth/token", other.ID, other.ClientSecret, "grant_type", "authorization_code", "code", code,
				"redirect_uri", callback, "code_verifier", l.verifier)
			wantError(t, "another client", status, out, 400, "invalid_grant")
			code, l = r.codeFor(b)
			status, out = w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "authorization_code", "code", code,
				"redirect_uri", "http://localhost/rp/other", "code_verifier", l.verifier)
			wantError(t, "another redirect URI", status, out, 400, "invalid_grant")
		})

		t.Run("PKCE missing, wrong, plain, or brought without a challenge", func(t *testing.T) {
			code, _ := r.codeFor(b)
			status, out := r.exchange(code, "")
			wantError(t, "no verifier", status, out, 400, "invalid_request")
			code, _ = r.codeFor(b)
			status, out = r.exchange(code, oauth2.GenerateVerifier())
			wantError(t, "a wrong verifier", status, out, 400, "invalid_grant")

			// plain is refused at the authorization endpoint, back at the client.
			q := url.Values{"client_id": {c.ID}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s2"},
				"code_challenge": {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs"}, "code_challenge_method": {"plain"}}
			b.get(authz + q.Encode())
			if b.back == nil {
				t.Fatal("plain PKCE was not answered at the client")
			}
			wantParam(t, b.back, "error", "invalid_request")
			wantParam(t, b.back, "state", "s2")
			wantParam(t, b.back, "iss", w.issuer(w.tenant))

			// A confidential client may leave PKCE out; a verifier brought
			// to a request that had no challenge is a downgrade.
			l := login{state: "s3", url: r.cfg.AuthCodeURL("s3")}
			b.get(l.url)
			code = b.back.Query().Get("code")
			status, out = r.exchange(code, oauth2.GenerateVerifier())
			wantError(t, "a verifier without a challenge", status, out, 400, "invalid_request")

			// A public client must use PKCE.
			pub := w.client(t, w.tenant, map[string]any{"name": "SPA", "type": "public", "redirect_uris": []string{callback}})
			if pub.ClientSecret != "" || pub.AuthMethod != "none" {
				t.Fatalf("a public client: %+v", pub)
			}
			q = url.Values{"client_id": {pub.ID}, "redirect_uri": {callback}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s4"}}
			b.get(authz + q.Encode())
			if b.back == nil {
				t.Fatal("a public client without PKCE was not answered at the client")
			}
			wantParam(t, b.back, "error", "invalid_request")
		})

		t.Run("an expired code", func(t *testing.T) {
			code, l := r.codeFor(b)
			w.clock.Advance(61 * time.Second)
			status, out := r.exchange(code, l.verifier)
			wantError(t, "a code after 61 s", status, out, 400, "invalid_grant")
		})

		t.Run("implicit and other response types", func(t *testing.T) {
			for _, rt := range []string{"token", "id_token", "code id_token", "id_token token"} {
				q := url.Values{"client_id": {c.ID}, "redirect_uri": {callback}, "response_type": {rt}, "scope": {"openid"}, "state": {"s5"}, "nonce": {"n"}}
				b.get(authz + q.Encode())
				if b.back == nil {
					t.Fatalf("response_type %q: not answered at the client", rt)
				}
				answer := b.back.Query()
				if answer.Get("error") == "" {
					answer, _ = url.ParseQuery(b.back.RawFragment)
				}
				if answer.Get("error") == "" || answer.Get("iss") != w.issuer(w.tenant) || answer.Has("code") || answer.Has("id_token") || answer.Has("access_token") {
					t.Fatalf("response_type %q: back to %v", rt, b.back)
				}
			}
			status, out := w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "password", "username", "ada@example.com", "password", "x")
			wantError(t, "the password grant", status, out, 400, "unsupported_grant_type")
			status, out = w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion", "x")
			wantError(t, "the JWT bearer grant", status, out, 400, "unsupported_grant_type")
		})

		t.Run("a deactivated account's refresh token", func(t *testing.T) {
			code, l := r.codeFor(b)
			_, tok := r.exchange(code, l.verifier)
			if r := w.api(t, "DELETE", "/api/v1/tenants/acme/accounts/"+ada.ID, nil); r.status != 200 {
				t.Fatalf("deactivate: %d %s", r.status, r.body)
			}
			status, out := w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", tok["refresh_token"].(string))
			wantError(t, "a deactivated account's refresh token", status, out, 400, "invalid_grant")
		})
	})
}
