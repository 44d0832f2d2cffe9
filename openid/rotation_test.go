package openid_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/web"
)

// jwks is the kids of the tenant's JWKS, by algorithm.
func (w *world) jwks(t *testing.T, base string) map[string][]string {
	t.Helper()
	return kidsByAlg(t, w.browser(t).get(base+"/oauth/jwks").body)
}

// kidsByAlg is the kids of a JWKS, by algorithm.
func kidsByAlg(t *testing.T, jwks string) map[string][]string {
	t.Helper()
	var set struct {
		Keys []struct{ Kid, Alg string }
	}
	if err := json.Unmarshal([]byte(jwks), &set); err != nil {
		t.Fatalf("not a JWKS: %v\n%s", err, jwks)
	}
	out := map[string][]string{}
	for _, k := range set.Keys {
		out[k.Alg] = append(out[k.Alg], k.Kid)
	}
	return out
}

func kid(t *testing.T, jwt string) string {
	t.Helper()
	k, _ := header(t, jwt)["kid"].(string)
	return k
}

// TestKeyRotation: tokens signed before, during and after a rotation on
// demand verify at the relying party (go-oidc, reading the JWKS); the new
// key is published before it signs and the old one stays until what it
// signed has expired. A second replica on the same database serves the
// same keys.
func TestKeyRotation(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		// ID tokens carry the library's real time: a day's lifetime keeps
		// them valid on the test's clock, which runs ahead.
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "id_token_lifetime": 86400,
			"access_token_lifetime": 86400})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		b := w.browser(t)
		keys := oidc.NewRemoteKeySet(r.ctx, w.issuer(w.tenant)+"/oauth/jwks")
		verify := func(what, jwt string) {
			t.Helper()
			if _, err := keys.VerifySignature(r.ctx, jwt); err != nil {
				t.Fatalf("%s (kid %s) does not verify against the JWKS: %v", what, kid(t, jwt), err)
			}
		}

		before := r.signedIn(b)
		k1 := kid(t, before.token.AccessToken)
		if kid(t, before.token.Extra("id_token").(string)) != k1 {
			t.Fatal("the ES256 ID token and access token have different keys")
		}
		if set := w.jwks(t, w.issuer(w.tenant)); len(set["ES256"]) != 1 || len(set["RS256"]) != 1 || set["ES256"][0] != k1 {
			t.Fatalf("JWKS before rotation: %v", set)
		}

		rot := w.api(t, "POST", "/api/v1/tenants/acme/signing-keys/rotate", nil)
		if rot.status != 200 {
			t.Fatalf("rotate: %d %s", rot.status, rot.body)
		}
		set := w.jwks(t, w.issuer(w.tenant))
		if len(set["ES256"]) != 2 || len(set["RS256"]) != 2 {
			t.Fatalf("JWKS just after rotation: %v", set)
		}
		k2 := set["ES256"][0]
		if k2 == k1 {
			k2 = set["ES256"][1]
		}
		// Published, not signing yet: tokens issued during the lead are still k1's.
		w.clock.Advance(10 * time.Minute)
		during := r.signedIn(b)
		if kid(t, during.token.AccessToken) != k1 {
			t.Fatalf("a new key signed before its lead: %s", kid(t, during.token.AccessToken))
		}
		verify("a token issued during the rotation", during.token.AccessToken)
		if !strings.Contains(w.api(t, "GET", "/api/v1/tenants/acme/signing-keys", nil).body, `"signing":true`) {
			t.Fatal("no signing key listed")
		}

		// After the lead the new key signs; what the old one signed still verifies.
		w.clock.Advance(time.Hour)
		after := r.signedIn(b)
		if kid(t, after.token.AccessToken) != k2 {
			t.Fatalf("after the lead the access token is signed by %s, want %s", kid(t, after.token.AccessToken), k2)
		}
		r.verify(after.token, "")
		for what, jwt := range map[string]string{"the access token from before": before.token.AccessToken, "the ID token from before": before.token.Extra("id_token").(string),
			"the access token from during": during.token.AccessToken, "the access token from after": after.token.AccessToken} {
			verify(what, jwt)
		}
		// A refresh token from before the rotation still refreshes, now under the new key.
		tok, err := r.cfg.TokenSource(r.ctx, &oauth2.Token{RefreshToken: before.token.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
		if err != nil || kid(t, tok.AccessToken) != k2 {
			t.Fatalf("refresh after the rotation: %v", err)
		}

		// A day after the new key took over, the old one leaves the JWKS.
		w.clock.Advance(25 * time.Hour)
		if set := w.jwks(t, w.issuer(w.tenant)); len(set["ES256"]) != 1 || set["ES256"][0] != k2 || len(set["RS256"]) != 1 {
			t.Fatalf("JWKS a day later: %v", set)
		}

		// A second replica on the same database serves the same keys.
		replica := w.replica(t)
		other := w.jwks(t, replica)
		mine := w.jwks(t, w.issuer(w.tenant))
		if !slices.Equal(other["ES256"], mine["ES256"]) || !slices.Equal(other["RS256"], mine["RS256"]) {
			t.Fatalf("two replicas serve different keys: %v and %v", other, mine)
		}
	})
}

// replica starts a second server with its own provider on w's database
// and clock, as another replica of usher, and returns acme's issuer there.
func (w *world) replica(t *testing.T) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	links := web.Links{PublicURL: "http://" + hs.Listener.Addr().String()}
	oid, err := openid.New(openid.Deps{Store: w.st, Box: w.box, Clock: w.clock.Now, Config: w.cfg,
		Issuer: func(tn usher.Tenant) string { return strings.TrimSuffix(links.TenantBase(tn), "/") }})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = web.New(slog.New(slog.NewTextHandler(w.logs, nil)), web.Config{Version: "test", Links: links, OpenID: oid}, w.st, w.svc, w.auth, w.clock.Now)
	hs.Start()
	t.Cleanup(hs.Close)
	return hs.URL + "/t/acme"
}

// jwksOfAll reads the JWKS at each of bases, twice, all at once.
func jwksOfAll(t *testing.T, bases ...string) []map[string][]string {
	t.Helper()
	var wg sync.WaitGroup
	n := 2 * len(bases)
	bodies, errs := make([]string, n), make([]error, n)
	for i := range n {
		wg.Go(func() {
			resp, err := http.Get(bases[i%len(bases)] + "/oauth/jwks")
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			bodies[i], errs[i] = string(b), err
		})
	}
	wg.Wait()
	sets := make([]map[string][]string, n)
	for i, body := range bodies {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		sets[i] = kidsByAlg(t, body)
	}
	return sets
}

// TestScheduledRotation: a key past its rotation period gets one
// successor, published first, signing after the lead, even when replicas
// on one database find it due at the same moment (four here, period after
// period): they serve the same keys and sign with the same successor.
func TestScheduledRotation(t *testing.T) {
	onEachDatabaseWith(t, openid.Config{KeyRotation: 2 * time.Hour, KeyLead: 10 * time.Minute}, func(t *testing.T, w *world) {
		ctx := context.Background()
		w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "id_token_lifetime": 86400,
			"grant_types": []string{"authorization_code", "refresh_token", "client_credentials"}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		b := w.browser(t)
		first := kid(t, r.signedIn(b).token.AccessToken)
		replicas := []string{w.issuer(w.tenant), w.replica(t), w.replica(t), w.replica(t)}

		signer := first
		for round := 1; round <= 3; round++ {
			// Past the period every replica finds the successor due at once.
			w.clock.Advance(2*time.Hour + 15*time.Minute)
			sets := jwksOfAll(t, replicas...)
			for _, set := range sets {
				if !slices.Equal(set["ES256"], sets[0]["ES256"]) || !slices.Equal(set["RS256"], sets[0]["RS256"]) {
					t.Fatalf("round %d: replicas serve different keys: %v and %v", round, sets[0], set)
				}
			}
			keys, err := w.st.Read().SigningKeys(ctx, w.tenant.ID, w.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			pending := map[string]int{}
			for _, k := range keys {
				if k.SignsFrom.After(w.clock.Now()) {
					pending[k.Alg]++
				}
			}
			if pending["ES256"] != 1 || pending["RS256"] != 1 {
				t.Fatalf("round %d: the replicas made %v successors, want one of each algorithm", round, pending)
			}
			if k := kid(t, r.signedIn(b).token.AccessToken); k != signer {
				t.Fatalf("round %d: the successor signed before its lead: %s", round, k)
			}

			w.clock.Advance(11 * time.Minute)
			successor := kid(t, r.signedIn(b).token.AccessToken)
			if successor == signer || !slices.Contains(sets[0]["ES256"], successor) {
				t.Fatalf("round %d: after its lead the access token is signed by %s (before %s, published %v)", round, successor, signer, sets[0]["ES256"])
			}
			// The other replicas sign with the same successor.
			for _, base := range replicas[1:] {
				status, out := w.formAt(t, base, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "client_credentials")
				if status != 200 {
					t.Fatalf("client credentials at another replica: %d %v", status, out)
				}
				if k := kid(t, out["access_token"].(string)); k != successor {
					t.Fatalf("round %d: another replica signs with %s, this one with %s", round, k, successor)
				}
			}
			signer = successor
		}
	})
}
