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

// TestBrowserSSO signs people in through an OpenID Connect connection to
// Dex in Chromium: seed 000's new internal user at their first sign-in,
// seed 003's just-in-time user, a full plan's refusal, and an enforced
// domain that never gets a password form.
func TestBrowserSSO(t *testing.T) {
	sw := newBrowserWorld(t)
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
	// A password account from before the company adopted single sign-on.
	c, err := sw.svc.CreateAccount(ctx, admin, sw.tenant, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: "Pat", LastName: "Password", Email: "pw@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	link := linkRE.FindString(written(t, sw.svc, c.Messages)[0].Body)
	if _, err := sw.svc.ActivateWithLink(ctx, sw.tenant, link[strings.LastIndex(link, "/")+1:], "a long password 123", "", "test"); err != nil {
		t.Fatal(err)
	}
	w := newSSOWorld(t, sw, func(c *usher.Connection) { c.JIT, c.JITDepartmentID, c.JITRoleID = true, dep.ID, role.ID })
	dexHost := mustURL(w.dex.Issuer).Host

	// signIn types email at the identifier step, is handed over to Dex, and
	// signs in there; it returns on usher's page where Dex sent it back.
	signIn := func(p *browsertest.Page, email, userID string) {
		t.Helper()
		p.Open(w.url + "/t/acme/")
		p.Fill("Email, username or phone number", email)
		// The hand-over page refreshes on to Dex at once: its checks
		// would race the navigation; it is checked in TestSSOSignInOIDC's
		// pages and by the browser on the way back.
		p.NoChecks = true
		p.Click("Continue")
		deadline := time.Now().Add(browsertest.ActionTimeout)
		for !strings.Contains(p.URL(), dexHost) || browsertest.Eval[string](p, `document.readyState`) != "complete" ||
			!browsertest.Eval[bool](p, `!!document.querySelector('#login')`) {
			if time.Now().After(deadline) {
				t.Fatalf("not handed over to Dex: at %s, %q", p.URL(), p.H1())
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.Fill("Email Address", email)
		p.Fill("Password", "pw-"+userID)
		p.Click("Login")
		p.NoChecks = false
		if u := mustURL(p.URL()); u.Host != mustURL(w.url).Host {
			t.Fatalf("not back at usher: %s", u)
		}
	}

	// Seed 000: the wizard's new internal user signs in for the first time.
	w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Wanda", LastName: "Wizard", Email: "wizard@example.com"}})
	p := browsertest.New(t)
	signIn(p, "wizard@example.com", "wizard")
	p.WantH1("Your account")
	p.WantText("wizard@example.com")
	p.Screenshot("sso-first-sign-in")
	if a := w.account(t, "wizard@example.com"); a.State != usher.StateActive {
		t.Fatalf("the wizard's user is %s after signing in", a.State)
	}

	// Seed 003: a new employee is created at their first sign-in, in the
	// connection's department with its role, on the tenant's plan.
	p = browsertest.New(t)
	signIn(p, "jit@example.com", "jit")
	p.WantH1("Your account")
	a := w.account(t, "jit@example.com")
	person, err := w.st.Read().Person(ctx, w.tenant.ID, a.PersonID)
	if err != nil {
		t.Fatal(err)
	}
	if person.DepartmentID != dep.ID || a.RoleID != role.ID || a.PlanID != w.plan.ID || a.State != usher.StateActive {
		t.Fatalf("the just-in-time user: department %q role %q plan %q state %s", person.DepartmentID, a.RoleID, a.PlanID, a.State)
	}

	// A full plan: the page says so and nothing is created.
	seats, name := 0, "Team"
	full, err := w.srv.catalog.CreatePlan(ctx, opActor, w.tenant, catalog.PlanInput{Key: "team", Name: &name, Seats: &seats})
	if err != nil {
		t.Fatal(err)
	}
	in := provision.ConnectionInput{Connection: w.conn}
	in.JIT, in.JITPlanID, in.JITDepartmentID, in.JITRoleID = true, full.ID, dep.ID, role.ID
	if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, w.conn.ID, in); err != nil {
		t.Fatal(err)
	}
	p = browsertest.New(t)
	signIn(p, "full@example.com", "full")
	p.WantH1("No free licence")
	p.WantText(`the plan "Team"`, "Ask your administrator")
	p.Screenshot("sso-no-licence")
	if _, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "full@example.com"); err == nil {
		t.Fatal("an account was created on a full plan")
	}

	// Enforced: the password account's email is handed over, never asked
	// for a password, and its first sign-in there keeps it.
	in.Enforced, in.JITPlanID = true, ""
	if _, err := w.svc.SaveConnection(ctx, admin, w.tenant, w.conn.ID, in); err != nil {
		t.Fatal(err)
	}
	p = browsertest.New(t)
	signIn(p, "pw@example.com", "pw")
	p.WantH1("Your account")
	if a := w.account(t, "pw@example.com"); a.AuthSystem != usher.AuthConnection {
		t.Fatalf("the enforced domain's account still signs in with %s", a.AuthSystem)
	}
}
