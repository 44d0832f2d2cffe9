package openid_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zrp "github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher/internal/browsertest"
)

// How a test relying party bends its client assertions, to see the
// provider refuse each.
const (
	assertOK       = ""
	assertWrongKey = "wrong-key" // signed by a key not in the client's set, under a kid that is
	assertWrongAud = "wrong-aud"
	assertExpired  = "expired"
	assertReplay   = "replay" // every assertion has the same jti
)

// jwksOf is the JSON Web Key Set of pub under kid, as a client registers it.
func jwksOf(t *testing.T, kid string, pub crypto.PublicKey) map[string]any {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return jsonOf(t, string(b))
}

// bentSigner signs what the relying party library asks it to, after
// changing the claims as mode says: a misbehaving client, from the inside
// of a real library.
type bentSigner struct {
	jose.Signer
	mode string
}

func (s bentSigner) Sign(payload []byte) (*jose.JSONWebSignature, error) {
	if s.mode == assertOK || s.mode == assertWrongKey {
		return s.Signer.Sign(payload)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	switch s.mode {
	case assertWrongAud:
		claims["aud"] = []string{"https://elsewhere.example"}
	case assertExpired:
		claims["iat"], claims["exp"] = now-300, now-240
	case assertReplay:
		claims["jti"] = "one-jti-for-every-request"
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	return s.Signer.Sign(b)
}

// zitadelKeyRP is a relying party on zitadel/oidc's rp that authenticates
// to the token endpoint with a signed JWT assertion (private_key_jwt, RSA),
// its assertions bent as mode says.
func (w *world) zitadelKeyRP(t *testing.T, mode string) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c := w.client(t, w.tenant, map[string]any{"name": "Zitadel key RP", "redirect_uris": []string{base + "/callback"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(t, "rp-key-1", key.Public())})
	if c.ClientSecret != "" {
		t.Fatal("a private_key_jwt client was given a secret")
	}
	signWith := key
	if mode == assertWrongKey {
		if signWith, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: &jose.JSONWebKey{Key: signWith, KeyID: "rp-key-1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cookieKey := make([]byte, 32)
	rand.Read(cookieKey)
	cookies := httphelper.NewCookieHandler(cookieKey, cookieKey, httphelper.WithUnsecure())
	buttons := []rpButton{{"Refresh", "/refresh"}}
	refused := func(rw http.ResponseWriter, r *http.Request, desc, state string) {
		showRP(rw, rpView{Title: "Not signed in", Note: desc, Buttons: []rpButton{{"Sign in", "/login"}}})
	}
	party, err := zrp.NewRelyingPartyOIDC(context.Background(), w.issuer(w.tenant), c.ID, "", base+"/callback",
		[]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, "usher", oidc.ScopeOfflineAccess},
		zrp.WithPKCE(cookies), zrp.WithSigningAlgsFromDiscovery(), zrp.WithAuthStyle(oauth2.AuthStyleInParams),
		zrp.WithJWTProfile(func() (jose.Signer, error) { return bentSigner{signer, mode}, nil }),
		zrp.WithUnauthorizedHandler(refused))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tokens *oidc.Tokens[*oidc.IDTokenClaims]
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		showRP(rw, rpView{Title: "Zitadel key relying party", Buttons: []rpButton{{"Sign in", "/login"}}})
	})
	mux.Handle("POST /login", zrp.AuthURLHandler(func() string { return "st" + rand.Text() }, party))
	mux.Handle("GET /callback", zrp.CodeExchangeHandler(zrp.UserinfoCallback(func(rw http.ResponseWriter, r *http.Request,
		tok *oidc.Tokens[*oidc.IDTokenClaims], _ string, _ zrp.RelyingParty, info *oidc.UserInfo) {
		mu.Lock()
		tokens = tok
		mu.Unlock()
		showRP(rw, rpView{Title: "Signed in as " + info.Name, Note: "client " + tok.IDTokenClaims.Audience[0], Buttons: buttons})
	}), party))
	mux.HandleFunc("POST /refresh", func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		old := tokens
		mu.Unlock()
		nt, err := zrp.RefreshTokens[*oidc.IDTokenClaims](r.Context(), party, old.RefreshToken, "", "")
		if err != nil {
			showRP(rw, rpView{Title: "Refresh refused", Note: err.Error(), Buttons: buttons})
			return
		}
		mu.Lock()
		tokens = nt
		mu.Unlock()
		showRP(rw, rpView{Title: "Refreshed", Note: "rotated: " + boolText(nt.RefreshToken != old.RefreshToken), Buttons: buttons})
	})
	hs.Config.Handler = mux
	hs.Start()
	t.Cleanup(hs.Close)
	return base
}

// TestBrowserPrivateKeyJWTZitadel: zitadel/oidc's rp signs a person in
// through usher in Chromium with code + PKCE, authenticating with signed
// JWT assertions (private_key_jwt) for the code and for a refresh; usher
// refuses an assertion signed by a key not in the client's set, one for
// another audience, an expired one, and one whose jti was used before.
func TestBrowserPrivateKeyJWTZitadel(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		p := browsertest.New(t)
		signIn := func(base string) {
			t.Helper()
			p.Open(base + "/")
			p.Click("Sign in")
			if p.H1() == "Sign in" {
				p.Fill("Email, username or phone number", "ada@example.com")
				p.Click("Continue")
				p.Fill("Password", "analytical engine 1843")
				p.Click("Sign in")
			}
		}
		base := w.zitadelKeyRP(t, assertOK)
		signIn(base)
		p.WantH1("Signed in as Ada Lovelace")
		p.Click("Refresh")
		p.WantH1("Refreshed")
		p.WantText("rotated: yes")
		p.Click("Refresh") // a new assertion each time: its jti is new
		p.WantH1("Refreshed")

		// Each refusal says what was wrong with the assertion.
		for mode, why := range map[string]string{assertWrongKey: "its signature does not verify with a key of the client",
			assertWrongAud: "its aud is not this issuer", assertExpired: "it has expired"} {
			signIn(w.zitadelKeyRP(t, mode))
			p.WantH1("Not signed in")
			p.WantText("invalid_client", "the client assertion was refused: "+why)
		}

		// The first use of a jti works, the second is refused.
		signIn(w.zitadelKeyRP(t, assertReplay))
		p.WantH1("Signed in as Ada Lovelace")
		p.Click("Refresh")
		p.WantH1("Refresh refused")
		p.WantText("invalid_client", "its jti was used before")
	})
}

// TestBrowserPrivateKeyJWTOpenIDClient: npm's openid-client signs a person
// in through usher with private_key_jwt (ES256) in Chromium and refreshes;
// usher refuses its assertions when they are signed by a key not in the
// client's set, meant for another audience, expired, or replayed.
func TestBrowserPrivateKeyJWTOpenIDClient(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		p := browsertest.New(t)
		start := func(mode string) string {
			t.Helper()
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			signWith := key
			if mode == assertWrongKey {
				if signWith, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
					t.Fatal(err)
				}
			}
			priv, err := json.Marshal(jose.JSONWebKey{Key: signWith, KeyID: "node-key-1", Algorithm: "ES256"})
			if err != nil {
				t.Fatal(err)
			}
			return w.openidClientRP(t, map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(t, "node-key-1", key.Public())},
				"RP_PRIVATE_JWK="+string(priv), "RP_ASSERTION="+mode)
		}
		signIn := func(base string) {
			t.Helper()
			p.Open(base + "/")
			p.Click("Sign in")
			if p.H1() == "Sign in" {
				p.Fill("Email, username or phone number", "ada@example.com")
				p.Click("Continue")
				p.Fill("Password", "analytical engine 1843")
				p.Click("Sign in")
			}
		}
		signIn(start(assertOK))
		p.WantH1("Signed in as Ada Lovelace")
		p.Click("Refresh")
		p.WantText("refreshed; rotated: yes")

		for _, mode := range []string{assertWrongKey, assertWrongAud, assertExpired} {
			signIn(start(mode))
			p.WantH1("Not signed in")
			p.WantText("usher answered invalid_client")
		}

		signIn(start(assertReplay))
		p.WantH1("Signed in as Ada Lovelace")
		p.Click("Refresh")
		p.WantH1("Refresh refused")
		p.WantText("usher answered invalid_client")
	})
}
