package web

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/internal/testidp"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// Sign-in through an OpenID Connect connection, against Dex (a real
// provider, started by the tests) on both databases.

// ssoWorld is a signinWorld whose tenant "acme" has an OpenID Connect
// connection to Dex owning example.com.
type ssoWorld struct {
	*signinWorld
	dex  *testidp.Dex
	conn usher.Connection
}

const dexClientSecret = "dex-client-secret-for-usher"

// dexUsers are the people Dex knows; their password is "pw-"+their id.
var dexUsers = []testidp.DexUser{
	{Email: "wizard@example.com", Username: "Wanda Wizard", UserID: "wizard"},
	{Email: "jit@example.com", Username: "Jo Jit", UserID: "jit", Groups: []string{"eng-admins", "staff"}},
	{Email: "pw@example.com", Username: "Pat Password", UserID: "pw"},
	{Email: "out@other.org", Username: "Olly Outsider", UserID: "out"},
	{Email: "full@example.com", Username: "Fay Full", UserID: "full"},
}

func newSSOWorld(t testing.TB, sw *signinWorld, edit func(*usher.Connection)) *ssoWorld {
	t.Helper()
	ctx := context.Background()
	admin := usher.Actor{Kind: "token", Role: usher.AdminTenant}
	in := provision.ConnectionInput{Connection: usher.Connection{Name: "Example Corp", Protocol: "oidc", Domains: []string{"example.com"},
		Issuer: "http://127.0.0.1:1/not-yet", ClientID: "usher", ClientSecret: dexClientSecret}}
	c, err := sw.svc.SaveConnection(ctx, admin, sw.tenant, "", in)
	if err != nil {
		t.Fatal(err)
	}
	users := make([]testidp.DexUser, len(dexUsers))
	for i, u := range dexUsers {
		u.Password = "pw-" + u.UserID
		users[i] = u
	}
	dex := testidp.StartDex(t, testidp.DexConfig{
		Clients: []testidp.DexClient{{ID: "usher", Secret: dexClientSecret, RedirectURIs: []string{sw.url + "/t/acme/sso/" + c.ID + "/callback"}}},
		Users:   users,
	})
	in.Connection = c
	// The userinfo endpoint too: its claims join the ID token's.
	in.Issuer, in.Scopes, in.UserInfo = dex.Issuer, []string{"groups"}, true
	if edit != nil {
		edit(&in.Connection)
	}
	if c, err = sw.svc.SaveConnection(ctx, admin, sw.tenant, c.ID, in); err != nil {
		t.Fatal(err)
	}
	return &ssoWorld{signinWorld: sw, dex: dex, conn: c}
}

var startRE = regexp.MustCompile(`href="([^"]*/sso/[^"]+/start[^"]*)"`)

// ssoSignIn types email at acme's identifier step, follows the hand-over
// to Dex, signs in there as the Dex user, and comes back to usher.
func (w *ssoWorld) ssoSignIn(t *testing.T, b *browser, email, userID string) webPage {
	t.Helper()
	p := b.post("/t/acme/signin", "identifier", email)
	wantPage(t, p, http.StatusOK, "Sign in with your company account", `http-equiv="refresh"`)
	m := startRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no hand-over link:\n%s", p.body)
	}
	return w.viaDex(t, b, html.UnescapeString(m[1]), email, userID)
}

// viaDex starts at start (usher's address), signs in at Dex, and follows
// Dex's redirect back to usher.
func (w *ssoWorld) viaDex(t *testing.T, b *browser, start, email, userID string) webPage {
	t.Helper()
	if strings.HasPrefix(start, "/") {
		start = w.url + start
	}
	back, err := w.dex.LoginAt(context.Background(), b.c, start, email, "pw-"+userID)
	if err != nil {
		t.Fatalf("signing in at Dex as %s: %v", email, err)
	}
	req, _ := http.NewRequest("GET", back.String(), nil)
	return b.do(req)
}

func (w *signinWorld) account(t *testing.T, email string) usher.Account {
	t.Helper()
	a, err := w.st.Read().AccountByLogin(context.Background(), w.tenant.ID, email)
	if err != nil {
		t.Fatalf("account %s: %v", email, err)
	}
	return a
}

func (w *signinWorld) audited(t *testing.T, action string) []usher.AuditEvent {
	t.Helper()
	evs, _, err := w.st.Read().AuditEvents(context.Background(), w.tenant.ID, store.AuditFilter{Action: action}, store.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestSSOSignInOIDC(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, sw *signinWorld) {
		ctx := context.Background()
		admin := usher.Actor{Kind: "token", Role: usher.AdminTenant}
		dep, err := sw.srv.catalog.CreateAttribute(ctx, admin, sw.tenant, usher.KindDepartment, catalog.AttributeInput{Key: "eng", Name: ptr("Engineering")})
		if err != nil {
			t.Fatal(err)
		}
		role, err := sw.srv.catalog.CreateAttribute(ctx, admin, sw.tenant, usher.KindRole, catalog.AttributeInput{Key: "member", Name: ptr("Member")})
		if err != nil {
			t.Fatal(err)
		}
		lead, err := sw.srv.catalog.CreateAttribute(ctx, admin, sw.tenant, usher.KindRole, catalog.AttributeInput{Key: "lead", Name: ptr("Lead")})
		if err != nil {
			t.Fatal(err)
		}
		grp, err := sw.srv.catalog.CreateAttribute(ctx, admin, sw.tenant, usher.KindGroup, catalog.AttributeInput{Key: "admins", Name: ptr("Admins")})
		if err != nil {
			t.Fatal(err)
		}
		// Before the connection: a password account in its domain (as
		// accounts made before a company adopts SSO are), and an administrator.
		for _, p := range []struct{ first, email, admin string }{{"Pat", "pw@example.com", ""}, {"Ada", "ada@admins.test", usher.AdminUser}} {
			c, err := sw.svc.CreateAccount(ctx, admin, sw.tenant, provision.AccountInput{Route: provision.RouteNewUser,
				Person: &provision.PersonInput{FirstName: p.first, LastName: "Tester", Email: p.email}, AdminRole: p.admin})
			if err != nil {
				t.Fatal(err)
			}
			link := linkRE.FindString(written(t, sw.svc, c.Messages)[0].Body)
			if _, err := sw.svc.ActivateWithLink(ctx, sw.tenant, link[strings.LastIndex(link, "/")+1:], "a long password 123", "", "test"); err != nil {
				t.Fatal(err)
			}
		}
		w := newSSOWorld(t, sw, func(c *usher.Connection) {
			c.JIT, c.JITDepartmentID, c.JITRoleID = true, dep.ID, role.ID
			c.Mapping.GroupRules = []usher.GroupRule{{IdPGroup: "eng-admins", GroupID: grp.ID, RoleID: lead.ID}}
		})

		t.Run("the wizard's user activates at the first sign-in", func(t *testing.T) {
			// Seed 000's new internal user: invited on the connection.
			c := w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Wanda", LastName: "Wizard", Email: "wizard@example.com"}})
			if c.Account.AuthSystem != usher.AuthConnection || c.Account.ConnectionID != w.conn.ID || c.Account.State != usher.StateInvited {
				t.Fatalf("the wizard's account: %+v", c.Account)
			}
			b := w.browser(t)
			p := w.ssoSignIn(t, b, "wizard@example.com", "wizard")
			wantPage(t, p, http.StatusOK, "Your account")
			if !strings.HasSuffix(p.url, "/t/acme/account") {
				t.Fatalf("landed at %s", p.url)
			}
			a := w.account(t, "wizard@example.com")
			if a.State != usher.StateActive || a.IdentityID == "" || a.ActivatedAt == nil {
				t.Fatalf("not activated: %+v", a)
			}
			if sub, _ := w.st.Read().SubjectOf(ctx, w.tenant.ID, w.conn.ID, a.ID); sub != testidp.DexSubject("wizard") {
				t.Fatalf("tied to %q", sub)
			}
			bySSO := 0
			for _, ev := range w.audited(t, "account.activated") {
				if ev.ActorKind == usher.ActorSSO && ev.TargetID == a.ID {
					bySSO++
				}
			}
			signedIn := w.audited(t, "account.signed_in")
			if bySSO != 1 || signedIn[0].TargetID != a.ID || signedIn[0].Details["connection_id"] != w.conn.ID {
				t.Fatalf("activation and sign-in are not audited as the connection's: %d, %+v", bySSO, signedIn[0])
			}
			// A second sign-in, by the subject now, in a new browser.
			p = w.ssoSignIn(t, w.browser(t), "wizard@example.com", "wizard")
			wantPage(t, p, http.StatusOK, "Your account")
			// Its session is the connection's: it has no password to change.
			p = b.post("/t/acme/account/password", "old_password", "anything at all 1", "password", "a brand new password 9", "confirm", "a brand new password 9")
			if strings.Contains(p.body, "Your password is changed") {
				t.Fatal("an SSO account changed a password")
			}
		})

		t.Run("just-in-time creation with the connection's defaults and group rules", func(t *testing.T) {
			p := w.ssoSignIn(t, w.browser(t), "jit@example.com", "jit")
			wantPage(t, p, http.StatusOK, "Your account")
			a := w.account(t, "jit@example.com")
			person, err := w.st.Read().Person(ctx, w.tenant.ID, a.PersonID)
			if err != nil {
				t.Fatal(err)
			}
			if a.State != usher.StateActive || a.AuthSystem != usher.AuthConnection || a.ConnectionID != w.conn.ID || a.PlanID != w.plan.ID {
				t.Fatalf("created: %+v", a)
			}
			if person.DepartmentID != dep.ID || a.RoleID != lead.ID || len(a.GroupIDs) != 1 || a.GroupIDs[0] != grp.ID {
				t.Fatalf("department %q role %q groups %v: want %s, %s (group rule), [%s]", person.DepartmentID, a.RoleID, a.GroupIDs, dep.ID, lead.ID, grp.ID)
			}
			var last usher.AuditEvent
			for _, ev := range w.audited(t, "account.created") {
				if ev.TargetID == a.ID {
					last = ev
				}
			}
			if last.ActorKind != usher.ActorSSO || last.ActorID != w.conn.ID || last.Details["route"] != provision.RouteJustInTime {
				t.Fatalf("audit: %+v", last)
			}
			if n := w.messages(t, "jit@example.com"); n != 0 {
				t.Fatalf("%d messages to a just-in-time user; the sign-in is the activation", n)
			}
		})

		t.Run("a password account is never signed in by the identity provider", func(t *testing.T) {
			before := len(w.audited(t, "sso.refused"))
			p := w.viaDex(t, w.browser(t), "/t/acme/sso/"+w.conn.ID+"/start", "pw@example.com", "pw")
			wantPage(t, p, http.StatusForbidden, "cannot sign in")
			if len(w.audited(t, "sso.refused")) != before+1 {
				t.Fatal("the refusal is not audited")
			}
			// An email outside the connection's domains, even with JIT.
			p = w.viaDex(t, w.browser(t), "/t/acme/sso/"+w.conn.ID+"/start", "out@other.org", "out")
			wantPage(t, p, http.StatusForbidden, "cannot sign in")
			if _, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "out@other.org"); err == nil {
				t.Fatal("an account was made for another domain's email")
			}
		})

		t.Run("the answer belongs to the browser that asked, once", func(t *testing.T) {
			b := w.browser(t)
			back, err := w.dex.LoginAt(ctx, b.c, w.url+"/t/acme/sso/"+w.conn.ID+"/start", "wizard@example.com", "pw-wizard")
			if err != nil {
				t.Fatal(err)
			}
			other := w.browser(t)
			req, _ := http.NewRequest("GET", back.String(), nil)
			wantPage(t, other.do(req), http.StatusBadRequest, "another browser")
			req, _ = http.NewRequest("GET", back.String(), nil)
			wantPage(t, b.do(req), http.StatusOK, "Your account")
			req, _ = http.NewRequest("GET", back.String(), nil)
			wantPage(t, b.do(req), http.StatusBadRequest, "Start your sign-in again")
		})

		t.Run("a full plan refuses the new user and creates nothing", func(t *testing.T) {
			seats, name := 0, "Tiny"
			tiny, err := w.srv.catalog.CreatePlan(ctx, opActor, w.tenant, catalog.PlanInput{Key: "tiny", Name: &name, Seats: &seats})
			if err != nil {
				t.Fatal(err)
			}
			in := provision.ConnectionInput{Connection: w.conn}
			in.JIT, in.JITPlanID, in.JITDepartmentID, in.JITRoleID = true, tiny.ID, dep.ID, role.ID
			in.Mapping.GroupRules = nil
			if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, w.conn.ID, in); err != nil {
				t.Fatal(err)
			}
			p := w.viaDex(t, w.browser(t), "/t/acme/sso/"+w.conn.ID+"/start", "full@example.com", "full")
			wantPage(t, p, http.StatusConflict, "No free licence", "Tiny")
			if _, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "full@example.com"); err == nil {
				t.Fatal("an account was made without a seat")
			}
		})

		t.Run("without just-in-time creation an unknown person is told whom to ask", func(t *testing.T) {
			in := provision.ConnectionInput{Connection: w.conn}
			in.JIT = false
			if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, w.conn.ID, in); err != nil {
				t.Fatal(err)
			}
			p := w.viaDex(t, w.browser(t), "/t/acme/sso/"+w.conn.ID+"/start", "full@example.com", "full")
			wantPage(t, p, http.StatusForbidden, "no account in this organization yet")
		})

		t.Run("an enforced domain never uses a password", func(t *testing.T) {
			// A password session from before the connection was enforced.
			before := w.browser(t)
			before.signIn("acme", "pw@example.com", "a long password 123")
			in := provision.ConnectionInput{Connection: w.conn}
			in.Enforced = true
			if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, w.conn.ID, in); err != nil {
				t.Fatal(err)
			}
			pat := w.account(t, "pw@example.com")
			wantPage(t, before.get("/t/acme/account"), http.StatusForbidden, "Sign in with your company account", "Continue with Example Corp")
			b := w.browser(t)
			wantPage(t, b.post("/t/acme/signin", "identifier", "pw@example.com"), http.StatusOK, "Sign in with your company account", "Continue with Example Corp")
			wantPage(t, b.post("/t/acme/signin/password", "identifier", "pw@example.com", "password", "a long password 123"), http.StatusUnauthorized)
			if _, err := w.svc.StartReset(ctx, admin, w.tenant, pat.ID); err == nil || !strings.Contains(err.Error(), "enforced") {
				t.Fatalf("a password reset in an enforced domain: %v", err)
			}
			// The connection signs the account in and keeps it.
			p := w.viaDex(t, b, "/t/acme/sso/"+w.conn.ID+"/start", "pw@example.com", "pw")
			wantPage(t, p, http.StatusOK, "Your account")
			if a := w.account(t, "pw@example.com"); a.AuthSystem != usher.AuthConnection || a.ConnectionID != w.conn.ID || a.ID != pat.ID {
				t.Fatalf("not moved onto the connection: %+v", a)
			}
		})

		t.Run("deactivating the connection ends the sessions it signed in", func(t *testing.T) {
			b := w.browser(t)
			wantPage(t, w.viaDex(t, b, "/t/acme/sso/"+w.conn.ID+"/start", "wizard@example.com", "wizard"), http.StatusOK, "Your account")
			conn, err := w.st.Read().Connection(ctx, w.tenant.ID, w.conn.ID)
			if err != nil {
				t.Fatal(err)
			}
			conn.ClientSecret = ""
			if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, conn.ID, provision.ConnectionInput{Connection: conn, Deactivated: ptr(true)}); err != nil {
				t.Fatal(err)
			}
			p := b.get("/t/acme/account")
			if strings.HasSuffix(p.url, "/t/acme/account") {
				t.Fatalf("a session of a deactivated connection still serves: %d at %s", p.status, p.url)
			}
			reactivated := provision.ConnectionInput{Connection: conn, Deactivated: ptr(false)}
			if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, conn.ID, reactivated); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("an administrator tests the connection and nothing is created", func(t *testing.T) {
			b := w.browser(t)
			b.signIn("acme", "ada@admins.test", "a long password 123")
			p := w.viaDex(t, b, "/t/acme/sso/"+w.conn.ID+"/start?purpose=test", "full@example.com", "full")
			wantPage(t, p, http.StatusOK, "The connection works", "full@example.com", "Fay Full", "Nothing was created")
			if _, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "full@example.com"); err == nil {
				t.Fatal("the test created an account")
			}
			// Not for people who are not administrators.
			wantPage(t, w.browser(t).get("/t/acme/sso/"+w.conn.ID+"/start?purpose=test"), http.StatusForbidden, "administrators")
		})
	})
}

// The jar is a real cookie jar; a browser in these tests is one.
var _ http.CookieJar = (*cookiejar.Jar)(nil)
