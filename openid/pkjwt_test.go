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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	zrp "github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/clients"
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

// bentSigner signs what the relying party library asks it to with the
// relying party's current key, after changing the claims as mode says: a
// misbehaving client, from the inside of a real library.
type bentSigner struct {
	rp   *keyRP
	mode string
}

func (s bentSigner) Options() jose.SignerOptions { return jose.SignerOptions{} }

func (s bentSigner) Sign(payload []byte) (*jose.JSONWebSignature, error) {
	s.rp.mu.Lock()
	signer := s.rp.signer
	s.rp.mu.Unlock()
	if s.mode == assertOK || s.mode == assertWrongKey {
		return signer.Sign(payload)
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
	return signer.Sign(b)
}

// keyRP is a relying party on zitadel/oidc's rp that authenticates to the
// token endpoint with signed JWT assertions (private_key_jwt, RSA).
type keyRP struct {
	base string
	mu   sync.Mutex
	// signer signs with the newest key; published is the JWKS it serves at
	// /jwks when registered by its jwks_uri.
	signer    jose.Signer
	published []jose.JSONWebKey
	keys      int
	fetches   atomic.Int32
}

// rotate makes the relying party sign with a new key, which alone it
// publishes from now on.
func (k *keyRP) rotate(t *testing.T) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys++
	kid := "rp-key-" + strconv.Itoa(k.keys)
	if k.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: &jose.JSONWebKey{Key: key, KeyID: kid}}, nil); err != nil {
		t.Fatal(err)
	}
	k.published = []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Use: "sig"}}
}

// zitadelKeyRP starts a keyRP whose assertions are bent as mode says,
// registered with its keys or, when published, with its jwks_uri.
func (w *world) zitadelKeyRP(t *testing.T, mode string, published bool) *keyRP {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	k := &keyRP{base: "http://" + hs.Listener.Addr().String()}
	k.rotate(t)
	in := map[string]any{"name": "Zitadel key RP", "redirect_uris": []string{k.base + "/callback"}, "token_endpoint_auth_method": "private_key_jwt"}
	if published {
		in["jwks_uri"] = k.base + "/jwks"
	} else {
		in["jwks"] = jwksOf(t, k.published[0].KeyID, k.published[0].Key)
	}
	if mode == assertWrongKey {
		// It signs with a key usher was not given, under the kid it was.
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if k.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: &jose.JSONWebKey{Key: other, KeyID: k.published[0].KeyID}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(rw http.ResponseWriter, r *http.Request) {
		k.fetches.Add(1)
		k.mu.Lock()
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: k.published})
		k.mu.Unlock()
		rw.Header().Set("Content-Type", "application/jwk-set+json")
		rw.Write(b)
	})
	hs.Config.Handler = mux
	hs.Start()
	t.Cleanup(hs.Close)
	c := w.client(t, w.tenant, in)
	if c.ClientSecret != "" {
		t.Fatal("a private_key_jwt client was given a secret")
	}
	cookieKey := make([]byte, 32)
	rand.Read(cookieKey)
	cookies := httphelper.NewCookieHandler(cookieKey, cookieKey, httphelper.WithUnsecure())
	buttons := []rpButton{{"Refresh", "/refresh"}}
	refused := func(rw http.ResponseWriter, r *http.Request, desc, state string) {
		showRP(rw, rpView{Title: "Not signed in", Note: desc, Buttons: []rpButton{{"Sign in", "/login"}}})
	}
	party, err := zrp.NewRelyingPartyOIDC(context.Background(), w.issuer(w.tenant), c.ID, "", k.base+"/callback",
		[]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, "usher", oidc.ScopeOfflineAccess},
		zrp.WithPKCE(cookies), zrp.WithSigningAlgsFromDiscovery(), zrp.WithAuthStyle(oauth2.AuthStyleInParams),
		zrp.WithJWTProfile(func() (jose.Signer, error) { return bentSigner{k, mode}, nil }),
		zrp.WithUnauthorizedHandler(refused))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tokens *oidc.Tokens[*oidc.IDTokenClaims]
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
	return k
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
		base := w.zitadelKeyRP(t, assertOK, false).base
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
			signIn(w.zitadelKeyRP(t, mode, false).base)
			p.WantH1("Not signed in")
			p.WantText("invalid_client", "the client assertion was refused: "+why)
		}

		// The first use of a jti works, the second is refused.
		signIn(w.zitadelKeyRP(t, assertReplay, false).base)
		p.WantH1("Signed in as Ada Lovelace")
		p.Click("Refresh")
		p.WantH1("Refresh refused")
		p.WantText("invalid_client", "its jti was used before")
	})
}

// TestBrowserPrivateKeyJWTPublishedKeys: a private_key_jwt client
// registered with its jwks_uri (zitadel/oidc's rp, serving its own JWKS)
// signs a person in through Chromium; usher reads the keys through its
// egress client, keeps them five minutes, reads them again when the client
// rotates to a key of a new kid (not sooner than ten seconds after the last
// read), and refuses an address that serves no usable keys.
func TestBrowserPrivateKeyJWTPublishedKeys(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		p := browsertest.New(t)
		rp := w.zitadelKeyRP(t, assertOK, true)
		fetches := func(want int32) {
			t.Helper()
			if got := rp.fetches.Load(); got != want {
				t.Fatalf("usher read the jwks_uri %d times, want %d", got, want)
			}
		}
		fetches(1) // checked when registered
		p.Open(rp.base + "/")
		p.Click("Sign in")
		p.Fill("Email, username or phone number", "ada@example.com")
		p.Click("Continue")
		p.Fill("Password", "analytical engine 1843")
		p.Click("Sign in")
		p.WantH1("Signed in as Ada Lovelace")
		fetches(2)
		p.Click("Refresh")
		p.WantH1("Refreshed")
		fetches(2) // kept

		// The client rotates: a kid usher has not seen is read again, but
		// not within ten seconds of the last read.
		rp.rotate(t)
		p.Click("Refresh")
		p.WantH1("Refresh refused")
		p.WantText("its signature does not verify with a key of the client")
		fetches(2)
		w.clock.Advance(11 * time.Second)
		p.Click("Refresh")
		p.WantH1("Refreshed")
		fetches(3)
		// Five minutes on, the keys are read again whatever the kid.
		w.clock.Advance(5 * time.Minute)
		p.Click("Refresh")
		p.WantH1("Refreshed")
		fetches(4)
		p.Click("Refresh")
		p.WantH1("Refreshed")
		fetches(4)

		// An address that serves no keys is refused when registered.
		r := w.api(t, "POST", "/api/v1/tenants/acme/clients", map[string]any{"name": "Nowhere", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": rp.base + "/missing"})
		if r.status != 422 || !strings.Contains(r.body, `"field":"jwks_uri"`) || !strings.Contains(r.body, "404 Not Found") {
			t.Fatalf("a jwks_uri without keys: %d %s", r.status, r.body)
		}
		// The provider reads addresses through the guarded egress client:
		// without the operator's leave, this machine is out of reach.
		guarded, err := openid.New(openid.Deps{Store: w.st, Box: w.box, Clock: w.clock.Now, Issuer: func(usher.Tenant) string { return w.issuer(w.tenant) }})
		if err != nil {
			t.Fatal(err)
		}
		name, uri := "Inward", rp.base+"/jwks"
		_, err = guarded.Clients().CreateClient(context.Background(), opActor, w.tenant, clients.ClientInput{Name: &name, GrantTypes: []string{"client_credentials"},
			AuthMethod: "private_key_jwt", JWKSURI: &uri})
		if err == nil || !strings.Contains(err.Error(), "inside usher's own network") {
			t.Fatalf("a jwks_uri on this machine through the guarded client: %v", err)
		}
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
