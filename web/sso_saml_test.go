package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"html"
	"html/template"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
	xhtml "golang.org/x/net/html"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
)

// Sign-in through a SAML connection, against crewjam's samlidp (a real
// identity provider with a login form and users with passwords, run in
// process) on both databases. The IdP learns usher's service provider
// metadata from usher's own metadata address, as an IdP administrator
// would, and answers with its auto-submitting HTTP-POST form.

// samlWorld is a signinWorld whose tenant "acme" has a SAML connection to
// samlidp owning example.com.
type samlWorld struct {
	*signinWorld
	idp     *samlidp.Server
	idpURL  string // the IdP's address: another site than usher's
	conn    usher.Connection
	admin   usher.Actor
	spID    string // usher's entity ID, as the IdP knows it
	encrypt bool
}

// samlUsers are the people the IdP knows; their password is "pw-"+their id.
var samlUsers = []samlidp.User{
	{Name: "wizard", Email: "wizard@example.com", GivenName: "Wanda", Surname: "Wizard"},
	{Name: "jit", Email: "jit@example.com", GivenName: "Jo", Surname: "Jit", Groups: []string{"eng-admins", "staff"}},
	{Name: "init", Email: "init@example.com", GivenName: "Ian", Surname: "Init"},
	{Name: "other", Email: "other@example.com", GivenName: "Otto", Surname: "Other"},
}

// samlIdPKey is the IdP's key, made once: RSA key generation is slow.
var samlIdPKey = sync.OnceValue(func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
})

// samlLoginForm is the IdP's login form, with labelled fields as real
// identity providers have them. It posts to /login (see keepRequest).
var samlLoginForm = template.Must(template.New("login").Parse(`<!doctype html><html lang="en"><head><title>Example IdP</title></head><body><main>` +
	`<h1>Sign in to Example IdP</h1><p>{{.Toast}}</p><form method="post" action="/login">` +
	`<label for="user">Username</label><input id="user" name="user" autocomplete="username">` +
	`<label for="password">Password</label><input id="password" type="password" name="password" autocomplete="current-password">` +
	`<button type="submit">Log in</button></form></main></body></html>`))

// keepRequest has samlidp keep the AuthnRequest while the person signs in,
// as real identity providers do. samlidp's own login form posts the
// request again without the HTTP-Redirect binding's signature (which is in
// the query string), and the IdP then refuses it: usher's metadata says
// usher signs its requests. So the IdP's address with the signed request
// is kept in a cookie, the login form posts the credentials to /login, and
// a successful login goes back to that address, now with a session.
func keepRequest(idp http.Handler) http.Handler {
	const back = "idp_back"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/sso":
			http.SetCookie(w, &http.Cookie{Name: back, Value: base64.RawURLEncoding.EncodeToString([]byte(r.URL.RawQuery)), Path: "/", HttpOnly: true})
		case r.Method == http.MethodPost && r.URL.Path == "/login":
			c, err := r.Cookie(back)
			if err != nil {
				break
			}
			q, err := base64.RawURLEncoding.DecodeString(c.Value)
			if err != nil {
				break
			}
			rec := httptest.NewRecorder()
			idp.ServeHTTP(rec, r)
			res := rec.Result()
			if res.StatusCode != http.StatusOK || len(res.Cookies()) == 0 {
				// Not signed in: the login form again, with its message.
				for k, v := range res.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(res.StatusCode)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
			for _, sc := range res.Header.Values("Set-Cookie") {
				w.Header().Add("Set-Cookie", sc)
			}
			http.SetCookie(w, &http.Cookie{Name: back, Path: "/", MaxAge: -1})
			http.Redirect(w, r, "/sso?"+string(q), http.StatusSeeOther)
			return
		}
		idp.ServeHTTP(w, r)
	})
}

// newSAMLWorld starts samlidp on "localhost" (usher is at 127.0.0.1: the
// two are different sites to a browser), and gives acme a SAML connection
// to it by its metadata URL; edit changes the connection before it is
// saved. The IdP then registers usher's metadata, read from usher.
func newSAMLWorld(t *testing.T, sw *signinWorld, edit func(*usher.Connection)) *samlWorld {
	t.Helper()
	ctx := context.Background()
	hs := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(hs.Listener.Addr().String())
	idpURL := "http://localhost:" + port
	key := samlIdPKey()
	now := sw.clock.Now()
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example IdP"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	idp, err := samlidp.New(samlidp.Options{URL: *mustURL(idpURL), Key: key, Certificate: cert, Store: &samlidp.MemoryStore{},
		LoginFormTemplate: samlLoginForm, Clock: dsig.NewFakeClockAt(now), Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = keepRequest(idp)
	hs.Start()
	t.Cleanup(hs.Close)
	w := &samlWorld{signinWorld: sw, idp: idp, idpURL: idpURL, admin: usher.Actor{Kind: "token", Role: usher.AdminTenant}}
	for _, u := range samlUsers {
		pw := "pw-" + u.Name
		u.PlaintextPassword = &pw
		w.idpPut(t, "/users/"+u.Name, "application/json", jsonOf(t, u))
	}

	c := usher.Connection{Name: "Example Corp", Protocol: "saml", Domains: []string{"example.com"},
		MetadataURL: idpURL + "/metadata", Mapping: usher.AttributeMapping{Groups: "eduPersonAffiliation"}}
	if edit != nil {
		edit(&c)
	}
	if w.conn, err = sw.svc.SaveConnection(ctx, w.admin, sw.tenant, "", provision.ConnectionInput{Connection: c}); err != nil {
		t.Fatal(err)
	}
	// The IdP's administrator downloads usher's metadata from its address.
	p := sw.browser(t).get("/t/acme/sso/" + w.conn.ID + "/metadata")
	if p.status != http.StatusOK || p.header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("usher's metadata: %d %s\n%s", p.status, p.header.Get("Content-Type"), p.body)
	}
	w.spID = sw.url + "/t/acme/sso/" + w.conn.ID + "/metadata"
	w.encrypt = strings.Contains(p.body, `use="encryption"`)
	w.idpPut(t, "/services/usher", "application/samlmetadata+xml", p.body)
	w.idpPut(t, "/shortcuts/usher", "application/json", jsonOf(t, samlidp.Shortcut{Name: "usher", ServiceProviderID: w.spID}))
	return w
}

// quietLogger keeps samlidp's log lines out of the test output.
type quietLogger struct{}

func (quietLogger) Printf(string, ...interface{}) {}
func (quietLogger) Print(...interface{})          {}
func (quietLogger) Println(...interface{})        {}
func (quietLogger) Fatal(...interface{})          {}
func (quietLogger) Fatalf(string, ...interface{}) {}
func (quietLogger) Fatalln(...interface{})        {}
func (quietLogger) Panic(...interface{})          {}
func (quietLogger) Panicf(string, ...interface{}) {}
func (quietLogger) Panicln(...interface{})        {}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// idpPut is the IdP's administrator at its administrative API.
func (w *samlWorld) idpPut(t *testing.T, path, ctype, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, w.idpURL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s at the IdP: %d %s", path, resp.StatusCode, b)
	}
}

// htmlForm is the first form of an HTML page: its action and the values of
// its named inputs, as a browser would post them.
func htmlForm(t *testing.T, body string) (string, url.Values) {
	t.Helper()
	doc, err := xhtml.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var action string
	var found bool
	vals := url.Values{}
	var walk func(n *xhtml.Node)
	walk = func(n *xhtml.Node) {
		if n.Type == xhtml.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch {
			case n.Data == "form" && !found:
				action, found = attr["action"], true
			case n.Data == "input" && found && attr["name"] != "":
				vals.Set(attr["name"], attr["value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !found {
		t.Fatalf("no form on the page:\n%s", body)
	}
	return action, vals
}

// postForm posts vals to action from a page of origin, as a browser does
// for a form: with its Origin and Sec-Fetch-Site.
func (b *browser) postForm(action string, vals url.Values, origin, site string) webPage {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", site)
	return b.do(req)
}

// samlSignIn types email at acme's identifier step, follows the hand-over
// to the IdP, and signs in there as the IdP's user; it returns the IdP's
// auto-submitting page, which posts the answer to usher's ACS.
func (w *samlWorld) samlSignIn(t *testing.T, b *browser, email, user string) webPage {
	t.Helper()
	p := b.post("/t/acme/signin", "identifier", email)
	wantPage(t, p, http.StatusOK, "Sign in with your company account", `http-equiv="refresh"`)
	m := startRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no hand-over link:\n%s", p.body)
	}
	return w.atIdP(t, b, html.UnescapeString(m[1]), user)
}

// atIdP starts at start (usher's address), which sends the browser to the
// IdP by the HTTP-Redirect binding, and signs in at the IdP's login form.
func (w *samlWorld) atIdP(t *testing.T, b *browser, start, user string) webPage {
	t.Helper()
	if strings.HasPrefix(start, "/") {
		start = w.url + start
	}
	req, _ := http.NewRequest(http.MethodGet, start, nil)
	p := b.do(req)
	wantPage(t, p, http.StatusOK, "Sign in to Example IdP")
	if u := mustURL(p.url); u.Host != mustURL(w.idpURL).Host || u.Path != "/sso" || u.Query().Get("SAMLRequest") == "" || u.Query().Get("Signature") == "" {
		t.Fatalf("not handed over to the IdP by a signed Redirect binding: %s", p.url)
	}
	action, vals := htmlForm(t, p.body)
	vals.Set("user", user)
	vals.Set("password", "pw-"+user)
	p = b.postForm(w.idpURL+action, vals, w.idpURL, "same-origin")
	wantPage(t, p, http.StatusOK, `id="SAMLResponseForm"`)
	return p
}

// toACS posts the IdP's auto-submitting form as the browser does: from the
// IdP's site to usher's ACS, cross-site; usher sends it on to its done
// step, whose page is returned.
func (w *samlWorld) toACS(t *testing.T, b *browser, idpPage webPage) webPage {
	t.Helper()
	action, vals := htmlForm(t, idpPage.body)
	if want := w.url + "/t/acme/sso/" + w.conn.ID + "/acs"; action != want {
		t.Fatalf("the IdP posts to %s, want %s", action, want)
	}
	return b.postForm(action, vals, w.idpURL, "cross-site")
}

// samlResponse is the decoded SAMLResponse of the IdP's page.
func samlResponse(t *testing.T, idpPage webPage) string {
	t.Helper()
	_, vals := htmlForm(t, idpPage.body)
	doc, err := base64.StdEncoding.DecodeString(vals.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

func TestSSOSignInSAML(t *testing.T) {
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
		w := newSAMLWorld(t, sw, func(c *usher.Connection) {
			c.JIT, c.JITDepartmentID, c.JITRoleID = true, dep.ID, role.ID
			c.Mapping.GroupRules = []usher.GroupRule{{IdPGroup: "eng-admins", GroupID: grp.ID, RoleID: lead.ID}}
		})
		if !w.encrypt {
			t.Fatal("usher's metadata has no encryption key")
		}

		t.Run("the wizard's user activates at the first sign-in", func(t *testing.T) {
			c := w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Wanda", LastName: "Wizard", Email: "wizard@example.com"}})
			if c.Account.AuthSystem != usher.AuthConnection || c.Account.ConnectionID != w.conn.ID || c.Account.State != usher.StateInvited {
				t.Fatalf("the wizard's account: %+v", c.Account)
			}
			b := w.browser(t)
			idpPage := w.samlSignIn(t, b, "wizard@example.com", "wizard")
			// The IdP encrypted the assertion to usher's certificate from
			// its metadata: usher decrypts it.
			if doc := samlResponse(t, idpPage); !strings.Contains(doc, "EncryptedAssertion") || strings.Contains(doc, "wizard@example.com") {
				t.Fatalf("the assertion is not encrypted:\n%s", doc)
			}
			p := w.toACS(t, b, idpPage)
			wantPage(t, p, http.StatusOK, "Your account", "wizard@example.com")
			if !strings.HasSuffix(p.url, "/t/acme/account") {
				t.Fatalf("landed at %s", p.url)
			}
			a := w.account(t, "wizard@example.com")
			if a.State != usher.StateActive || a.IdentityID == "" || a.ActivatedAt == nil {
				t.Fatalf("not activated: %+v", a)
			}
			if sub, _ := w.st.Read().SubjectOf(ctx, w.tenant.ID, w.conn.ID, a.ID); sub != "wizard@example.com" {
				t.Fatalf("tied to %q", sub)
			}
			signedIn := w.audited(t, "account.signed_in")
			if signedIn[0].TargetID != a.ID || signedIn[0].Details["connection_id"] != w.conn.ID {
				t.Fatalf("the sign-in is not audited as the connection's: %+v", signedIn[0])
			}
			// A second sign-in in a new browser: the IdP asks again (no
			// session there), usher finds the subject.
			b2 := w.browser(t)
			wantPage(t, w.toACS(t, b2, w.samlSignIn(t, b2, "wizard@example.com", "wizard")), http.StatusOK, "Your account")
		})

		t.Run("just-in-time creation with the IdP's attributes and group rules", func(t *testing.T) {
			b := w.browser(t)
			p := w.toACS(t, b, w.samlSignIn(t, b, "jit@example.com", "jit"))
			wantPage(t, p, http.StatusOK, "Your account")
			a := w.account(t, "jit@example.com")
			person, err := w.st.Read().Person(ctx, w.tenant.ID, a.PersonID)
			if err != nil {
				t.Fatal(err)
			}
			if a.State != usher.StateActive || a.AuthSystem != usher.AuthConnection || a.ConnectionID != w.conn.ID || a.PlanID != w.plan.ID {
				t.Fatalf("created: %+v", a)
			}
			if person.FirstName != "Jo" || person.LastName != "Jit" || person.Email != "jit@example.com" {
				t.Fatalf("the person: %+v", person)
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
		})

		t.Run("the ACS takes the IdP's cross-site post; the done step belongs to the browser that asked, once", func(t *testing.T) {
			b := w.browser(t)
			// The same cross-site post to another of usher's forms is
			// refused: the ACS alone is left out of the protection.
			p := b.postForm(w.url+"/t/acme/signin", url.Values{"identifier": {"wizard@example.com"}}, w.idpURL, "cross-site")
			if p.status != http.StatusForbidden {
				t.Fatalf("a cross-site post to the sign-in form: %d", p.status)
			}
			idpPage := w.samlSignIn(t, b, "wizard@example.com", "wizard")
			// Another browser posts the answer: the ACS takes it (no cookie
			// comes with a cross-site post), its done step does not.
			p = w.toACS(t, w.browser(t), idpPage)
			wantPage(t, p, http.StatusBadRequest, "another browser")
			done := mustURL(p.url)
			if !strings.HasSuffix(done.Path, "/sso/"+w.conn.ID+"/done") || done.Query().Get("state") == "" {
				t.Fatalf("the ACS sent the browser to %s", done)
			}
			req, _ := http.NewRequest(http.MethodGet, done.String(), nil)
			wantPage(t, b.do(req), http.StatusOK, "Your account")
			req, _ = http.NewRequest(http.MethodGet, done.String(), nil)
			wantPage(t, b.do(req), http.StatusBadRequest, "Start your sign-in again")
			// The same answer posted again is a replay.
			wantPage(t, w.toACS(t, b, idpPage), http.StatusBadRequest, "Start your sign-in again")
		})

		t.Run("IdP-initiated sign-in only where the connection accepts it", func(t *testing.T) {
			b := w.browser(t)
			// A session at the IdP, then its link to usher.
			p := b.postForm(w.idpURL+"/login", url.Values{"user": {"init"}, "password": {"pw-init"}}, w.idpURL, "same-origin")
			if p.status != http.StatusOK {
				t.Fatalf("signing in at the IdP: %d %s", p.status, p.body)
			}
			idpInitiated := func() webPage {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, w.idpURL+"/login/usher", nil)
				idpPage := b.do(req)
				wantPage(t, idpPage, http.StatusOK, `id="SAMLResponseForm"`)
				return w.toACS(t, b, idpPage)
			}
			wantPage(t, idpInitiated(), http.StatusBadGateway, "Your company&#39;s sign-in did not work")
			if !strings.Contains(w.log.String(), "unsolicited response") {
				t.Fatalf("the refusal is not logged for the administrator:\n%s", w.log.String())
			}
			if _, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "init@example.com"); err == nil {
				t.Fatal("an unsolicited response made an account")
			}
			in := provision.ConnectionInput{Connection: w.conn}
			in.IdPInitiated = true
			if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, w.conn.ID, in); err != nil {
				t.Fatal(err)
			}
			p = idpInitiated()
			wantPage(t, p, http.StatusOK, "Your account", "init@example.com")
			if !strings.HasSuffix(p.url, "/t/acme/account") {
				t.Fatalf("landed at %s", p.url)
			}
			if a := w.account(t, "init@example.com"); a.State != usher.StateActive || a.ConnectionID != w.conn.ID {
				t.Fatalf("the IdP-initiated user: %+v", a)
			}
		})
	})
}
