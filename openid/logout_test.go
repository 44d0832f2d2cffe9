package openid_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/backchannel"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// receiver is a product's back-channel logout endpoint: it records the
// logout tokens it accepts at each path, and answers 503 to the first
// fail[path] posts there.
type receiver struct {
	t     *testing.T
	url   string
	mu    sync.Mutex
	got   map[string][]string // accepted tokens by path
	tries map[string]int
	fail  map[string]int
	// at is usher's clock when each accepted token arrived.
	at  map[string]time.Time
	now func() time.Time
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	rc := &receiver{t: t, got: map[string][]string{}, tries: map[string]int{}, fail: map[string]int{}, at: map[string]time.Time{}, now: now}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("a logout token came as %s %q", r.Method, r.Header.Get("Content-Type"))
			http.Error(rw, "bad request", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil || len(r.PostForm) != 1 || r.PostForm.Get("logout_token") == "" {
			t.Errorf("the body is not logout_token=…: %v %v", err, r.PostForm)
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.tries[r.URL.Path]++
		if rc.fail[r.URL.Path] > 0 {
			rc.fail[r.URL.Path]--
			http.Error(rw, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rc.got[r.URL.Path] = append(rc.got[r.URL.Path], r.PostForm.Get("logout_token"))
		rc.at[r.PostForm.Get("logout_token")] = rc.now()
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL
	return rc
}

func (rc *receiver) tokens(path string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.got[path]...)
}

func (rc *receiver) triesAt(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.tries[path]
}

func (rc *receiver) total() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, g := range rc.got {
		n += len(g)
	}
	return n
}

// deliver runs two workers (two replicas) at once until neither finds
// anything due.
func (w *world) deliver(t *testing.T) {
	t.Helper()
	ws := []*backchannel.LogoutWorker{backchannel.NewLogoutWorker(w.oid.BackChannel(), backchannel.LogoutWorkerOptions{Batch: 2}),
		backchannel.NewLogoutWorker(w.oid.BackChannel(), backchannel.LogoutWorkerOptions{Batch: 2})}
	for {
		var wg sync.WaitGroup
		counts := make([]int, len(ws))
		for i, lw := range ws {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := lw.RunOnce(context.Background())
				if err != nil {
					t.Error(err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		if counts[0]+counts[1] == 0 || t.Failed() {
			return
		}
	}
}

// verifyLogout checks a logout token's signature against the tenant's
// JWKS with go-oidc, and every claim, and returns the claims.
func (w *world) verifyLogout(t *testing.T, rc *receiver, tn usher.Tenant, token, clientID string) map[string]any {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	payload, err := oidc.NewRemoteKeySet(ctx, w.issuer(tn)+"/oauth/jwks").VerifySignature(ctx, token)
	if err != nil {
		t.Fatalf("the logout token's signature: %v", err)
	}
	if h := header(t, token); h["typ"] != "logout+jwt" || h["alg"] != "ES256" || h["kid"] == "" {
		t.Fatalf("the logout token's header: %v", h)
	}
	c := jsonOf(t, string(payload))
	rc.mu.Lock()
	now := rc.at[token].Unix()
	rc.mu.Unlock()
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	events, _ := c["events"].(map[string]any)
	ev, isObject := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	switch {
	case c["iss"] != w.issuer(tn):
		t.Fatalf("iss %v, want %s", c["iss"], w.issuer(tn))
	case !audIs(c["aud"], clientID):
		t.Fatalf("aud %v, want %s", c["aud"], clientID)
	case int64(iat) != now:
		t.Fatalf("iat %v is not when it was sent (%d)", c["iat"], now)
	case exp-iat != 120:
		t.Fatalf("exp %v is not two minutes after iat %v", c["exp"], c["iat"])
	case c["jti"] == nil || c["jti"] == "":
		t.Fatal("no jti")
	case c["sub"] == nil && c["sid"] == nil:
		t.Fatal("neither sub nor sid")
	case !isObject || len(ev) != 0 || len(events) != 1:
		t.Fatalf("events %v", c["events"])
	case c["nonce"] != nil:
		t.Fatal("a logout token has a nonce")
	}
	return c
}

func audIs(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		return len(a) == 1 && a[0] == id
	}
	return false
}

// claimsOf reads a JWT's claims without checking them (the tests verify
// signatures where it matters).
func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return jsonOf(t, string(b))
}

// signedInAs runs a code flow with r for the person with login and pw.
func (r *rp) signedInAs(b *browser, login, pw string) result {
	r.t.Helper()
	l := r.start()
	p := b.get(l.url)
	if b.back != nil {
		return r.finish(l, b.back)
	}
	return r.finish(l, b.signIn(p, r.tn, login, pw))
}

func (w *world) logoutEvents(t *testing.T, tn usher.Tenant) []store.LogoutEvent {
	t.Helper()
	evs, err := w.st.Read().LogoutEvents(context.Background(), tn.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestLogoutSessionID: ID tokens carry a sid naming the usher session,
// the same for every product of that session and on refresh, another for
// another session, and neither the cookie's secret nor the session's
// row id; discovery says so.
func TestLogoutSessionID(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		a := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}})
		bc := w.client(t, w.tenant, map[string]any{"name": "Books", "redirect_uris": []string{callback}})
		b := w.browser(t)
		ra, rb := w.rp(t, w.tenant, a.ID, a.ClientSecret), w.rp(t, w.tenant, bc.ID, bc.ClientSecret)
		first := ra.signedIn(b)
		sid, _ := first.claims["sid"].(string)
		if len(sid) < 20 {
			t.Fatalf("no sid in the ID token: %v", first.claims)
		}
		if got := rb.signedIn(b).claims["sid"]; got != sid {
			t.Fatalf("another product of the same session got sid %v, want %s", got, sid)
		}
		u, _ := url.Parse(w.url)
		for _, ck := range b.c.Jar.Cookies(u) {
			if strings.Contains(sid, ck.Value) || strings.Contains(ck.Value, sid) {
				t.Fatalf("the sid %s gives away cookie %s", sid, ck.Name)
			}
		}
		acct, err := w.st.Read().Account(context.Background(), w.tenant.ID, first.idToken.Subject)
		if err != nil {
			t.Fatal(err)
		}
		sessions, err := w.st.Read().Sessions(context.Background(), acct.IdentityID)
		if err != nil || len(sessions) != 1 {
			t.Fatalf("ada's sessions: %v %v", sessions, err)
		}
		for _, s := range sessions {
			if strings.Contains(sid, s.ID) {
				t.Fatalf("the sid %s holds the session's id %s", sid, s.ID)
			}
		}
		status, out := w.form(t, w.tenant, "/oauth/token", a.ID, a.ClientSecret, "grant_type", "refresh_token", "refresh_token", first.token.RefreshToken)
		if status != 200 {
			t.Fatalf("refresh: %d %v", status, out)
		}
		if got := claimsOf(t, out["id_token"].(string))["sid"]; got != sid {
			t.Fatalf("the refreshed ID token's sid %v, want %s", got, sid)
		}
		if other := ra.signedIn(w.browser(t)).claims["sid"]; other == sid || other == nil {
			t.Fatalf("another browser's session has sid %v (first %s)", other, sid)
		}
		disc := jsonOf(t, w.browser(t).get(w.issuer(w.tenant)+"/.well-known/openid-configuration").body)
		for _, k := range []string{"backchannel_logout_supported", "backchannel_logout_session_supported", "frontchannel_logout_supported",
			"frontchannel_logout_session_supported"} {
			if disc[k] != true {
				t.Errorf("discovery: %s is %v", k, disc[k])
			}
		}
	})
}

// TestBackchannelLogout: when a session ends (a product's logout request,
// usher's own sign-out, sign out everywhere else, a deactivation), each
// product that got tokens in it and registered a back-channel logout URI
// gets one logout token, signed with the tenant's keys, delivered by two
// workers exactly once; a failing receiver is retried with the same jti
// until it accepts; products without a URI and other tenants hear nothing.
func TestBackchannelLogout(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ada := w.ada(t)
		rc := newReceiver(t, w.clock.Now)
		const after = "http://localhost/rp/signed-out"
		a := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "post_logout_redirect_uris": []string{after},
			"backchannel_logout_uri": rc.url + "/a", "backchannel_logout_session_required": true})
		if a.BackchannelLogoutURI != rc.url+"/a" || !a.BackchannelLogoutSessionRequired {
			t.Fatalf("the client as registered: %+v", a.Client)
		}
		bk := w.client(t, w.tenant, map[string]any{"name": "Books", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/b"})
		quiet := w.client(t, w.tenant, map[string]any{"name": "Quiet", "redirect_uris": []string{callback}})
		ra, rb, rq := w.rp(t, w.tenant, a.ID, a.ClientSecret), w.rp(t, w.tenant, bk.ID, bk.ClientSecret), w.rp(t, w.tenant, quiet.ID, quiet.ClientSecret)

		// Another tenant, its own person and product with a URI at the same receiver.
		globex, _ := w.newTenant(t, "globex")
		w.person(t, globex, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com"}}, "compiler pioneer 1952")
		g := w.client(t, globex, map[string]any{"name": "Globex app", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/g"})
		w.rp(t, globex, g.ID, g.ClientSecret).signedInAs(w.browser(t), "grace@example.com", "compiler pioneer 1952")

		// One session, three products; the product's logout request with a hint ends it.
		b := w.browser(t)
		first := ra.signedIn(b)
		rb.signedIn(b)
		rq.signedIn(b)
		sid := first.claims["sid"].(string)
		rc.fail["/b"] = 1 // Books is down at first
		b.get(w.issuer(w.tenant) + "/oauth/logout?" + url.Values{"id_token_hint": {first.token.Extra("id_token").(string)},
			"post_logout_redirect_uri": {after}, "state": {"s1"}}.Encode())
		if b.back == nil || !strings.HasPrefix(b.back.String(), after) {
			t.Fatalf("logout went to %v", b.back)
		}
		if evs := w.logoutEvents(t, w.tenant); len(evs) != 2 {
			t.Fatalf("the sign-out queued %d logout events, want 2 (Ledger and Books): %+v", len(evs), evs)
		}
		// A worker with usher's default egress client refuses this
		// machine's addresses: the attempt fails and is kept for later.
		guarded, err := openid.New(openid.Deps{Store: w.st, Box: w.box, Clock: w.clock.Now, Issuer: w.issuer})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := backchannel.NewLogoutWorker(guarded.BackChannel(), backchannel.LogoutWorkerOptions{}).RunOnce(ctx); n != 2 || err != nil {
			t.Fatalf("the guarded worker claimed %d events: %v", n, err)
		}
		for _, e := range w.logoutEvents(t, w.tenant) {
			if e.DeliveredAt != nil || e.Attempts != 1 || !strings.Contains(e.LastError, "inside usher's own network") || e.LastFailure != backchannel.FailPrivate {
				t.Fatalf("a logout to a private address: %+v", e)
			}
		}
		if rc.total() != 0 {
			t.Fatal("the guarded client reached a loopback receiver")
		}
		w.deliver(t)
		if rc.total() != 0 {
			t.Fatal("a failed logout was sent again before its backoff")
		}
		w.clock.Advance(time.Minute)
		w.deliver(t) // Ledger delivered, Books answers 503
		if got := rc.tokens("/a"); len(got) != 1 {
			t.Fatalf("Ledger got %d logout tokens", len(got))
		}
		if rc.triesAt("/b") != 1 || len(rc.tokens("/b")) != 0 {
			t.Fatalf("Books: %d tries, %d accepted", rc.triesAt("/b"), len(rc.tokens("/b")))
		}
		w.clock.Advance(2 * time.Minute)
		w.deliver(t)
		w.clock.Advance(5 * time.Minute) // nothing more is due
		w.deliver(t)
		la := w.verifyLogout(t, rc, w.tenant, rc.tokens("/a")[0], a.ID)
		lb := w.verifyLogout(t, rc, w.tenant, must1(t, rc.tokens("/b")), bk.ID)
		if la["sub"] != ada.ID || la["sid"] != sid || lb["sub"] != ada.ID || lb["sid"] != sid || la["jti"] == lb["jti"] {
			t.Fatalf("the logout tokens: %v / %v (ada %s, sid %s)", la, lb, ada.ID, sid)
		}
		if len(rc.tokens("/a")) != 1 || len(rc.tokens("/g")) != 0 || len(w.logoutEvents(t, globex)) != 0 {
			t.Fatalf("after the retries: Ledger %d, Globex %d", len(rc.tokens("/a")), len(rc.tokens("/g")))
		}
		for _, e := range w.logoutEvents(t, w.tenant) {
			if e.DeliveredAt == nil {
				t.Fatalf("not delivered: %+v", e)
			}
		}

		// usher's own sign-out tells Ledger of that session.
		b = w.browser(t)
		s2 := ra.signedIn(b).claims["sid"]
		b.post(w.issuer(w.tenant) + "/signout")
		w.deliver(t)
		if got := rc.tokens("/a"); len(got) != 2 || w.verifyLogout(t, rc, w.tenant, got[1], a.ID)["sid"] != s2 {
			t.Fatalf("after usher's sign-out Ledger has %d tokens", len(got))
		}

		// Sign out everywhere else: six phones' sessions with two products
		// each (twelve logout tokens at once for the two workers), not the
		// laptop's.
		phones := map[any]bool{}
		for range 6 {
			pb := w.browser(t)
			phones[ra.signedIn(pb).claims["sid"]] = true
			rb.signedIn(pb)
		}
		laptop := w.browser(t)
		ra.signedIn(laptop)
		if p := laptop.post(w.issuer(w.tenant) + "/account/sessions/end-others"); p.status != 200 {
			t.Fatalf("sign out everywhere else: %d", p.status)
		}
		w.deliver(t)
		for path, c := range map[string]clients.CreatedClient{"/a": a, "/b": bk} {
			got := rc.tokens(path)
			told := map[any]bool{}
			for _, tok := range got[len(got)-6:] {
				told[w.verifyLogout(t, rc, w.tenant, tok, c.ID)["sid"]] = true
			}
			if len(got) != map[string]int{"/a": 8, "/b": 7}[path] || len(told) != 6 || !maps.Equal(told, phones) {
				t.Fatalf("after signing out everywhere else %s has %d tokens for sessions %v (the phones': %v)", path, len(got), told, phones)
			}
		}

		// Deactivation, inside provision's transaction: the laptop's session's grant.
		state := usher.StateDeactivated
		if _, err := w.svc.UpdateAccount(ctx, usher.Actor{Kind: usher.ActorToken, Role: usher.AdminUser}, w.tenant, ada.ID,
			provision.AccountUpdate{State: &state}); err != nil {
			t.Fatal(err)
		}
		w.deliver(t)
		if got := rc.tokens("/a"); len(got) != 9 || w.verifyLogout(t, rc, w.tenant, got[8], a.ID)["sub"] != ada.ID {
			t.Fatalf("after the deactivation Ledger has %d tokens", len(got))
		}
		// Told once: a later end finds nothing more to tell.
		w.clock.Advance(2 * time.Hour)
		w.deliver(t)
		if rc.total() != 16 || len(rc.tokens("/g")) != 0 {
			t.Fatalf("%d logout tokens in all, %d to Globex", rc.total(), len(rc.tokens("/g")))
		}
		jtis := map[any]bool{}
		for _, tok := range append(rc.tokens("/a"), rc.tokens("/b")...) {
			jtis[claimsOf(t, tok)["jti"]] = true
		}
		if len(jtis) != 16 {
			t.Fatalf("%d distinct jtis among 16 tokens", len(jtis))
		}
	})
}

// raw gets u and answers its status, body and headers.
func (b *browser) raw(u string) rawReply {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawReply{status: resp.StatusCode, body: string(body), Header: resp.Header}
}

type rawReply struct {
	status int
	body   string
	Header http.Header
}

func must1(t *testing.T, xs []string) string {
	t.Helper()
	if len(xs) != 1 {
		t.Fatalf("%d tokens, want 1", len(xs))
	}
	return xs[0]
}

// TestBackchannelLogoutAbandoned: a receiver that never accepts is tried
// with a growing wait for a day, then the logout is abandoned and audited.
func TestBackchannelLogoutAbandoned(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		rc := newReceiver(t, w.clock.Now)
		rc.fail["/a"] = 1 << 20
		a := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/a"})
		b := w.browser(t)
		w.rp(t, w.tenant, a.ID, a.ClientSecret).signedIn(b)
		b.post(w.issuer(w.tenant) + "/signout")
		for i := 0; i < 60; i++ {
			w.deliver(t)
			if e := w.logoutEvents(t, w.tenant)[0]; e.AbandonedAt != nil {
				break
			}
			w.clock.Advance(time.Hour)
		}
		e := w.logoutEvents(t, w.tenant)[0]
		if e.AbandonedAt == nil || e.DeliveredAt != nil || rc.triesAt("/a") != e.Attempts || e.Attempts < 20 || e.Attempts > 30 {
			t.Fatalf("after a day of failures: %+v, %d tries", e, rc.triesAt("/a"))
		}
		audit, _, err := w.st.Read().AuditEvents(context.Background(), w.tenant.ID, store.AuditFilter{Action: "client.logout_abandoned"}, store.ListOptions{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 1 || audit[0].TargetID != a.ID || audit[0].Details["event_id"] != e.ID {
			t.Fatalf("the abandonment's audit: %+v", audit)
		}
		w.clock.Advance(24 * time.Hour)
		w.deliver(t)
		if rc.triesAt("/a") != e.Attempts {
			t.Fatal("an abandoned logout was tried again")
		}
	})
}

// TestLogoutConfirmation: a product's logout request without an
// id_token_hint asks the person first; "Stay signed in" keeps the session,
// "Sign out" ends it and goes to the registered post-logout address with
// the state. Unregistered addresses, another tenant's client and a
// cross-site post are refused.
func TestLogoutConfirmation(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		const after = "http://localhost/rp/signed-out"
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "post_logout_redirect_uris": []string{after}})
		globex, _ := w.newTenant(t, "globex")
		other := w.client(t, globex, map[string]any{"name": "Globex app", "redirect_uris": []string{callback}, "post_logout_redirect_uris": []string{after}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		end := w.issuer(w.tenant) + "/oauth/logout?"
		confirm := w.issuer(w.tenant) + "/oauth/logout/confirm"
		signedIn := func(b *browser) bool {
			t.Helper()
			b.get(r.start(oauth2.SetAuthURLParam("prompt", "none")).url)
			return b.back != nil && b.back.Query().Get("code") != ""
		}

		// Nobody signed in: straight back to the product, with the state.
		b := w.browser(t)
		b.get(end + url.Values{"client_id": {c.ID}, "post_logout_redirect_uri": {after}, "state": {"s0"}}.Encode())
		if b.back == nil || !strings.HasPrefix(b.back.String(), after) {
			t.Fatalf("without a session the logout went to %v", b.back)
		}
		wantParam(t, b.back, "state", "s0")

		a := r.signedIn(b)
		p := b.get(end + url.Values{"client_id": {c.ID}, "post_logout_redirect_uri": {after}, "state": {"s1"}}.Encode())
		if p.status != 200 || b.back != nil || !strings.Contains(p.body, "Sign out of Acme?") || !strings.Contains(p.body, "<strong>Ledger</strong> asks to sign you out") {
			t.Fatalf("the confirmation page: %d, back %v\n%s", p.status, b.back, p.body)
		}
		for _, f := range []string{`name="client_id" value="` + c.ID + `"`, `name="post_logout_redirect_uri" value="` + after + `"`, `name="state" value="s1"`,
			`action="` + confirm + `"`} {
			if !strings.Contains(p.body, f) {
				t.Fatalf("the confirmation form lacks %s:\n%s", f, p.body)
			}
		}
		if !signedIn(b) {
			t.Fatal("asking to confirm signed the person out")
		}
		resp := b.raw(end + url.Values{"client_id": {c.ID}, "post_logout_redirect_uri": {after}}.Encode())
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' http://localhost;") || strings.Contains(csp, "frame-src") {
			t.Fatalf("the confirmation page's policy: %s", csp)
		}

		// A cross-site form cannot answer for the person.
		req, _ := http.NewRequest("POST", confirm, strings.NewReader(url.Values{"client_id": {c.ID}, "answer": {"signout"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := b.do(req); p.status != 403 || !signedIn(b) {
			t.Fatalf("a cross-site sign-out: %d", p.status)
		}

		// Stay signed in.
		b.post(confirm, "client_id", c.ID, "post_logout_redirect_uri", after, "state", "s1", "answer", "stay")
		if b.back != nil || !signedIn(b) {
			t.Fatalf("staying signed in went to %v", b.back)
		}

		// Refused before anything: a near-miss address, another tenant's client.
		for _, q := range []url.Values{{"client_id": {c.ID}, "post_logout_redirect_uri": {after + "/"}}, {"client_id": {other.ID}, "post_logout_redirect_uri": {after}}} {
			if p := b.get(end + q.Encode()); p.status != 400 || b.back != nil {
				t.Fatalf("%v: %d, back to %v", q, p.status, b.back)
			}
			if p := b.post(confirm, "client_id", q.Get("client_id"), "post_logout_redirect_uri", q.Get("post_logout_redirect_uri"), "answer", "signout"); p.status != 400 || b.back != nil {
				t.Fatalf("confirming %v: %d, back to %v", q, p.status, b.back)
			}
		}
		if !signedIn(b) {
			t.Fatal("a refused logout signed the person out")
		}

		// Sign out.
		b.post(confirm, "client_id", c.ID, "post_logout_redirect_uri", after, "state", "s1", "answer", "signout")
		if b.back == nil || !strings.HasPrefix(b.back.String(), after) {
			t.Fatalf("signing out went to %v", b.back)
		}
		wantParam(t, b.back, "state", "s1")
		if signedIn(b) {
			t.Fatal("still signed in after confirming")
		}
		if status, _ := w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "refresh_token", "refresh_token", a.token.RefreshToken); status != 400 {
			t.Fatal("the grant of a signed-out session still refreshes")
		}

		// A post-logout address without a client_id is not followed.
		r.signedIn(b)
		p = b.get(end + url.Values{"post_logout_redirect_uri": {after}}.Encode())
		if p.status != 200 || !strings.Contains(p.body, "An application asks to sign you out") || strings.Contains(p.body, after) {
			t.Fatalf("a logout request naming no client: %d\n%s", p.status, p.body)
		}
		p = b.post(confirm, "post_logout_redirect_uri", after, "answer", "signout")
		if b.back != nil || !strings.Contains(p.body, "You are signed out.") {
			t.Fatalf("signing out for no client went to %v\n%s", b.back, p.body)
		}
	})
}

// TestFrontchannelLogout: the page that ends a session (at a product's
// request, or usher's own sign-out) frames the front-channel logout URIs of the products that got
// tokens in it, with iss and sid, and only that page may frame them.
func TestFrontchannelLogout(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		const after = "http://localhost/rp/signed-out"
		const front = "http://127.0.0.1:9/logout/front?tab=1"
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "post_logout_redirect_uris": []string{after},
			"frontchannel_logout_uri": front, "frontchannel_logout_session_required": true})
		bad := w.api(t, "POST", "/api/v1/tenants/acme/clients", map[string]any{"name": "Bad", "redirect_uris": []string{callback},
			"frontchannel_logout_uri": "https://example.com/front#x", "backchannel_logout_uri": "ftp://example.com/back"})
		if bad.status != 422 || !strings.Contains(bad.body, `"field":"frontchannel_logout_uri","detail":"must not have a fragment`) ||
			!strings.Contains(bad.body, `"field":"backchannel_logout_uri","detail":"must be an https://`) {
			t.Fatalf("bad logout URIs: %d %s", bad.status, bad.body)
		}
		b := w.browser(t)
		a := w.rp(t, w.tenant, c.ID, c.ClientSecret).signedIn(b)
		u := w.issuer(w.tenant) + "/oauth/logout?" + url.Values{"id_token_hint": {a.token.Extra("id_token").(string)}, "post_logout_redirect_uri": {after}, "state": {"s1"}}.Encode()
		resp := b.raw(u)
		body := resp.body
		want := "http://127.0.0.1:9/logout/front?" + url.Values{"iss": {w.issuer(w.tenant)}, "sid": {a.claims["sid"].(string)}, "tab": {"1"}}.Encode()
		if resp.status != 200 || !strings.Contains(body, `<iframe class="hidden" src="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) {
			t.Fatalf("the signed-out page: %d, want a frame of %s\n%s", resp.status, want, body)
		}
		if !strings.Contains(body, `href="`+after+`?state=s1"`) {
			t.Fatalf("the signed-out page does not continue to the product:\n%s", body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; frame-src http://127.0.0.1:9") {
			t.Fatalf("the signed-out page's policy: %s", csp)
		}
		// usher's own sign-out frames them too, then goes to the signed-out page.
		again := w.rp(t, w.tenant, c.ID, c.ClientSecret).signedIn(b)
		req, _ := http.NewRequest("POST", w.issuer(w.tenant)+"/signout", nil)
		out, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(out.Body)
		out.Body.Close()
		want = "http://127.0.0.1:9/logout/front?" + url.Values{"iss": {w.issuer(w.tenant)}, "sid": {again.claims["sid"].(string)}, "tab": {"1"}}.Encode()
		if out.StatusCode != 200 || !strings.Contains(string(page), `src="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) ||
			!strings.Contains(string(page), `href="`+w.issuer(w.tenant)+`/?signed_out"`) || !strings.HasSuffix(out.Header.Get("Content-Security-Policy"), "; frame-src http://127.0.0.1:9") {
			t.Fatalf("usher's sign-out: %d %s\n%s", out.StatusCode, out.Header.Get("Content-Security-Policy"), page)
		}
		if again.claims["sid"] == a.claims["sid"] {
			t.Fatal("a new session has the old sid")
		}
		if p := b.get(w.issuer(w.tenant) + "/"); strings.Contains(p.body, "<iframe") {
			t.Fatal("the sign-in page frames something")
		}
		resp = b.raw(w.issuer(w.tenant) + "/")
		if strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-src") {
			t.Fatal("the sign-in page may frame")
		}
	})
}

// TestLogoutClientFields: the API keeps a client's logout addresses and
// their session flags, an empty address removes one, and another tenant's
// client is not found.
func TestLogoutClientFields(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback},
			"backchannel_logout_uri": "https://ledger.example/back", "frontchannel_logout_uri": "https://ledger.example/front?x=1",
			"frontchannel_logout_session_required": true})
		path := "/api/v1/tenants/acme/clients/" + c.ID
		got := jsonOf(t, w.api(t, "GET", path, nil).body)
		if got["backchannel_logout_uri"] != "https://ledger.example/back" || got["backchannel_logout_session_required"] != false ||
			got["frontchannel_logout_uri"] != "https://ledger.example/front?x=1" || got["frontchannel_logout_session_required"] != true {
			t.Fatalf("as registered: %v", got)
		}
		r := w.api(t, "PATCH", path, map[string]any{"backchannel_logout_uri": "", "backchannel_logout_session_required": true})
		got = jsonOf(t, r.body)
		if r.status != 200 || got["backchannel_logout_uri"] != "" || got["backchannel_logout_session_required"] != true ||
			got["frontchannel_logout_uri"] != "https://ledger.example/front?x=1" {
			t.Fatalf("after removing the back-channel address: %d %v", r.status, got)
		}
		w.newTenant(t, "globex")
		if r := w.api(t, "PATCH", "/api/v1/tenants/globex/clients/"+c.ID, map[string]any{"backchannel_logout_uri": "https://evil.example/"}); r.status != 404 {
			t.Fatalf("another tenant's client: %d %s", r.status, r.body)
		}
	})
}

// TestCodeVoidedBySessionEnd: a code issued before its session ended
// (signed out, signed out everywhere else, the account suspended) is
// refused afterwards, so no grant is made for a session that is gone.
func TestCodeVoidedBySessionEnd(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ada := w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}})
		r := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		exchange := func(l login, back *url.URL) (int, map[string]any) {
			return w.form(t, w.tenant, "/oauth/token", c.ID, c.ClientSecret, "grant_type", "authorization_code",
				"code", back.Query().Get("code"), "redirect_uri", callback, "code_verifier", l.verifier)
		}
		// codeOf runs an authorization request in b up to its code.
		codeOf := func(b *browser) (login, *url.URL) {
			l := r.start()
			p := b.get(l.url)
			if b.back != nil {
				return l, b.back
			}
			return l, b.signIn(p, w.tenant, "ada@example.com", "analytical engine 1843")
		}

		// Signed out.
		b := w.browser(t)
		l, back := codeOf(b)
		b.post(w.issuer(w.tenant) + "/signout")
		if status, out := exchange(l, back); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("a code of a signed-out session: %d %v", status, out)
		}

		// Signed out everywhere else: the phone's code goes, the laptop's stays.
		phone, laptop := w.browser(t), w.browser(t)
		lp, bp := codeOf(phone)
		ll, bl := codeOf(laptop)
		if p := laptop.post(w.issuer(w.tenant) + "/account/sessions/end-others"); p.status != 200 {
			t.Fatalf("sign out everywhere else: %d", p.status)
		}
		if status, out := exchange(lp, bp); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("a code of a session signed out from elsewhere: %d %v", status, out)
		}
		if status, out := exchange(ll, bl); status != 200 || out["refresh_token"] == nil {
			t.Fatalf("the code of the session that stayed: %d %v", status, out)
		}

		// The account suspended.
		l, back = codeOf(laptop)
		state := usher.StateSuspended
		if _, err := w.svc.UpdateAccount(ctx, usher.Actor{Kind: usher.ActorToken, Role: usher.AdminUser}, w.tenant, ada.ID,
			provision.AccountUpdate{State: &state}); err != nil {
			t.Fatal(err)
		}
		state = usher.StateActive
		if _, err := w.svc.UpdateAccount(ctx, usher.Actor{Kind: usher.ActorToken, Role: usher.AdminUser}, w.tenant, ada.ID,
			provision.AccountUpdate{State: &state}); err != nil {
			t.Fatal(err)
		}
		if status, out := exchange(l, back); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("a code issued before the account was suspended: %d %v", status, out)
		}
	})
}

// TestBackchannelLogoutFairness: a tenant whose product's back-channel
// logout address does not answer, with many logout tokens due, neither
// fills a pass nor delays another tenant's token: a pass takes at most
// two events of a client, and a failure without an answer defers that
// client's other events by the same backoff.
func TestBackchannelLogoutFairness(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		var mu sync.Mutex
		dropped := 0
		dead := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mu.Lock()
			dropped++
			mu.Unlock()
			// No answer: the connection closes under the request.
			conn, _, err := rw.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		t.Cleanup(dead.Close)
		tries := func() int {
			mu.Lock()
			defer mu.Unlock()
			return dropped
		}

		globex, _ := w.newTenant(t, "globex")
		w.person(t, globex, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com"}}, "compiler pioneer 1952")
		g := w.client(t, globex, map[string]any{"name": "Globex app", "redirect_uris": []string{callback}, "backchannel_logout_uri": dead.URL + "/logout"})
		rg := w.rp(t, globex, g.ID, g.ClientSecret)
		for range 6 {
			b := w.browser(t)
			rg.signedInAs(b, "grace@example.com", "compiler pioneer 1952")
			b.post(w.issuer(globex) + "/signout")
		}
		w.clock.Advance(time.Second) // acme's event is due after globex's six

		w.ada(t)
		rc := newReceiver(t, w.clock.Now)
		a := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/a"})
		b := w.browser(t)
		w.rp(t, w.tenant, a.ID, a.ClientSecret).signedIn(b)
		b.post(w.issuer(w.tenant) + "/signout")
		if n := len(w.logoutEvents(t, globex)); n != 6 {
			t.Fatalf("globex has %d logout events, want 6", n)
		}

		lw := backchannel.NewLogoutWorker(w.oid.BackChannel(), backchannel.LogoutWorkerOptions{Batch: 4})
		if n, err := lw.RunOnce(ctx); n != 3 || err != nil {
			t.Fatalf("the first pass claimed %d events (want globex's two and acme's one): %v", n, err)
		}
		if len(rc.tokens("/a")) != 1 || tries() != 2 {
			t.Fatalf("after the first pass: acme's product has %d tokens, globex's address was tried %d times", len(rc.tokens("/a")), tries())
		}
		// Globex's other four wait out the backoff of the failed ones.
		if n, err := lw.RunOnce(ctx); n != 0 || err != nil {
			t.Fatalf("a second pass at once claimed %d events: %v", n, err)
		}
		w.clock.Advance(time.Minute)
		if n, err := lw.RunOnce(ctx); n != 2 || err != nil || tries() != 4 {
			t.Fatalf("a minute later a pass claimed %d events and globex's address was tried %d times in all: %v", n, tries(), err)
		}
		for _, e := range w.logoutEvents(t, globex) {
			if e.DeliveredAt != nil || e.NextAt.Before(w.clock.Now().Add(time.Minute)) {
				t.Fatalf("a globex event after the failures: %+v", e)
			}
		}
	})
}

// TestBackchannelLogoutErrorRedacted: a failed delivery's stored error and
// logs name the back-channel logout address by scheme, host and path only:
// a secret in its query appears in neither.
func TestBackchannelLogoutErrorRedacted(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		const secret = "s3cret-in-the-query"
		dead := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if conn, _, err := rw.(http.Hijacker).Hijack(); err == nil {
				conn.Close() // no answer
			}
		}))
		t.Cleanup(dead.Close)
		w.ada(t)
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback},
			"backchannel_logout_uri": dead.URL + "/logout?key=" + secret})
		b := w.browser(t)
		w.rp(t, w.tenant, c.ID, c.ClientSecret).signedIn(b)
		b.post(w.issuer(w.tenant) + "/signout")

		var logs lockedBuffer
		p, err := openid.New(openid.Deps{Store: w.st, Box: w.box, Clock: w.clock.Now, Issuer: w.issuer, HTTP: egress.Client(true, 10*time.Second),
			Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := backchannel.NewLogoutWorker(p.BackChannel(), backchannel.LogoutWorkerOptions{}).RunOnce(ctx); n != 1 || err != nil {
			t.Fatalf("the worker claimed %d events: %v", n, err)
		}
		evs := w.logoutEvents(t, w.tenant)
		if len(evs) != 1 || evs[0].Attempts != 1 || !strings.Contains(evs[0].LastError, dead.URL+"/logout") || evs[0].LastFailure != backchannel.FailConnect ||
			evs[0].LastStatus != 0 {
			t.Fatalf("the failed event: %+v", evs)
		}
		if strings.Contains(evs[0].LastError, secret) || strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), "will retry") {
			t.Fatalf("the address's query in the stored error %q or the logs:\n%s", evs[0].LastError, logs.String())
		}
	})
}
