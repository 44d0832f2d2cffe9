package testidp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// idClaims are the ID token's claims the tests look at.
type idClaims struct {
	Subject           string   `json:"sub"`
	Email             string   `json:"email"`
	EmailVerified     bool     `json:"email_verified"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
	Nonce             string   `json:"nonce"`
}

var ada = DexUser{
	Email:             "ada@example.com",
	Username:          "Ada Lovelace",
	UserID:            "ada-0001",
	Password:          "analytical engine",
	PreferredUsername: "ada",
	Groups:            []string{"engineering", "admins"},
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the Dex tests build and run Dex (github.com/dexidp/dex), minutes the first time")
	}
}

// relyingParty is a throwaway relying party: /login sets state, nonce and
// the PKCE verifier in a cookie and redirects to Dex; /callback checks the
// state, exchanges the code, verifies the ID token and its nonce, and
// answers with the token's claims as JSON.
type relyingParty struct {
	srv    *httptest.Server
	client DexClient
	conf   *oauth2.Config
	verify *oidc.IDTokenVerifier
}

func newRelyingParty(t *testing.T, client DexClient) *relyingParty {
	rp := &relyingParty{client: client}
	mux := http.NewServeMux()
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	rp.client.RedirectURIs = []string{rp.srv.URL + "/callback"}

	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
		http.SetCookie(w, &http.Cookie{Name: "rp", Value: state + "." + nonce + "." + verifier, Path: "/", HttpOnly: true})
		http.Redirect(w, r, rp.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("rp")
		if err != nil {
			http.Error(w, "no state cookie", http.StatusBadRequest)
			return
		}
		parts := strings.Split(c.Value, ".")
		if len(parts) != 3 || r.FormValue("state") != parts[0] {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			return
		}
		tok, err := rp.conf.Exchange(r.Context(), r.FormValue("code"), oauth2.VerifierOption(parts[2]))
		if err != nil {
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := rp.verify.Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "verify: "+err.Error(), http.StatusBadGateway)
			return
		}
		if idt.Nonce != parts[1] {
			http.Error(w, "nonce mismatch", http.StatusBadRequest)
			return
		}
		var claims json.RawMessage
		if err := idt.Claims(&claims); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(claims)
	})
	return rp
}

// connect points the relying party at a started Dex.
func (rp *relyingParty) connect(t *testing.T, dex *Dex) {
	provider, err := oidc.NewProvider(t.Context(), dex.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	rp.conf = &oauth2.Config{
		ClientID:     rp.client.ID,
		ClientSecret: rp.client.Secret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  rp.client.RedirectURIs[0],
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile", "groups"},
	}
	rp.verify = provider.Verifier(&oidc.Config{ClientID: rp.client.ID})
}

// pathRecorder records the method and path of every request it carries.
type pathRecorder struct{ seen []string }

func (p *pathRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	p.seen = append(p.seen, r.Method+" "+r.URL.Path)
	return http.DefaultTransport.RoundTrip(r)
}

// signIn runs the code flow: LoginAt from the relying party's /login to its
// callback, then the callback with the same cookie jar. It returns the ID
// token's claims and the requests made.
func (rp *relyingParty) signIn(t *testing.T, dex *Dex, email, password string) (idClaims, []string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	rec := &pathRecorder{}
	browser := &http.Client{Jar: jar, Transport: rec}
	callback, err := dex.LoginAt(t.Context(), browser, rp.srv.URL+"/login", email, password)
	if err != nil {
		t.Fatalf("LoginAt: %v", err)
	}
	if !strings.HasPrefix(callback.String(), rp.srv.URL+"/callback?") || callback.Query().Get("code") == "" {
		t.Fatalf("LoginAt returned %s, want the callback with a code", callback)
	}
	resp, err := browser.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("callback: %s, %v", resp.Status, err)
	}
	var claims idClaims
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	t.Logf("ID token claims: %s", raw)
	return claims, rec.seen
}

func checkAda(t *testing.T, got idClaims) {
	t.Helper()
	if got.Subject != DexSubject(ada.UserID) {
		t.Errorf("sub = %q, want %q (DexSubject(%q))", got.Subject, DexSubject(ada.UserID), ada.UserID)
	}
	if got.Email != ada.Email || !got.EmailVerified {
		t.Errorf("email = %q, email_verified = %v; want %q, true", got.Email, got.EmailVerified, ada.Email)
	}
	if got.Name != ada.Username || got.PreferredUsername != ada.PreferredUsername {
		t.Errorf("name = %q, preferred_username = %q; want %q, %q", got.Name, got.PreferredUsername, ada.Username, ada.PreferredUsername)
	}
	if !slices.Equal(got.Groups, ada.Groups) {
		t.Errorf("groups = %q, want %q", got.Groups, ada.Groups)
	}
}

func TestDex(t *testing.T) {
	skipShort(t)
	rp := newRelyingParty(t, DexClient{ID: "usher", Secret: "usher-secret"})
	dex := StartDex(t, DexConfig{Clients: []DexClient{rp.client}, Users: []DexUser{ada}})
	if !strings.HasPrefix(dex.Issuer, "http://127.0.0.1:") || !strings.HasSuffix(dex.Issuer, "/dex") {
		t.Fatalf("issuer %q", dex.Issuer)
	}

	t.Run("Discovery", func(t *testing.T) {
		resp, err := http.Get(dex.Issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Issuer     string   `json:"issuer"`
			Auth       string   `json:"authorization_endpoint"`
			Token      string   `json:"token_endpoint"`
			GrantTypes []string `json:"grant_types_supported"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if doc.Issuer != dex.Issuer || doc.Auth != dex.Issuer+"/auth" || doc.Token != dex.Issuer+"/token" {
			t.Errorf("discovery: %+v", doc)
		}
		for _, g := range []string{"authorization_code", "password"} {
			if !slices.Contains(doc.GrantTypes, g) {
				t.Errorf("grant_types_supported %q lacks %q", doc.GrantTypes, g)
			}
		}
	})

	t.Run("CodeFlow", func(t *testing.T) {
		rp.connect(t, dex)
		claims, seen := rp.signIn(t, dex, ada.Email, ada.Password)
		checkAda(t, claims)
		t.Logf("requests: %q", seen)
		if slices.ContainsFunc(seen, func(s string) bool { return strings.HasSuffix(s, "/approval") }) {
			t.Errorf("the approval screen was shown: %q", seen)
		}
		// Dex compares emails without regard to case.
		claims, _ = rp.signIn(t, dex, strings.ToUpper(ada.Email), ada.Password)
		checkAda(t, claims)
	})

	t.Run("WrongPassword", func(t *testing.T) {
		rp.connect(t, dex)
		jar, _ := cookiejar.New(nil)
		u, err := dex.LoginAt(t.Context(), &http.Client{Jar: jar}, rp.srv.URL+"/login", ada.Email, "wrong")
		if err == nil {
			t.Fatalf("LoginAt with a wrong password returned %s", u)
		}
		t.Logf("LoginAt: %v", err)
		if _, err := dex.PasswordGrant(t.Context(), rp.client, ada.Email, "wrong"); err == nil {
			t.Error("PasswordGrant with a wrong password: no error")
		}
	})

	t.Run("PasswordGrant", func(t *testing.T) {
		raw, err := dex.PasswordGrant(t.Context(), rp.client, ada.Email, ada.Password)
		if err != nil {
			t.Fatal(err)
		}
		provider, err := oidc.NewProvider(t.Context(), dex.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: rp.client.ID}).Verify(t.Context(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var claims idClaims
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		checkAda(t, claims)
	})
}

// TestDexPublicClientApproval signs in with a public client (PKCE, no
// secret) through Dex's approval screen, and a user whose email is not
// verified and who has no groups.
func TestDexPublicClientApproval(t *testing.T) {
	skipShort(t)
	rp := newRelyingParty(t, DexClient{ID: "spa", Public: true})
	bob := DexUser{Email: "bob@example.com", Username: "Bob", Password: "pw-bob", EmailUnverified: true}
	dex := StartDex(t, DexConfig{Clients: []DexClient{rp.client}, Users: []DexUser{bob}, ShowApproval: true})
	rp.connect(t, dex)

	got, seen := rp.signIn(t, dex, bob.Email, bob.Password)
	t.Logf("requests: %q", seen)
	if !slices.ContainsFunc(seen, func(s string) bool { return strings.HasPrefix(s, "POST ") && strings.HasSuffix(s, "/approval") }) {
		t.Errorf("no approval posted: %q", seen)
	}
	want := idClaims{Subject: DexSubject(bob.Email), Email: bob.Email, Name: bob.Username}
	if got.Nonce == "" {
		t.Error("no nonce")
	}
	got.Nonce = ""
	if !equalClaims(got, want) {
		t.Errorf("claims %+v, want %+v", got, want)
	}

	if _, err := dex.PasswordGrant(t.Context(), rp.client, bob.Email, bob.Password); err != nil {
		t.Errorf("PasswordGrant for a public client: %v", err)
	}
}

func equalClaims(a, b idClaims) bool {
	return a.Subject == b.Subject && a.Email == b.Email && a.EmailVerified == b.EmailVerified &&
		a.Name == b.Name && a.PreferredUsername == b.PreferredUsername && slices.Equal(a.Groups, b.Groups) && a.Nonce == b.Nonce
}

// LoginAt must stop at the callback even when it is on the same host name
// as Dex but another port, and must not need a jar from the caller.
func TestDexLoginAtDirect(t *testing.T) {
	skipShort(t)
	client := DexClient{ID: "direct", Secret: "s", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}
	dex := StartDex(t, DexConfig{Clients: []DexClient{client}, Users: []DexUser{ada}})
	auth := dex.Issuer + "/auth?" + url.Values{
		"client_id": {client.ID}, "redirect_uri": {client.RedirectURIs[0]}, "response_type": {"code"},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"n"},
	}.Encode()
	got, err := dex.LoginAt(context.Background(), nil, auth, ada.Email, ada.Password)
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != "127.0.0.1:1" || got.Path != "/cb" || got.Query().Get("state") != "st" || got.Query().Get("code") == "" {
		t.Errorf("LoginAt returned %s", got)
	}
}
