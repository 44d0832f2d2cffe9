package openid_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
)

const callback = "http://localhost/rp/callback"

// rp is a relying party built from go-oidc and x/oauth2, as a Go product
// would be.
type rp struct {
	t        *testing.T
	w        *world
	tn       usher.Tenant
	provider *oidc.Provider
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
	ctx      context.Context
}

func (w *world) rp(t *testing.T, tn usher.Tenant, clientID, secret string, scopes ...string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	p, err := oidc.NewProvider(ctx, w.issuer(tn))
	if err != nil {
		t.Fatal(err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", "phone", "usher", oidc.ScopeOfflineAccess}
	}
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: callback, Scopes: scopes}
	v := p.Verifier(&oidc.Config{ClientID: clientID, Now: w.clock.Now})
	return &rp{t: t, w: w, tn: tn, provider: p, cfg: cfg, verifier: v, ctx: ctx}
}

// login is one authorization request's state on the relying party's side.
type login struct {
	state, nonce, verifier string
	url                    string
}

func (r *rp) start(opts ...oauth2.AuthCodeOption) login {
	l := login{state: oauth2.GenerateVerifier()[:20], nonce: oauth2.GenerateVerifier()[:20], verifier: oauth2.GenerateVerifier()}
	opts = append([]oauth2.AuthCodeOption{oidc.Nonce(l.nonce), oauth2.S256ChallengeOption(l.verifier)}, opts...)
	l.url = r.cfg.AuthCodeURL(l.state, opts...)
	return l
}

// result is what a relying party holds after a code exchange.
type result struct {
	token   *oauth2.Token
	idToken *oidc.IDToken
	claims  map[string]any
}

// finish checks the authorization response (state, RFC 9207's iss) and
// exchanges its code.
func (r *rp) finish(l login, back *url.URL) result {
	r.t.Helper()
	if back == nil {
		r.t.Fatal("the browser was not sent back to the relying party")
	}
	wantParam(r.t, back, "state", l.state)
	wantParam(r.t, back, "iss", r.w.issuer(r.tn))
	if e := back.Query().Get("error"); e != "" {
		r.t.Fatalf("authorization error %s: %s", e, back.Query().Get("error_description"))
	}
	tok, err := r.cfg.Exchange(r.ctx, back.Query().Get("code"), oauth2.VerifierOption(l.verifier))
	if err != nil {
		r.t.Fatalf("code exchange: %v", err)
	}
	return r.verify(tok, l.nonce)
}

func (r *rp) verify(tok *oauth2.Token, nonce string) result {
	r.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		r.t.Fatalf("ID token: %v", err)
	}
	if nonce != "" && idt.Nonce != nonce {
		r.t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	res := result{token: tok, idToken: idt}
	if err := idt.Claims(&res.claims); err != nil {
		r.t.Fatal(err)
	}
	return res
}

// header is a JWT's header.
func header(t *testing.T, jwt string) map[string]any {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return jsonOf(t, string(h))
}

// TestCodeFlow: a product registered through the API signs a person in
// with code + PKCE through usher's sign-in pages, verifies the ID token and
// the access token offline, and reads userinfo, with every claim.
func TestCodeFlow(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ada := w.ada(t)
		// Discovery lists every endpoint and only what usher offers.
		d := jsonOf(t, w.browser(t).get(w.issuer(w.tenant)+"/.well-known/openid-configuration").body)
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint",
			"introspection_endpoint", "end_session_endpoint"} {
			if s, _ := d[k].(string); !strings.HasPrefix(s, w.issuer(w.tenant)+"/oauth/") {
				t.Errorf("discovery %s = %v", k, d[k])
			}
		}
		if d["issuer"] != w.issuer(w.tenant) || d["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("discovery: %v", d)
		}
		if rt, _ := json.Marshal(d["response_types_supported"]); string(rt) != `["code"]` {
			t.Errorf("response types: %s", rt)
		}
		if gt, _ := json.Marshal(d["grant_types_supported"]); strings.Contains(string(gt), "implicit") {
			t.Errorf("grant types: %s", gt)
		}
		// Client assertions: the methods and the algorithms their keys may use.
		if m, _ := json.Marshal(d["token_endpoint_auth_methods_supported"]); !strings.Contains(string(m), `"private_key_jwt"`) {
			t.Errorf("token endpoint auth methods: %s", m)
		}
		if a, _ := json.Marshal(d["token_endpoint_auth_signing_alg_values_supported"]); string(a) != `["ES256","RS256","PS256"]` {
			t.Errorf("token endpoint auth signing algorithms: %s", a)
		}

		// Contact roles at two sites of a customer, listed by site then role.
		ctx := context.Background()
		globexName, berlinName, parisName := "Globex", "Globex Berlin", "Globex Paris"
		globex, err := w.svc.CreateOrganization(ctx, opActor, w.tenant, provision.OrganizationInput{Name: &globexName})
		if err != nil {
			t.Fatal(err)
		}
		var sites []usher.Organization
		for _, name := range []*string{&berlinName, &parisName} {
			site, err := w.svc.CreateOrganization(ctx, opActor, w.tenant, provision.OrganizationInput{Name: name, ParentID: globex.ID})
			if err != nil {
				t.Fatal(err)
			}
			sites = append(sites, site)
		}
		for i, roles := range [][]string{{"Technical", "Billing"}, {"Primary"}} {
			if _, err := w.svc.Relate(ctx, opActor, w.tenant, sites[i].ID, provision.RelationshipInput{PersonID: ada.PersonID, Roles: roles}); err != nil {
				t.Fatal(err)
			}
		}
		slices.SortFunc(sites, func(a, b usher.Organization) int { return strings.Compare(a.ID, b.ID) })
		wantRoles := map[string]string{berlinName: `["Billing","Technical"]`, parisName: `["Primary"]`}

		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "type": "confidential", "redirect_uris": []string{callback}})
		if c.ID == "" || c.ClientSecret == "" || c.AuthMethod != "client_secret_basic" {
			t.Fatalf("created client: %+v", c)
		}
		// Shown once: reading it again gives no secret.
		if r := w.api(t, "GET", "/api/v1/tenants/acme/clients/"+c.ID, nil); r.status != 200 || strings.Contains(r.body, c.ClientSecret) || strings.Contains(r.body, "secret\"") {
			t.Fatalf("read client: %d %s", r.status, r.body)
		}

		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		b := w.browser(t)
		l := r.start(oauth2.SetAuthURLParam("login_hint", "ada@example.com"))
		p := b.get(l.url)
		if !strings.Contains(p.body, `value="ada@example.com"`) {
			t.Fatalf("login_hint did not fill in the identifier:\n%s", p.body)
		}
		res := r.finish(l, b.signIn(p, w.tenant, "ada@example.com", "analytical engine 1843"))
		if res.idToken.Subject != ada.ID {
			t.Fatalf("sub %q, want the account %q", res.idToken.Subject, ada.ID)
		}
		if h := header(t, res.token.Extra("id_token").(string)); h["alg"] != "ES256" {
			t.Fatalf("ID token header %v", h)
		}
		cl := res.claims
		want := map[string]any{"email": "ada@example.com", "email_verified": true, "name": "Ada Lovelace", "given_name": "Ada",
			"family_name": "Lovelace", "preferred_username": "ada@example.com", "phone_number": "+447700900123", "locale": "en",
			"tenant": "acme", "role": "manager", "plan": "std", "department": "research"}
		for k, v := range want {
			if cl[k] != v {
				t.Errorf("ID token claim %s = %v, want %v", k, cl[k], v)
			}
		}
		if g, _ := json.Marshal(cl["groups"]); string(g) != `["operations","engineering"]` {
			t.Errorf("groups (primary first) = %s", g)
		}
		if org, _ := cl["organization"].(map[string]any); org["kind"] != "internal" {
			t.Errorf("organization = %v", cl["organization"])
		}
		if cr, _ := cl["contact_roles"].([]any); len(cr) != 2 {
			t.Errorf("contact roles = %v", cl["contact_roles"])
		} else {
			for i, v := range cr {
				m, _ := v.(map[string]any)
				roles, _ := json.Marshal(m["roles"])
				if m["site_id"] != sites[i].ID || string(roles) != wantRoles[sites[i].Name] || m["site"] != sites[i].Name {
					t.Errorf("contact roles[%d] = %v, want %s with %s", i, m, sites[i].Name, wantRoles[sites[i].Name])
				}
			}
		}
		if res.token.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access")
		}

		// The access token is an RFC 9068 JWT a product verifies offline
		// against the JWKS.
		at := res.token.AccessToken
		if h := header(t, at); h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == "" {
			t.Fatalf("access token header %v", h)
		}
		ks := oidc.NewRemoteKeySet(r.ctx, w.issuer(w.tenant)+"/oauth/jwks")
		payload, err := ks.VerifySignature(r.ctx, at)
		if err != nil {
			t.Fatalf("access token signature: %v", err)
		}
		atc := jsonOf(t, string(payload))
		if atc["iss"] != w.issuer(w.tenant) || atc["sub"] != ada.ID || atc["client_id"] != c.ID || atc["role"] != "manager" || atc["tenant"] != "acme" {
			t.Fatalf("access token claims %v", atc)
		}
		if aud, _ := json.Marshal(atc["aud"]); string(aud) != `["`+c.ID+`"]` {
			t.Fatalf("access token aud %s", aud)
		}
		exp, iat := atc["exp"].(float64), atc["iat"].(float64)
		if exp-iat != 600 {
			t.Fatalf("access token lifetime %v s, want 600", exp-iat)
		}
		if !slices.Contains(strings.Fields(atc["scope"].(string)), "usher") {
			t.Fatalf("access token scope %v", atc["scope"])
		}

		// Userinfo says the same.
		ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(res.token))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uic map[string]any
		ui.Claims(&uic)
		if ui.Subject != ada.ID || ui.Email != "ada@example.com" || !ui.EmailVerified || uic["role"] != "manager" || uic["name"] != "Ada Lovelace" {
			t.Fatalf("userinfo %v", uic)
		}

		// One sign-in serves the next request: prompt=none gets a code at once.
		l = r.start(oauth2.SetAuthURLParam("prompt", "none"))
		b.get(l.url)
		r.finish(l, b.back)
	})
}

// TestPromptAndMaxAge: prompt=none without a session answers
// login_required; prompt=login and an old sign-in beyond max_age ask for a
// new sign-in, and the new session's auth_time says so.
func TestPromptAndMaxAge(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "id_token_signed_response_alg": "RS256"})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret, "openid", "email")
		b := w.browser(t)

		l := r.start(oauth2.SetAuthURLParam("prompt", "none"))
		b.get(l.url)
		if b.back == nil {
			t.Fatal("prompt=none without a session did not go back to the relying party")
		}
		wantParam(t, b.back, "error", "login_required")
		wantParam(t, b.back, "state", l.state)
		wantParam(t, b.back, "iss", w.issuer(w.tenant))

		l = r.start()
		first := r.finish(l, b.signIn(b.get(l.url), w.tenant, "ada@example.com", "analytical engine 1843"))
		if h := header(t, first.token.Extra("id_token").(string)); h["alg"] != "RS256" {
			t.Fatalf("a client registered for RS256 got %v", h)
		}

		w.clock.Advance(10 * time.Minute)
		// prompt=login: the sign-in page again, though signed in.
		l = r.start(oauth2.SetAuthURLParam("prompt", "login"))
		p := b.get(l.url)
		if b.back != nil || !strings.Contains(p.body, `name="identifier"`) {
			t.Fatalf("prompt=login did not ask for a sign-in: %d %s", p.status, p.body)
		}
		again := r.finish(l, b.signIn(p, w.tenant, "ada@example.com", "analytical engine 1843"))
		authTime := func(res result) float64 { return res.claims["auth_time"].(float64) }
		if authTime(again) <= authTime(first) {
			t.Fatalf("auth_time %v after prompt=login, %v before", authTime(again), authTime(first))
		}

		// max_age: a sign-in younger than it is kept, an older one is not.
		l = r.start(oauth2.SetAuthURLParam("max_age", "3600"))
		b.get(l.url)
		if res := r.finish(l, b.back); authTime(res) != authTime(again) {
			t.Fatal("max_age=3600 asked for a new sign-in ten minutes after one")
		}
		w.clock.Advance(2 * time.Minute)
		l = r.start(oauth2.SetAuthURLParam("max_age", "60"))
		p = b.get(l.url)
		if b.back != nil {
			t.Fatal("max_age=60 kept a sign-in two minutes old")
		}
		r.finish(l, b.signIn(p, w.tenant, "ada@example.com", "analytical engine 1843"))
	})
}
