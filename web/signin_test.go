package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/web/view"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// The sign-in tests drive the real server on both databases with browser-
// like clients (a cookie jar, redirects followed), on a clock they move.

// signinWorld is a server with one tenant "acme", a plan, and an operator.
type signinWorld struct {
	url    string
	svc    *provision.Service
	st     *store.Store
	clock  *storetest.Clock
	tenant usher.Tenant
	plan   usher.Plan
	log    *lockedBuffer
	srv    *Server
}

var opActor = usher.Actor{Kind: "operator", ID: "test", Role: usher.PrincipalOperator}

func onEachDatabaseWorld(t *testing.T, fn func(t *testing.T, w *signinWorld)) {
	t.Helper()
	onEachDatabaseOpen(t, func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
		fn(t, newSigninWorld(t, open))
	})
}

// newSigninWorld starts a server on a store from open; configure, if any,
// changes its configuration first.
func newSigninWorld(t testing.TB, open func(testing.TB, func() time.Time) *store.Store, configure ...func(*Config)) *signinWorld {
	t.Helper()
	clock := storetest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st := open(t, clock.Now)
	hs := httptest.NewUnstartedServer(nil)
	links := Links{PublicURL: "http://" + hs.Listener.Addr().String()}
	svc := provision.New(st, clock.Now, links)
	logs := &lockedBuffer{}
	cfg := Config{Version: "test", Links: links}
	for _, f := range configure {
		f(&cfg)
	}
	srv := New(slog.New(slog.NewTextHandler(logs, nil)), cfg, st, svc, signin.New(st, svc, clock.Now), clock.Now)
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("the server logged errors:\n%s", logs.String())
		}
	})
	w := &signinWorld{url: hs.URL, svc: svc, st: st, clock: clock, log: logs, srv: srv}
	w.tenant, w.plan = w.newTenant(t, "acme", "Acme")
	return w
}

// newTenant creates a tenant with a plan of 50 seats as its default.
func (w *signinWorld) newTenant(t testing.TB, slug, name string) (usher.Tenant, usher.Plan) {
	t.Helper()
	ctx := context.Background()
	tn, err := w.svc.CreateTenant(ctx, opActor, provision.TenantInput{Slug: slug, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	seats, pname := 50, "Standard"
	p, err := w.srv.catalog.CreatePlan(ctx, opActor, tn, catalog.PlanInput{Key: "std", Name: &pname, Seats: &seats})
	if err != nil {
		t.Fatal(err)
	}
	set := tn.Settings
	set.DefaultPlanID, set.SMSEnabled = p.ID, true
	if tn, err = w.svc.UpdateTenant(ctx, opActor, tn.ID, provision.TenantUpdate{Settings: &set}); err != nil {
		t.Fatal(err)
	}
	return tn, p
}

// settings changes the tenant's settings with f.
func (w *signinWorld) settings(t *testing.T, tn *usher.Tenant, f func(*usher.TenantSettings)) {
	t.Helper()
	set := tn.Settings
	f(&set)
	n, err := w.svc.UpdateTenant(context.Background(), opActor, tn.ID, provision.TenantUpdate{Settings: &set})
	if err != nil {
		t.Fatal(err)
	}
	*tn = n
	// As the API does after its own changes: this replica forgets the tenant at once.
	w.srv.tenants.Forget(n.Slug)
}

// invite creates an invited account in tn.
func (w *signinWorld) invite(t *testing.T, tn usher.Tenant, in provision.AccountInput) provision.Created {
	t.Helper()
	if in.Route == "" {
		in.Route = provision.RouteNewUser
	}
	c, err := w.svc.CreateAccount(context.Background(), usher.Actor{Kind: "token", Role: usher.AdminUser}, tn, in)
	if err != nil {
		t.Fatal(err)
	}
	c.Messages = written(t, w.svc, c.Messages)
	return c
}

// activeUser creates an account with email and activates it with pw by its link.
func (w *signinWorld) activeUser(t *testing.T, tn usher.Tenant, first, email, pw string) usher.Account {
	t.Helper()
	c := w.invite(t, tn, provision.AccountInput{Person: &provision.PersonInput{FirstName: first, LastName: "Tester", Email: email}})
	link := linkRE.FindString(c.Messages[0].Body)
	secret := link[strings.LastIndex(link, "/")+1:]
	a, err := w.svc.ActivateWithLink(context.Background(), tn, secret, pw, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// browser is one person's browser: cookies kept, redirects followed.
type browser struct {
	t *testing.T
	c *http.Client
	w *signinWorld
}

func (w *signinWorld) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}, w: w}
}

type webPage struct {
	status int
	body   string
	url    string
	header http.Header
}

func (b *browser) do(req *http.Request) webPage {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return webPage{status: resp.StatusCode, body: string(body), url: resp.Request.URL.String(), header: resp.Header}
}

func (b *browser) get(path string) webPage {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.w.url+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, kv ...string) webPage {
	b.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest("POST", b.w.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.w.url)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// signIn goes through both steps and expects the account page.
func (b *browser) signIn(tenant, identifier, pw string) webPage {
	b.t.Helper()
	p := b.post("/t/"+tenant+"/signin", "identifier", identifier)
	if p.status != 200 || !strings.Contains(p.body, "Enter your password") {
		b.t.Fatalf("identifier step for %s: %d %s", identifier, p.status, p.body)
	}
	p = b.post("/t/"+tenant+"/signin/password", "identifier", identifier, "password", pw)
	if p.status != 200 || !strings.HasSuffix(p.url, "/t/"+tenant+"/account") || !strings.Contains(p.body, "Your account") {
		b.t.Fatalf("password step for %s: %d at %s\n%s", identifier, p.status, p.url, p.body)
	}
	return p
}

func wantPage(t *testing.T, p webPage, status int, says ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("want %d, got %d at %s\n%s", status, p.status, p.url, p.body)
	}
	for _, s := range says {
		if !strings.Contains(p.body, s) {
			t.Fatalf("the page at %s does not say %q:\n%s", p.url, s, p.body)
		}
	}
}

func TestIdentifierStep(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ivy", LastName: "I", Email: "ivy@example.com"}})
		otpAcct := w.invite(t, w.tenant, provision.AccountInput{Username: "olle", Phone: "+46701112244", Person: &provision.PersonInput{FirstName: "Olle", LastName: "O"}})
		if _, err := w.svc.SetOneTimePassword(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, otpAcct.Account.ID, "olle-first-time"); err != nil {
			t.Fatal(err)
		}
		sus := w.activeUser(t, w.tenant, "Sus", "sus@example.com", "suspended passphrase")
		st := usher.StateSuspended
		if _, err := w.svc.UpdateAccount(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, sus.ID, provision.AccountUpdate{State: &st}); err != nil {
			t.Fatal(err)
		}
		// An external contact on the connection, and the connection owning corp.example.
		if _, err := w.svc.SaveConnection(ctx, opActor, w.tenant, "", provision.ConnectionInput{Connection: usher.Connection{
			Name: "Corp Entra", Protocol: "oidc", Domains: []string{"corp.example"}, Issuer: "https://login.corp.example", ClientID: "usher"}}); err != nil {
			t.Fatal(err)
		}
		w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Sso", LastName: "S", Email: "sso@corp.example"}})

		b := w.browser(t)
		wantPage(t, b.get("/t/acme/"), 200, "Sign in", `name="identifier"`, `autocomplete="username"`)
		wantPage(t, b.post("/t/acme/signin", "identifier", "  "), 422, "Enter your email, username or phone number")
		wantPage(t, b.post("/t/acme/signin", "identifier", "ADA@example.com"), 200, "Enter your password", `type="password"`)
		wantPage(t, b.post("/t/acme/signin", "identifier", "ivy@example.com"), 200, "Your invitation is still open", "Send me a new activation message")
		wantPage(t, b.post("/t/acme/signin", "identifier", "olle"), 200, "Enter your password", "one-time password")
		wantPage(t, b.post("/t/acme/signin", "identifier", "sus@example.com"), 200, "This account is not active")
		wantPage(t, b.post("/t/acme/signin", "identifier", "sso@corp.example"), 200, "Sign in with your company account", "Corp Entra")
		wantPage(t, b.post("/t/acme/signin", "identifier", "new.person@corp.example"), 200, "Sign in with your company account", "Corp Entra")
		p := b.post("/t/acme/signin", "identifier", "nobody@example.com")
		wantPage(t, p, 200, "There is no account for this email address yet", "Ask yours for an account")
		if strings.Contains(p.body, "/register") {
			t.Fatal("registration is offered while it is off")
		}

		// "Send me a new activation message" from the invited branch queues one.
		w.clock.Advance(2 * time.Minute) // a new link at most once a minute
		before := w.messages(t, "ivy@example.com")
		wantPage(t, b.post("/t/acme/activate/request", "identifier", "ivy@example.com"), 200, "Ask for your activation link", "ask your administrator for the link")
		if after := w.messages(t, "ivy@example.com"); after != before+1 {
			t.Fatalf("messages to ivy: %d before, %d after the request", before, after)
		}

		w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.Registration = "open" })
		wantPage(t, b.post("/t/acme/signin", "identifier", "nobody@example.com"), 200, "There is no account for this email address yet", `action="`+w.url+`/t/acme/register"`, "Register")
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) {
			s.Registration, s.RegistrationDomains = "domains", []string{"partner.example"}
		})
		wantPage(t, b.post("/t/acme/signin", "identifier", "someone@partner.example"), 200, "Register")
		if p := b.post("/t/acme/signin", "identifier", "someone@other.example"); strings.Contains(p.body, "/register") {
			t.Fatalf("registration offered outside its domains:\n%s", p.body)
		}

		// A tenant that does not reveal accounts answers the same for all.
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.RevealAccounts, s.Registration = false, "off" })
		norm := func(p webPage, id string) string { return strings.ReplaceAll(p.body, id, "X") }
		ref := norm(b.post("/t/acme/signin", "identifier", "ada@example.com"), "ada@example.com")
		for _, id := range []string{"ivy@example.com", "sus@example.com", "nobody@example.com", "olle"} {
			if got := norm(b.post("/t/acme/signin", "identifier", id), id); got != ref {
				t.Fatalf("the identifier step tells %s apart:\n%s\n---\n%s", id, ref, got)
			}
		}
		pref := b.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "wrong password!")
		wantPage(t, pref, 401, "not right")
		for _, id := range []string{"ivy@example.com", "nobody@example.com"} {
			p := b.post("/t/acme/signin/password", "identifier", id, "password", "wrong password!")
			if p.status != 401 || norm(p, id) != norm(pref, "ada@example.com") {
				t.Fatalf("the password step tells %s apart: %d\n%s", id, p.status, p.body)
			}
		}
	})
}

func (w *signinWorld) messages(t *testing.T, to string) int {
	t.Helper()
	msgs, _, err := w.st.Read().Messages(context.Background(), w.tenant.ID, store.MessageFilter{}, store.ListOptions{Limit: 500})
	msgs = written(t, w.svc, msgs)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.To == to {
			n++
		}
	}
	return n
}

func TestSessions(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		a := w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		b := w.browser(t)
		wantPage(t, b.get("/t/acme/account"), 200, "Sign in") // not signed in: the sign-in page
		p := b.signIn("acme", "ada@example.com", "analytical engine 1843")
		wantPage(t, p, 200, "Ada Tester", "ada@example.com", "Standard", "this browser")
		c := b.cookie(view.SessionCookie)
		if c == nil || len(c.Value) < 40 {
			t.Fatalf("session cookie: %+v", c)
		}
		first := c.Value
		// The cookie's attributes, as the server set them.
		resp := b.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "analytical engine 1843")
		_ = resp
		if b.cookie(view.SessionCookie).Value == first {
			t.Fatal("a new sign-in kept the old session id")
		}
		// The old session is gone, not just replaced in this browser.
		old := w.browser(t)
		old.c.Jar.SetCookies(mustURL(w.url), []*http.Cookie{{Name: view.SessionCookie, Value: first, Path: "/"}})
		wantPage(t, old.get("/t/acme/account"), 200, "Sign in")

		// Idle timeout (8 hours by default): used within it, the session lives on.
		w.clock.Advance(7 * time.Hour)
		wantPage(t, b.get("/t/acme/account"), 200, "Your account")
		w.clock.Advance(7 * time.Hour)
		wantPage(t, b.get("/t/acme/account"), 200, "Your account")
		w.clock.Advance(8*time.Hour + time.Minute)
		wantPage(t, b.get("/t/acme/account"), 200, "Sign in")

		// Absolute timeout: a short one, touched all along.
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.SessionIdleMinutes, s.SessionMaxHours = 30, 2 })
		b.signIn("acme", "ada@example.com", "analytical engine 1843")
		for range 4 {
			w.clock.Advance(25 * time.Minute)
			wantPage(t, b.get("/t/acme/account"), 200, "Your account")
		}
		w.clock.Advance(25 * time.Minute) // 2h05 after sign-in
		wantPage(t, b.get("/t/acme/account"), 200, "Sign in")

		// Suspension ends the session at once; reactivation does not bring it back.
		b.signIn("acme", "ada@example.com", "analytical engine 1843")
		susp, act := usher.StateSuspended, usher.StateActive
		admin := usher.Actor{Kind: "token", Role: usher.AdminUser}
		if _, err := w.svc.UpdateAccount(ctx, admin, w.tenant, a.ID, provision.AccountUpdate{State: &susp}); err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.get("/t/acme/account"), 200, "Sign in")
		if _, err := w.svc.UpdateAccount(ctx, admin, w.tenant, a.ID, provision.AccountUpdate{State: &act}); err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.get("/t/acme/account"), 200, "Sign in")
		if n, err := w.st.Read().Sessions(ctx, a.IdentityID); err != nil || len(n) != 0 {
			t.Fatalf("sessions after suspension: %v %v", n, err)
		}

		// Sign out ends the session on the server.
		b.signIn("acme", "ada@example.com", "analytical engine 1843")
		kept := b.cookie(view.SessionCookie).Value
		wantPage(t, b.post("/t/acme/signout"), 200, "You are signed out")
		replay := w.browser(t)
		replay.c.Jar.SetCookies(mustURL(w.url), []*http.Cookie{{Name: view.SessionCookie, Value: kept, Path: "/"}})
		wantPage(t, replay.get("/t/acme/account"), 200, "Sign in")

		// Other sessions: listed, and ended from the page.
		b.signIn("acme", "ada@example.com", "analytical engine 1843")
		phone := w.browser(t)
		phone.signIn("acme", "ada@example.com", "analytical engine 1843")
		wantPage(t, b.get("/t/acme/account"), 200, "Sign out everywhere else")
		wantPage(t, b.post("/t/acme/account/sessions/end-others"), 200, "signed out everywhere else")
		wantPage(t, phone.get("/t/acme/account"), 200, "Sign in")
		wantPage(t, b.get("/t/acme/account"), 200, "Your account")

		// Sessions left unused past any tenant's timeouts are cleared at the next sign-in.
		w.clock.Advance(31 * 24 * time.Hour)
		fresh := w.browser(t)
		fresh.signIn("acme", "ada@example.com", "analytical engine 1843")
		if n, err := w.st.Read().Sessions(ctx, a.IdentityID); err != nil || len(n) != 1 {
			t.Fatalf("sessions after a month away and a new sign-in: %d %v", len(n), err)
		}

		// A cross-site POST is refused.
		req, _ := http.NewRequest("POST", w.url+"/t/acme/signin/password", strings.NewReader("identifier=ada%40example.com&password=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := b.do(req); p.status != http.StatusForbidden {
			t.Fatalf("cross-site sign-in: %d", p.status)
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSessionCookieAttributes(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		form := url.Values{"identifier": {"ada@example.com"}, "password": {"analytical engine 1843"}}
		req, _ := http.NewRequest("POST", w.url+"/t/acme/signin/password", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in answered %d", resp.StatusCode)
		}
		var ses *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == view.SessionCookie {
				ses = c
			}
		}
		// Plain HTTP on 127.0.0.1: not Secure, so the browser keeps it; everything else as in production.
		if ses == nil || !ses.HttpOnly || ses.SameSite != http.SameSiteLaxMode || ses.Secure || ses.Path != "/" || ses.MaxAge != 0 {
			t.Fatalf("session cookie: %+v", ses)
		}
		if got := (Links{PublicURL: "https://id.example.com"}).SecureCookies(); !got {
			t.Fatal("cookies over HTTPS are not Secure")
		}
		if got := (Links{PublicURL: "http://id.example.com"}).SecureCookies(); !got {
			t.Fatal("cookies on a non-local plain-HTTP address are not Secure")
		}
	})
}

func TestOneTimePasswordSignIn(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		c := w.invite(t, w.tenant, provision.AccountInput{Username: "olle", Phone: "+46701112244", Person: &provision.PersonInput{FirstName: "Olle", LastName: "O"}})
		otp, err := w.svc.SetOneTimePassword(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, c.Account.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		b := w.browser(t)
		wantPage(t, b.post("/t/acme/signin", "identifier", "olle"), 200, "Enter your password")
		p := b.post("/t/acme/signin/password", "identifier", "olle", "password", otp)
		wantPage(t, p, 200, "Choose your own password")
		if b.cookie(view.SessionCookie) != nil {
			t.Fatal("a one-time password gave a session before a new password was chosen")
		}
		// Nothing else is reachable meanwhile.
		wantPage(t, b.get("/t/acme/account"), 200, "Sign in")
		b.post("/t/acme/signin/password", "identifier", "olle", "password", otp)
		wantPage(t, b.post("/t/acme/signin/choose", "identifier", "olle", "one_time", otp, "password", "olle new pass", "confirm", "olle new pasS"), 422, "not the same")
		wantPage(t, b.post("/t/acme/signin/choose", "identifier", "olle", "one_time", otp, "password", "password1", "confirm", "password1"), 422, "most common")
		p = b.post("/t/acme/signin/choose", "identifier", "olle", "one_time", otp, "password", "olle's own passphrase", "confirm", "olle's own passphrase")
		wantPage(t, p, 200, "Your account", "olle")
		// The one-time password no longer works; the chosen one does.
		again := w.browser(t)
		wantPage(t, again.post("/t/acme/signin/password", "identifier", "olle", "password", otp), 401, "not right")
		again.signIn("acme", "+46 70 111 22 44", "olle's own passphrase")
	})
}

func TestOneSignInAcrossTenants(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		// Ada's second tenant: her activation there joins her identity (seed 000).
		beta, _ := w.newTenant(t, "beta", "Beta Partners")
		c := w.invite(t, beta, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ada", LastName: "Tester", Email: "ada@example.com"}})
		link := linkRE.FindString(c.Messages[0].Body)
		ada, err := w.st.Read().IdentityByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.ActivateWithLink(ctx, beta, link[strings.LastIndex(link, "/")+1:], "", ada.ID, "test"); err != nil {
			t.Fatal(err)
		}
		// A third tenant where her account signs in with its SSO.
		gamma, _ := w.newTenant(t, "gamma", "Gamma Corp")
		if _, err := w.svc.SaveConnection(ctx, opActor, gamma, "", provision.ConnectionInput{Connection: usher.Connection{
			Name: "Gamma SSO", Protocol: "oidc", Domains: []string{"gamma.example"}, Issuer: "https://login.gamma.example", ClientID: "usher"}}); err != nil {
			t.Fatal(err)
		}
		gc := w.invite(t, gamma, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ada", LastName: "Tester", Email: "ada@example.com"}})
		if gc.Account.AuthSystem != usher.AuthConnection {
			t.Fatalf("gamma's account: %+v", gc.Account)
		}
		// Join the identity by hand, as SSO sign-in will.
		if err := w.st.Write(ctx, func(tx *store.Tx) error {
			cur, err := tx.Account(ctx, gamma.ID, gc.Account.ID)
			if err != nil {
				return err
			}
			ada, err := tx.IdentityByEmail(ctx, "ada@example.com")
			if err != nil {
				return err
			}
			next := cur
			next.IdentityID, next.State = ada.ID, usher.StateActive
			return tx.UpdateAccount(ctx, gamma.ID, &cur, &next)
		}); err != nil {
			t.Fatal(err)
		}

		b := w.browser(t)
		p := b.signIn("acme", "ada@example.com", "analytical engine 1843")
		wantPage(t, p, 200, "Your organizations", "Beta Partners", "/t/beta/account", "Gamma Corp", "signs in with its single sign-on")
		wantPage(t, b.get("/t/beta/account"), 200, "Your account", "Beta Partners")
		wantPage(t, b.get("/t/beta/"), 200, "Your account") // the front door sends her on
		wantPage(t, b.get("/t/gamma/account"), 403, "Sign in with your company account")
		// Signing out at beta ends the one session everywhere.
		b.post("/t/beta/signout")
		wantPage(t, b.get("/t/acme/account"), 200, "Sign in")
	})
}

func TestChangePassword(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		b, other := w.browser(t), w.browser(t)
		b.signIn("acme", "ada@example.com", "analytical engine 1843")
		other.signIn("acme", "ada@example.com", "analytical engine 1843")
		wantPage(t, b.post("/t/acme/account/password", "old_password", "not it at all", "password", "difference engine 1822", "confirm", "difference engine 1822"), 422, "That is not your current password.")
		wantPage(t, b.post("/t/acme/account/password", "old_password", "analytical engine 1843", "password", "difference engine 1822", "confirm", "difference"), 422, "not the same")
		wantPage(t, b.post("/t/acme/account/password", "old_password", "analytical engine 1843", "password", "short", "confirm", "short"), 422, "at least 8 characters")
		wantPage(t, b.post("/t/acme/account/password", "old_password", "analytical engine 1843", "password", "difference engine 1822", "confirm", "difference engine 1822"), 200, "Your password is changed")
		wantPage(t, other.get("/t/acme/account"), 200, "Sign in")
		wantPage(t, b.get("/t/acme/account"), 200, "Your account")
		fresh := w.browser(t)
		wantPage(t, fresh.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "analytical engine 1843"), 401, "not right")
		fresh.signIn("acme", "ada@example.com", "difference engine 1822")
	})
}

func TestThrottling(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		// Ada's own browser signed in before: it has its device cookie.
		own := w.browser(t)
		own.signIn("acme", "ada@example.com", "analytical engine 1843")
		own.post("/t/acme/signout")

		// A burst of parallel guesses: only the free attempts are checked.
		const burst = 16
		codes := make(chan int, burst)
		var wg sync.WaitGroup
		for i := range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				att := w.browser(t)
				p := att.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "guess number "+string(rune('a'+i)))
				codes <- p.status
			}()
		}
		wg.Wait()
		close(codes)
		counts := map[int]int{}
		for c := range codes {
			counts[c]++
		}
		if counts[401] != 5 || counts[429] != burst-5 {
			t.Fatalf("a burst of %d guesses: %v; want 5 checked (401) and the rest refused (429)", burst, counts)
		}
		// The right password from another browser waits too, and is told how long.
		att := w.browser(t)
		p := att.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "analytical engine 1843")
		wantPage(t, p, 429, "Too many attempts", "Wait 1 seconds")
		if p.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", p.header.Get("Retry-After"))
		}
		// Ada's own browser is not locked out by the attacker.
		own.signIn("acme", "ada@example.com", "analytical engine 1843")
		// The delay grows with each failure after the lock passes, and ends.
		w.clock.Advance(time.Second)
		wantPage(t, att.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "still wrong"), 401)
		wantPage(t, att.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "analytical engine 1843"), 429, "Wait 2 seconds")
		w.clock.Advance(2 * time.Second)
		att.signIn("acme", "ada@example.com", "analytical engine 1843")

		// Successes give their attempt back: one office address signs in all day.
		w.clock.Advance(time.Hour)
		office := w.browser(t)
		for range 32 {
			office.signIn("acme", "ada@example.com", "analytical engine 1843")
		}

		// One source address guessing across many accounts meets its own limit.
		w.clock.Advance(time.Hour)
		spray := w.browser(t)
		refused := 0
		for i := range 40 {
			p := spray.post("/t/acme/signin/password", "identifier", "user"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", "password", "Summer2026!")
			if p.status == 429 {
				refused++
			}
		}
		if refused != 40-30 {
			t.Fatalf("spraying 40 accounts from one address: %d refused, want 10", refused)
		}
	})
}

var smsCodeRE = regexp.MustCompile(`code: (\d{6})`)

func TestRegistration(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		b := w.browser(t)
		wantPage(t, b.get("/t/acme/register"), 403, "does not take registrations")
		wantPage(t, b.post("/t/acme/register", "first_name", "Reg", "last_name", "R", "email", "reg@example.com"), 403, "does not take registrations")

		w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.Registration = "open" })
		wantPage(t, b.get("/t/acme/register?email=reg%40example.com"), 200, "Create your account", `value="reg@example.com"`, `autocomplete="given-name"`)
		p := b.post("/t/acme/register", "first_name", "", "last_name", "", "email", "not an email")
		wantPage(t, p, 422, "Please correct the fields", "Your first name is required.", "Your last name is required.", `id="email-error"`)
		if strings.Contains(p.body, "this tenant") {
			t.Fatalf("the registration form speaks of a tenant to a person registering:\n%s", p.body)
		}
		// Without an email provider the page does not claim a message went out.
		p = b.post("/t/acme/register", "first_name", "Reg", "last_name", "R", "email", "reg@example.com")
		wantPage(t, p, 200, "Ask for your activation link", "This service sends no messages yet: ask your administrator for your activation link")
		if strings.Contains(p.body, "Check your messages") || strings.Contains(p.body, "We are sending") {
			t.Fatalf("the page says a message is on its way with no provider for it:\n%s", p.body)
		}
		link := w.lastLink(t, "reg@example.com", "registration")
		// Activating the registration signs in with the chosen password afterwards.
		p = b.post(strings.TrimPrefix(link, w.url), "password", "registered passphrase", "confirm", "registered passphrase")
		wantPage(t, p, 200, "Your account is active", `href="`+w.url+`/t/acme/?identifier=reg%40example.com"`)
		// The sign-in page it leads to has the email filled in.
		wantPage(t, b.get("/t/acme/?identifier=reg%40example.com"), 200, `name="identifier" value="reg@example.com"`)
		b.signIn("acme", "reg@example.com", "registered passphrase")
		acct, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "reg@example.com")
		if err != nil || acct.PlanID != w.plan.ID || acct.AuthSystem != usher.AuthPassword {
			t.Fatalf("registered account: %+v %v", acct, err)
		}
		// The same address again: said plainly where the tenant reveals accounts...
		wantPage(t, b.post("/t/acme/register", "first_name", "Reg", "last_name", "R", "email", "reg@example.com"), 409, "There is already an account")
		// ...and answered as a success where it does not, with nothing sent.
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.RevealAccounts = false })
		n := w.messages(t, "reg@example.com")
		wantPage(t, b.post("/t/acme/register", "first_name", "Reg", "last_name", "R", "email", "reg@example.com"), 200, "Ask for your activation link")
		if w.messages(t, "reg@example.com") != n {
			t.Fatal("a registration of an existing address sent a message")
		}

		// Limited to domains.
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) {
			s.Registration, s.RegistrationDomains, s.RevealAccounts = "domains", []string{"partner.example"}, true
		})
		wantPage(t, b.post("/t/acme/register", "first_name", "O", "last_name", "X", "email", "o@other.example"), 422, "partner.example only")
		wantPage(t, b.post("/t/acme/register", "first_name", "P", "last_name", "X", "email", "p@partner.example"), 200, "Ask for your activation link")

		// An address of the SSO connection's domain is sent to the SSO instead.
		if _, err := w.svc.SaveConnection(ctx, opActor, w.tenant, "", provision.ConnectionInput{Connection: usher.Connection{
			Name: "Partner SSO", Protocol: "oidc", Domains: []string{"partner.example"}, Issuer: "https://login.partner.example", ClientID: "usher"}}); err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.post("/t/acme/register", "first_name", "Q", "last_name", "X", "email", "q@partner.example"), 422, "Partner SSO")

		// Username and phone, with a department of the person's choosing (seed 003).
		dep, err := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindDepartment, catalog.AttributeInput{Key: "kitchen", Name: ptr("Kitchen")})
		if err != nil {
			t.Fatal(err)
		}
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) {
			s.Registration, s.RegistrationDomains = "open", nil
			s.RegistrationFields, s.RegistrationDepartment = usher.RegistrationByUsernamePhone, true
		})
		p = b.get("/t/acme/register")
		wantPage(t, p, 200, `name="username"`, `name="phone"`, "Kitchen", `name="department_id"`)
		if strings.Contains(p.body, `name="email"`) {
			t.Fatal("the username + phone form asks for an email")
		}
		wantPage(t, b.post("/t/acme/register", "first_name", "Sam", "last_name", "S", "username", "", "phone", ""), 422, "Choose a username", "Enter your mobile phone number")
		wantPage(t, b.post("/t/acme/register", "first_name", "Sam", "last_name", "S", "username", "sam.k", "phone", "+46 70 555 12 34", "department_id", dep.ID), 200, "Ask for your activation link", "46 70 555 12 34")
		sam, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "sam.k")
		if err != nil {
			t.Fatal(err)
		}
		person, _ := w.st.Read().Person(ctx, w.tenant.ID, sam.PersonID)
		if person.DepartmentID != dep.ID || sam.Phone != "+46705551234" {
			t.Fatalf("registered by phone: %+v %+v", sam, person)
		}
		msgs, _, _ := w.st.Read().Messages(ctx, w.tenant.ID, store.MessageFilter{AccountID: sam.ID}, store.ListOptions{})
		msgs = written(t, w.svc, msgs)
		if len(msgs) != 1 || msgs[0].Channel != usher.ChannelSMS || msgs[0].Kind != "registration" || !smsCodeRE.MatchString(msgs[0].Body) {
			t.Fatalf("registration SMS: %+v", msgs)
		}
		// An unknown department is named.
		wantPage(t, b.post("/t/acme/register", "first_name", "T", "last_name", "T", "username", "tee", "phone", "+46705551235", "department_id", "nope"), 422, `id="department_id-error"`)
	})
}

func ptr[T any](v T) *T { return &v }

// lastLink is the activation link of the newest message of kind to to.
func (w *signinWorld) lastLink(t *testing.T, to, kind string) string {
	t.Helper()
	msgs, _, err := w.st.Read().Messages(context.Background(), w.tenant.ID, store.MessageFilter{Kind: kind}, store.ListOptions{Limit: 500})
	msgs = written(t, w.svc, msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			if l := linkRE.FindString(msgs[i].Body); l != "" {
				return l
			}
		}
	}
	t.Fatalf("no %s link to %s", kind, to)
	return ""
}

func TestSignupLinks(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		admin := usher.Actor{Kind: "token", Role: usher.AdminUser}
		dep, err := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindDepartment, catalog.AttributeInput{Key: "bakery", Name: ptr("Bakery")})
		if err != nil {
			t.Fatal(err)
		}
		jp, err := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindJobProfile, catalog.AttributeInput{Key: "baker", Name: ptr("Baker")})
		if err != nil {
			t.Fatal(err)
		}
		// The tenant takes no registrations of its own; the link still works.
		l, err := w.srv.signup.CreateSignupLink(ctx, admin, w.tenant, signup.SignupLinkInput{Name: ptr("Bakery QR"), DepartmentID: ptr(dep.ID),
			JobProfileID: ptr(jp.ID), MaxUses: ptr(2), ExpiresAt: ptr(w.clock.Now().Add(48 * time.Hour).Format(time.RFC3339))})
		if err != nil {
			t.Fatal(err)
		}
		b := w.browser(t)
		path := "/t/acme/join/" + l.Code
		p := b.get(path)
		wantPage(t, p, 200, "Create your account", "Bakery QR", "<strong>Department:</strong> Bakery")
		if strings.Contains(p.body, `name="department_id"`) {
			t.Fatal("a department's link lets the person pick another department")
		}
		wantPage(t, b.post(path, "first_name", "Bea", "last_name", "B", "email", "bea@example.com", "department_id", "ignored"), 200, "Ask for your activation link")
		bea, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "bea@example.com")
		if err != nil {
			t.Fatal(err)
		}
		person, _ := w.st.Read().Person(ctx, w.tenant.ID, bea.PersonID)
		if person.DepartmentID != dep.ID || person.JobProfileID != jp.ID || bea.PlanID != w.plan.ID {
			t.Fatalf("the link's defaults were not applied: %+v %+v", person, bea)
		}
		// A refused registration does not use the link up.
		wantPage(t, b.post(path, "first_name", "", "last_name", "B", "email", "x@example.com"), 422, "first name is required")
		wantPage(t, b.post(path, "first_name", "Cal", "last_name", "C", "email", "cal@example.com"), 200, "Ask for your activation link")
		wantPage(t, b.get(path), 410, "This sign-up link is used up")
		wantPage(t, b.post(path, "first_name", "Dee", "last_name", "D", "email", "dee@example.com"), 410, "used up")
		if _, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "dee@example.com"); err == nil {
			t.Fatal("a used-up link created an account")
		}

		// Expired and disabled links say so; an unknown one is not found.
		l2, err := w.srv.signup.CreateSignupLink(ctx, admin, w.tenant, signup.SignupLinkInput{Name: ptr("Everyone"), ExpiresAt: ptr(w.clock.Now().Add(time.Hour).Format(time.RFC3339))})
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.get("/t/acme/join/"+l2.Code), 200, "Create your account")
		w.clock.Advance(2 * time.Hour)
		wantPage(t, b.get("/t/acme/join/"+l2.Code), 410, "has expired", "expired on")
		l3, err := w.srv.signup.CreateSignupLink(ctx, admin, w.tenant, signup.SignupLinkInput{Name: ptr("Front desk")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.srv.signup.DeactivateSignupLink(ctx, admin, w.tenant, l3.ID); err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.post("/t/acme/join/"+l3.Code, "first_name", "Eve", "last_name", "E", "email", "eve@example.com"), 410, "switched off")
		wantPage(t, b.get("/t/acme/join/no-such-code"), 404, "does not exist")
		// Another tenant's link is unknown here.
		other, _ := w.newTenant(t, "other", "Other")
		l4, err := w.srv.signup.CreateSignupLink(ctx, admin, other, signup.SignupLinkInput{Name: ptr("Theirs")})
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.get("/t/acme/join/"+l4.Code), 404, "does not exist")
		wantPage(t, b.get("/t/other/join/"+l4.Code), 200, "Create your account")
	})
}

// TestRegistrationJoinsIdentity: registering with an email that signs in
// elsewhere joins that identity once the person proves it is theirs (seed 000).
func TestRegistrationJoinsIdentity(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		beta, _ := w.newTenant(t, "beta", "Beta Partners")
		w.settings(t, &beta, func(s *usher.TenantSettings) { s.Registration = "open" })
		b := w.browser(t)
		wantPage(t, b.post("/t/beta/signin", "identifier", "ada@example.com"), 200, "There is no account for this email address yet", "Register")
		wantPage(t, b.post("/t/beta/register", "first_name", "Ada", "last_name", "Tester", "email", "ada@example.com"), 200, "Ask for your activation link")
		msgs, _, err := w.st.Read().Messages(context.Background(), beta.ID, store.MessageFilter{Kind: "registration"}, store.ListOptions{})
		msgs = written(t, w.svc, msgs)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("registration messages: %v %v", msgs, err)
		}
		link := strings.TrimPrefix(linkRE.FindString(msgs[0].Body), w.url)
		// The link alone joins nothing and asks for no password: whoever
		// reads it (beta's administrators) has nothing to guess against.
		p := b.get(link)
		wantPage(t, p, 200, "You already have an account", "sign in there first")
		if strings.Contains(p.body, `type="password"`) {
			t.Fatalf("the joining link asks for a password:\n%s", p.body)
		}
		wantPage(t, b.post(link, "password", "analytical engine 1843"), 409, "sign in there first")
		// Signed in where she already is, the same browser joins.
		b.signIn("acme", "ada@example.com", "analytical engine 1843")
		wantPage(t, b.get(link), 200, "you are signed in as", "Activate with my sign-in")
		wantPage(t, b.post(link), 200, "Your account is active")
		// One identity, one password, both tenants.
		b.signIn("beta", "ada@example.com", "analytical engine 1843")
		wantPage(t, b.get("/t/acme/account"), 200, "Your account", "Beta Partners", "Acme")
	})
}

// TestSignInReturnsToThePage: a page that needs a sign-in sends the person
// back to it afterwards, and only ever to this tenant's own pages.
func TestSignInReturnsToThePage(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
		b := w.browser(t)
		p := b.get("/t/acme/account?x=1")
		wantPage(t, p, 200, "Sign in", `name="next" value="/t/acme/account?x=1"`)
		p = b.post("/t/acme/signin", "identifier", "ada@example.com", "next", "/t/acme/account?x=1")
		wantPage(t, p, 200, `name="next" value="/t/acme/account?x=1"`)
		p = b.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "analytical engine 1843", "next", "/t/acme/account?x=1")
		if !strings.HasSuffix(p.url, "/t/acme/account?x=1") {
			t.Fatalf("after sign-in: %s", p.url)
		}
		for _, bad := range []string{"https://evil.example/", "//evil.example/x", "/t/other/account", "/\\evil.example", "javascript:alert(1)"} {
			c := w.browser(t)
			p := c.post("/t/acme/signin/password", "identifier", "ada@example.com", "password", "analytical engine 1843", "next", bad)
			if !strings.HasSuffix(p.url, "/t/acme/account") {
				t.Fatalf("next %q led to %s", bad, p.url)
			}
		}
	})
}

// TestRegistrationUnaskedFields: a tenant that requires what its
// registration form does not ask for (a frontline tenant's job profile
// and role) tells the person to ask its administrator, rather than
// "correct the fields marked below" with none marked.
func TestRegistrationUnaskedFields(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) {
			s.Registration = "open"
			s.RequiredFields = usher.DefaultSettings(usher.TemplateFrontline).RequiredFields
		})
		b := w.browser(t)
		const ask = "This organization needs a department, a job profile and a role for every new account, which this form cannot ask for. Ask its administrator to set up registration."
		p := b.post("/t/acme/register", "first_name", "Sam", "last_name", "S", "email", "sam@example.com")
		wantPage(t, p, 422, `role="alert">`+ask+`</div>`)
		p = b.post("/t/acme/register", "first_name", "", "last_name", "S", "email", "sam@example.com")
		wantPage(t, p, 422, ask+" Please also correct the fields marked below.", `id="first_name-error"`)
	})
}
