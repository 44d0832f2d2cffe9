package openid_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

var actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)">`)

// TestConsent: a third-party product shows a consent page, once per
// account; prompt=none without consent answers consent_required; a denial
// answers access_denied; a first-party product shows none.
func TestConsent(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Partner app", "third_party": true, "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret, "openid", "email", "usher")
		b := w.browser(t)

		// Signed in, without consent: prompt=none cannot ask.
		first := w.client(t, w.tenant, map[string]any{"name": "Own app", "redirect_uris": []string{callback}})
		w.rp(t, w.tenant, first.ID, first.ClientSecret).signedIn(b) // a first-party product: no consent page
		l := r.start(oauth2.SetAuthURLParam("prompt", "none"))
		b.get(l.url)
		wantParam(t, b.back, "error", "consent_required")

		// Deny.
		l = r.start()
		p := b.get(l.url)
		if b.back != nil || !strings.Contains(p.body, "Allow Partner app?") || !strings.Contains(p.body, "your email address") {
			t.Fatalf("no consent page: %d %s", p.status, p.body)
		}
		action := actionRE.FindStringSubmatch(p.body)[1]
		b.post(w.url+action, "answer", "deny")
		wantParam(t, b.back, "error", "access_denied")
		wantParam(t, b.back, "state", l.state)

		// Allow: a code, and next time no page.
		l = r.start()
		p = b.get(l.url)
		b.post(w.url+actionRE.FindStringSubmatch(p.body)[1], "answer", "allow")
		r.finish(l, b.back)
		l = r.start()
		b.get(l.url)
		r.finish(l, b.back)
		if audit := w.api(t, "GET", "/api/v1/tenants/acme/audit-events?action=client.consented", nil); !strings.Contains(audit.body, c.ID) {
			t.Fatalf("no consent in the audit log: %s", audit.body)
		}
	})
}

// assertion is a client assertion of client for acme's token endpoint,
// signed with k under kid, valid for a minute.
func (w *world) assertion(t *testing.T, client string, k *ecdsa.PrivateKey, kid string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The library checks iat and exp against the real time.
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": client, "sub": client, "aud": w.issuer(w.tenant), "iat": now.Unix(),
		"exp": now.Add(time.Minute).Unix(), "jti": rand.Text()})
	sig, err := s.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := sig.CompactSerialize()
	return out
}

// TestPrivateKeyJWT: a client that authenticates with private_key_jwt gets
// tokens with an assertion signed by its key, and nothing with another key.
func TestPrivateKeyJWT(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub := jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
		var jwks map[string]any
		json.Unmarshal(set, &jwks)
		c := w.client(t, w.tenant, map[string]any{"name": "Signed machine", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks})
		if c.ClientSecret != "" {
			t.Fatal("a private_key_jwt client got a secret")
		}
		assertion := func(k *ecdsa.PrivateKey) string { return w.assertion(t, c.ID, k, "k1") }
		const typ = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
		status, out := w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ,
			"client_assertion", assertion(key))
		if status != 200 || out["access_token"] == nil {
			t.Fatalf("private_key_jwt: %d %v", status, out)
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		status, out = w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ,
			"client_assertion", assertion(other))
		if status != 401 {
			t.Fatalf("an assertion signed by another key: %d %v", status, out)
		}
		// An assertion works once, at whichever endpoint.
		once := assertion(key)
		if status, out = w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ,
			"client_assertion", once); status != 200 {
			t.Fatalf("a fresh assertion: %d %v", status, out)
		}
		status, out = w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ,
			"client_assertion", once)
		if status != 401 || out["error"] != "invalid_client" || !strings.Contains(out["error_description"].(string), "jti was used before") {
			t.Fatalf("a replayed assertion: %d %v", status, out)
		}
		// Sent many times at once, it still works once.
		racing := assertion(key)
		var wg sync.WaitGroup
		var granted atomic.Int32
		for range 8 {
			wg.Go(func() {
				f := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {typ}, "client_assertion": {racing}}
				resp, err := http.PostForm(w.issuer(w.tenant)+"/oauth/token", f)
				if err == nil {
					if resp.StatusCode == 200 {
						granted.Add(1)
					}
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		if n := granted.Load(); n != 1 {
			t.Fatalf("one assertion sent eight times at once was accepted %d times", n)
		}
		// An assertion without a jti cannot be held to one use: refused.
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		claims, _ := json.Marshal(map[string]any{"iss": c.ID, "sub": c.ID, "aud": w.issuer(w.tenant), "iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()})
		sig, _ := s.Sign(claims)
		noJTI, _ := sig.CompactSerialize()
		status, out = w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ, "client_assertion", noJTI)
		if status != 401 || !strings.Contains(out["error_description"].(string), "it has no jti") {
			t.Fatalf("an assertion without a jti: %d %v", status, out)
		}
		// Spent jtis are kept until their assertion expires, then swept.
		w.clock.Advance(2 * time.Hour)
		if n, err := w.oid.Sweep(context.Background()); err != nil || n < 2 {
			t.Fatalf("sweep after the assertions expired: %d %v", n, err)
		}
	})
}

// TestClientKeysRefused: a client's JWKS that usher cannot use is refused
// with a message naming the key and what is wrong with it.
func TestClientKeysRefused(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		set := func(keys ...jose.JSONWebKey) map[string]any {
			b, _ := json.Marshal(jose.JSONWebKeySet{Keys: keys})
			return jsonOf(t, string(b))
		}
		for what, c := range map[string]struct {
			jwks any
			want string
		}{
			"a private key":     {set(jose.JSONWebKey{Key: ec, KeyID: "a"}), `key 1 (kid \"a\") holds a private key`},
			"P-384":             {set(jose.JSONWebKey{Key: p384.Public(), KeyID: "b"}), "usher verifies ES256 (P-256)"},
			"two without kid":   {set(jose.JSONWebKey{Key: ec.Public(), KeyID: "c"}, jose.JSONWebKey{Key: ec.Public()}), "key 2 has no kid"},
			"same kid":          {set(jose.JSONWebKey{Key: ec.Public(), KeyID: "d"}, jose.JSONWebKey{Key: ec.Public(), KeyID: "d"}), "another key has the same kid"},
			"an encryption key": {set(jose.JSONWebKey{Key: ec.Public(), KeyID: "e", Use: "enc"}), `is for use \"enc\"`},
			"no keys":           {map[string]any{"keys": []any{}}, "it needs one to ten"},
		} {
			r := w.api(t, "POST", "/api/v1/tenants/acme/clients", map[string]any{"name": "Signed", "grant_types": []string{"client_credentials"},
				"token_endpoint_auth_method": "private_key_jwt", "jwks": c.jwks})
			if r.status != 422 || !strings.Contains(r.body, `"field":"jwks"`) || !strings.Contains(r.body, c.want) {
				t.Errorf("%s: %d %s", what, r.status, r.body)
			}
		}
	})
}

// TestOneTimePasswordHolder: a person given a one-time password, signing in
// for a product, chooses their own password first and then reaches the
// product.
func TestOneTimePasswordHolder(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		admin := usher.Actor{Kind: usher.ActorToken, Role: usher.AdminUser}
		cr, err := w.svc.CreateAccount(ctx, admin, w.tenant, provision.AccountInput{Route: provision.RouteNewUser,
			Person: &provision.PersonInput{FirstName: "Olle", LastName: "O", Email: "olle@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.SetOneTimePassword(ctx, admin, w.tenant, cr.Account.ID, "olle-first-time"); err != nil {
			t.Fatal(err)
		}
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret, "openid", "email")
		b := w.browser(t)
		l := r.start()
		p := b.get(l.url)
		next := strings.ReplaceAll(nextRE.FindStringSubmatch(p.body)[1], "&amp;", "&")
		base := w.issuer(w.tenant)
		b.post(base+"/signin", "identifier", "olle@example.com", "next", next)
		p = b.post(base+"/signin/password", "identifier", "olle@example.com", "password", "olle-first-time", "next", next)
		if b.back != nil || !strings.Contains(p.body, "Choose your own password") {
			t.Fatalf("a one-time password reached the product without a password of its own: %d %s", p.status, p.body)
		}
		b.post(base+"/signin/choose", "identifier", "olle@example.com", "one_time", "olle-first-time", "password", "olle's own passphrase",
			"confirm", "olle's own passphrase", "next", next)
		res := r.finish(l, b.back)
		if res.idToken.Subject != cr.Account.ID {
			t.Fatalf("sub %s", res.idToken.Subject)
		}
	})
}

// TestPrivateKeyJWTAlgorithms: a client's RSA key signs its assertions
// with RS256 or PS256, as discovery says; one usher does not verify
// (RS512) is refused.
func TestPrivateKeyJWTAlgorithms(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		c := w.client(t, w.tenant, map[string]any{"name": "RSA machine", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(t, "rsa-1", key.Public())})
		for alg, want := range map[jose.SignatureAlgorithm]int{jose.RS256: 200, jose.PS256: 200, jose.RS512: 401} {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: "rsa-1"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			claims, _ := json.Marshal(map[string]any{"iss": c.ID, "sub": c.ID, "aud": w.issuer(w.tenant), "iat": time.Now().Unix(),
				"exp": time.Now().Add(time.Minute).Unix(), "jti": rand.Text()})
			sig, _ := s.Sign(claims)
			a, _ := sig.CompactSerialize()
			status, out := w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials",
				"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion", a)
			if status != want {
				t.Errorf("%s: %d %v, want %d", alg, status, out, want)
			}
		}
	})
}

// TestPublishedKeysKeptWhenReadFails: when a client's jwks_uri cannot be
// read again (here an assertion with an unknown kid makes usher read it),
// the keys last read keep serving, for an hour after that read.
func TestPublishedKeysKeptWhenReadFails(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		var down atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(rw, "down for maintenance", http.StatusServiceUnavailable)
				return
			}
			rw.Header().Set("Content-Type", "application/jwk-set+json")
			rw.Write(set)
		}))
		t.Cleanup(srv.Close)
		c := w.client(t, w.tenant, map[string]any{"name": "Signed machine", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": srv.URL + "/jwks"})
		const typ = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
		token := func(kid string) (int, map[string]any) {
			return w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ,
				"client_assertion", w.assertion(t, c.ID, key, kid))
		}
		if status, out := token("k1"); status != 200 {
			t.Fatalf("with the published key: %d %v", status, out)
		}
		down.Store(true)
		w.clock.Advance(11 * time.Second)
		if status, out := token("unknown"); status != 401 {
			t.Fatalf("an unknown kid while the jwks_uri is down: %d %v", status, out)
		}
		if status, out := token("k1"); status != 200 {
			t.Fatalf("the key read before, after a failed read: %d %v", status, out)
		}
		w.clock.Advance(time.Hour)
		if status, out := token("k1"); status != 401 || !strings.Contains(fmt.Sprint(out["error_description"]), "jwks_uri") {
			t.Fatalf("an hour after the last good read, the jwks_uri still down: %d %v", status, out)
		}
	})
}

// TestSweepBacklog: a sweep goes on while a table had a full batch of
// expired rows, up to its bound of batches; the next sweep takes the rest.
func TestSweepBacklog(t *testing.T) {
	openid.SweepInBatches(t, 2, 3)
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		err := w.st.Write(ctx, func(tx *store.Tx) error {
			for range 9 {
				ar := store.AuthRequest{ID: store.NewID(), TenantID: w.tenant.ID, ClientID: "c", Data: "{}", ExpiresAt: w.clock.Now().Add(time.Minute)}
				if err := tx.InsertAuthRequest(ctx, &ar); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(2 * time.Hour)
		if n, err := w.oid.Sweep(ctx); n != 6 || err != nil {
			t.Fatalf("the first sweep deleted %d rows (want three batches of two): %v", n, err)
		}
		if n, err := w.oid.Sweep(ctx); n != 3 || err != nil {
			t.Fatalf("the second sweep deleted %d rows, want the last 3: %v", n, err)
		}
	})
}

// TestAssertionIssuedAheadKept: an assertion whose iat is a little ahead
// of usher's clock (the library allows a second) keeps its jti spent
// beyond an hour from now, as the library accepts it until an hour after
// its iat: it cannot be used again.
func TestAssertionIssuedAheadKept(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		var jwks map[string]any
		json.Unmarshal(set, &jwks)
		c := w.client(t, w.tenant, map[string]any{"name": "Signed machine", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks": jwks})
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The library checks iat and exp against the real time; usher's
		// clock started at or before it.
		iat := time.Now().Unix() + 1
		claims, _ := json.Marshal(map[string]any{"iss": c.ID, "sub": c.ID, "aud": w.issuer(w.tenant), "iat": iat, "exp": iat + 7200, "jti": rand.Text()})
		sig, _ := s.Sign(claims)
		assertion, _ := sig.CompactSerialize()
		const typ = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
		token := func() (int, map[string]any) {
			return w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ, "client_assertion", assertion)
		}
		if status, out := token(); status != 200 {
			t.Fatalf("the assertion: %d %v", status, out)
		}
		// An hour and two minutes on by usher's clock (the library, on the
		// real time, still accepts the assertion): its jti is still spent.
		w.clock.Advance(time.Hour + 2*time.Minute)
		if status, out := token(); status != 401 || !strings.Contains(fmt.Sprint(out["error_description"]), "jti") {
			t.Fatalf("the assertion again, an hour on: %d %v", status, out)
		}
	})
}

// TestClientAddressesOnSave: a save reads a jwks_uri only when it changed,
// and forgets the keys read before (the next assertion reads them anew);
// a back-channel logout URI inside usher's own network is refused when set,
// unless the operator allows such addresses.
func TestClientAddressesOnSave(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
		var reads atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			reads.Add(1)
			rw.Header().Set("Content-Type", "application/jwk-set+json")
			rw.Write(set)
		}))
		t.Cleanup(srv.Close)
		c := w.client(t, w.tenant, map[string]any{"name": "Signed machine", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": srv.URL + "/jwks"})
		const typ = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
		token := func() {
			t.Helper()
			if status, out := w.form(t, w.tenant, "/oauth/token", "", "", "grant_type", "client_credentials", "client_assertion_type", typ,
				"client_assertion", w.assertion(t, c.ID, key, "k1")); status != 200 {
				t.Fatalf("with the published key: %d %v", status, out)
			}
		}
		want := func(n int32, when string) {
			t.Helper()
			if got := reads.Load(); got != n {
				t.Fatalf("%s: usher read the jwks_uri %d times, want %d", when, got, n)
			}
		}
		want(1, "registered")
		token()
		token()
		want(2, "after two assertions")
		save := func(in clients.ClientInput) error {
			_, err := w.oid.Clients().UpdateClient(ctx, opActor, w.tenant, c.ID, in)
			return err
		}
		name, uri := "Signed machine 2", srv.URL+"/jwks"
		if err := save(clients.ClientInput{Name: &name, JWKSURI: &uri}); err != nil {
			t.Fatal(err)
		}
		want(2, "a save with the same jwks_uri")
		token()
		want(3, "an assertion after a save")
		uri = srv.URL + "/jwks?v=2"
		if err := save(clients.ClientInput{JWKSURI: &uri}); err != nil {
			t.Fatal(err)
		}
		want(4, "a save with another jwks_uri")

		// A back-channel logout URI on this machine: refused by a provider
		// with usher's default (guarded) client, accepted where allowed.
		guarded, err := openid.New(openid.Deps{Store: w.st, Box: w.box, Clock: w.clock.Now, Issuer: w.issuer})
		if err != nil {
			t.Fatal(err)
		}
		inward := srv.URL + "/logout"
		_, err = guarded.Clients().UpdateClient(ctx, opActor, w.tenant, c.ID, clients.ClientInput{BackchannelLogoutURI: &inward})
		if !strings.Contains(fmt.Sprint(err), "backchannel_logout_uri") || !strings.Contains(fmt.Sprint(err), "inside usher's own network") {
			t.Fatalf("a back-channel logout URI on this machine through the guarded client: %v", err)
		}
		if err := save(clients.ClientInput{BackchannelLogoutURI: &inward}); err != nil {
			t.Fatalf("with private addresses allowed: %v", err)
		}
	})
}
