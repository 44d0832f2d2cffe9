package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/provision"
)

// TestBrowserSSOSAML signs people in through a SAML connection to
// crewjam's samlidp in Chromium. The IdP is another site than usher
// (localhost against 127.0.0.1), so its page posts the answer to usher's
// ACS cross-site: the browser sends no usher cookie with that post, and
// usher's redirect to its done step, a top-level GET, brings the
// SameSite=Lax sign-in cookie back.
func TestBrowserSSOSAML(t *testing.T) {
	sw := newBrowserWorld(t)
	ctx := context.Background()
	admin := usher.Actor{Kind: "token", Role: usher.AdminTenant}
	dep, err := sw.srv.catalog.CreateAttribute(ctx, admin, sw.tenant, usher.KindDepartment, catalog.AttributeInput{Key: "eng", Name: ptr("Engineering")})
	if err != nil {
		t.Fatal(err)
	}
	w := newSAMLWorld(t, sw, func(c *usher.Connection) { c.JIT, c.JITDepartmentID = true, dep.ID })
	usherHost, idpHost := mustURL(w.url).Host, mustURL(w.idpURL).Host
	if mustURL(w.url).Hostname() == mustURL(w.idpURL).Hostname() {
		t.Fatalf("usher (%s) and the IdP (%s) are the same site", usherHost, idpHost)
	}

	// signIn types email at the identifier step, is handed over to the
	// IdP, and signs in there; the IdP's page posts the answer to usher.
	signIn := func(p *browsertest.Page, email, user string) {
		t.Helper()
		p.Open(w.url + "/t/acme/")
		p.Fill("Email, username or phone number", email)
		// The hand-over page refreshes on to the IdP at once, and the
		// IdP's pages are not usher's: no checks until usher's page.
		p.NoChecks = true
		p.Click("Continue")
		deadline := time.Now().Add(browsertest.ActionTimeout)
		for !strings.Contains(p.URL(), idpHost) || browsertest.Eval[string](p, `document.readyState`) != "complete" ||
			!browsertest.Eval[bool](p, `!!document.querySelector('#user')`) {
			if time.Now().After(deadline) {
				t.Fatalf("not handed over to the IdP: at %s, %q", p.URL(), p.H1())
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.Fill("Username", user)
		p.Fill("Password", "pw-"+user)
		p.Click("Log in")
		// The IdP's page submits its form by script: wait for usher's page.
		deadline = time.Now().Add(browsertest.ActionTimeout)
		for {
			at := browsertest.Eval[string](p, `location.host + ' ' + location.pathname + ' ' + document.readyState`)
			if strings.HasPrefix(at, usherHost+" ") && !strings.Contains(at, "/sso/") && strings.HasSuffix(at, " complete") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not back at usher: at %s, %q", p.URL(), p.H1())
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.NoChecks = false
		for _, problem := range p.Problems() {
			t.Errorf("at %s (%q): %s", p.URL(), p.H1(), problem)
		}
	}

	// Seed 000: the wizard's new internal user signs in for the first time.
	w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Wanda", LastName: "Wizard", Email: "wizard@example.com"}})
	p := browsertest.New(t)
	signIn(p, "wizard@example.com", "wizard")
	p.WantH1("Your account")
	p.WantText("wizard@example.com")
	if !strings.HasSuffix(p.URL(), "/t/acme/account") {
		t.Fatalf("landed at %s", p.URL())
	}
	if a := w.account(t, "wizard@example.com"); a.State != usher.StateActive {
		t.Fatalf("the wizard's user is %s after signing in", a.State)
	}

	// Seed 003: a new employee is created at their first sign-in, with the
	// names the IdP sends, in the connection's department.
	p = browsertest.New(t)
	signIn(p, "jit@example.com", "jit")
	p.WantH1("Your account")
	a := w.account(t, "jit@example.com")
	person, err := w.st.Read().Person(ctx, w.tenant.ID, a.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if person.FirstName != "Jo" || person.LastName != "Jit" || person.DepartmentID != dep.ID || a.State != usher.StateActive {
		t.Fatalf("the just-in-time user: %q %q department %q state %s", person.FirstName, person.LastName, person.DepartmentID, a.State)
	}
}
