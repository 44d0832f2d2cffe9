package web

import (
	"context"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/provision"
)

// The console's browser tests do each seed's way in as an administrator
// would, in Chromium, and end with the new person activating and signing
// in in a browser of their own. Every page reached is checked for
// accessibility, keyboard use and phone layout by the harness.

// consoleAdmin creates a tenant administrator of w's tenant with a
// password and signs a phone-sized browser in to the console.
func consoleAdmin(t *testing.T, w *signinWorld) *browsertest.Page {
	t.Helper()
	c, err := w.svc.CreateAccount(context.Background(), opActor, w.tenant, provision.AccountInput{Route: provision.RouteNewUser, AdminRole: usher.AdminTenant,
		Person: &provision.PersonInput{FirstName: "Alex", LastName: "Admin", Email: "alex@admin.example"}})
	if err != nil {
		t.Fatal(err)
	}
	link := linkRE.FindString(written(t, w.svc, c.Messages)[0].Body)
	if _, err := w.svc.ActivateWithLink(context.Background(), w.tenant, link[strings.LastIndex(link, "/")+1:], "console passphrase 1", "", "test"); err != nil {
		t.Fatal(err)
	}
	p := browsertest.New(t)
	signInWith(t, p, w, "alex@admin.example", "console passphrase 1")
	p.ClickLink("Open the admin console")
	p.WantH1("Overview")
	return p
}

// activateAndSignIn opens the newest message of kind to the person in a
// browser of their own, chooses a password and signs in with identifier.
func activateAndSignIn(t *testing.T, w *signinWorld, to, kind, identifier string) *browsertest.Page {
	t.Helper()
	p := browsertest.New(t)
	p.Open(w.lastLink(t, to, kind))
	p.WantH1("Choose your password")
	p.Fill("New password", "my very own passphrase")
	p.Fill("Type it again", "my very own passphrase")
	p.Click("Activate my account")
	p.WantH1("Your account is active")
	signInWith(t, p, w, identifier, "my very own passphrase")
	return p
}

// TestBrowserConsoleSeed000 is seed 000's two administrator routes: the
// "new internal user" wizard, which uses the corporate SSO connection, and
// "New employee" then "Create user account" with usher's password.
func TestBrowserConsoleSeed000(t *testing.T) {
	w := newBrowserWorld(t)
	p := consoleAdmin(t, w)
	if _, err := w.svc.SaveConnection(context.Background(), opActor, w.tenant, "", provision.ConnectionInput{Connection: usher.Connection{
		Name: "Acme Entra", Protocol: "oidc", Domains: []string{"acme.example"}, Issuer: "https://login.acme.example", ClientID: "usher"}}); err != nil {
		t.Fatal(err)
	}
	p.Reload()
	p.Screenshot("console-overview")
	p.ScreenshotAt("console-overview-desktop", browsertest.Desktop)

	p.ClickLink("New internal user")
	p.WantH1("New internal user")
	p.WantText("Acme Entra", "1. Who")
	p.Click("Next")
	wantFieldError(t, p, "First name", "Enter the first name")
	p.Fill("First name", "Ada")
	p.Fill("Last name", "Lovelace")
	p.Fill("Work email", "ada@acme.example")
	p.Click("Next")
	p.WantText("2. Access")
	p.Click("Next")
	p.WantText("3. Check and create", "Acme Entra (corporate single sign-on)", "ada@acme.example")
	p.Screenshot("console-wizard-review")
	p.Click("Create user")
	p.WantH1("Ada Lovelace")
	wantAlert(t, p, "They sign in with Acme Entra")
	p.WantText("the corporate single sign-on")

	// Person first, then the account, choosing usher's password.
	p.ClickLink("People")
	p.WantH1("People")
	p.ClickLink("New employee")
	p.WantH1("New employee")
	p.Fill("First name", "Bob")
	p.Fill("Last name", "Byte")
	p.Fill("Email", "bob@partner-mail.example")
	p.Click("Save employee")
	p.WantH1("Bob Byte")
	p.WantText("has no user account")
	p.SetChecked("A password of their own (usher)", true)
	p.Screenshot("console-create-user-account")
	p.Click("Create user account")
	wantAlert(t, p, "an invitation is queued to go out by email to bob@partner-mail.example")
	p.WantText("invited")
	p.Screenshot("console-person")

	bob := activateAndSignIn(t, w, "bob@partner-mail.example", "invitation", "bob@partner-mail.example")
	bob.WantText("Bob Byte")
}

// TestBrowserConsoleSeed002: a partner, its site, a contact related with
// contact roles; the first relationship sends the welcome message, and a
// second "Primary" at the site is refused at the roles.
func TestBrowserConsoleSeed002(t *testing.T) {
	w := newBrowserWorld(t)
	p := consoleAdmin(t, w)
	p.ClickLink("Organizations")
	p.WantH1("Organizations")
	p.Fill("Name of the partner or customer", "Northwind")
	p.Click("Add organization")
	p.WantH1("Northwind")
	p.Fill("New site's name", "Northwind Rotterdam")
	p.Click("Add site")
	p.WantH1("Northwind Rotterdam")
	for _, c := range []struct{ first, email string }{{"Nina", "nina@northwind.example"}, {"Otto", "otto@northwind.example"}} {
		p.ClickLink("New contact")
		p.WantH1("New contact")
		if got := p.Value("Organization"); got == "" {
			t.Fatal("the new contact's organization is not chosen from the site's page")
		}
		p.Fill("First name", c.first)
		p.Fill("Last name", "North")
		p.Fill("Email", c.email)
		p.Click("Save contact")
		p.WantH1(c.first + " North")
		p.ClickLink("Organizations")
		p.ClickLink("Northwind")
		p.ClickLink("Northwind Rotterdam")
	}
	p.Select("Contact", "Nina North (nina@northwind.example)")
	p.SetChecked("Primary", true)
	p.SetChecked("Technical", true)
	p.Click("Save contact roles")
	wantAlert(t, p, "the welcome message is queued to go out by email to nina@northwind.example")
	p.WantText("Primary, Technical")
	p.Select("Contact", "Otto North (otto@northwind.example)")
	p.SetChecked("Primary", true)
	p.Click("Save contact roles")
	p.WantText("one person per site")
	p.Screenshot("console-site-primary-refused")
	p.SetChecked("Primary", false)
	p.SetChecked("Billing", true)
	p.Click("Save contact roles")
	wantAlert(t, p, "The contact roles were saved")
	p.Screenshot("console-site")

	nina := activateAndSignIn(t, w, "nina@northwind.example", "welcome", "nina@northwind.example")
	nina.WantText("Nina North")
}

// TestBrowserConsoleSeed003: manual creation with a frontline tenant's
// required fields, then a one-time password for a person without email,
// who must choose their own password at first sign-in.
func TestBrowserConsoleSeed003(t *testing.T) {
	w := newBrowserWorld(t)
	ctx := context.Background()
	for _, a := range []struct{ kind, name string }{{usher.KindDepartment, "Bakery"}, {usher.KindJobProfile, "Baker"}, {usher.KindRole, "Staff"}} {
		if _, err := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, a.kind, catalog.AttributeInput{Key: strings.ToLower(a.name), Name: ptr(a.name)}); err != nil {
			t.Fatal(err)
		}
	}
	p := consoleAdmin(t, w)
	w.settings(t, &w.tenant, func(s *usher.TenantSettings) {
		s.RequiredFields = usher.DefaultSettings(usher.TemplateFrontline).RequiredFields
	})
	p.ClickLink("Add user")
	p.WantH1("Add user")
	p.Fill("First name", "Sam")
	p.Fill("Last name", "Shelf")
	p.Fill("Username", "sam.shelf")
	p.Fill("Mobile phone", "+46 70 123 45 67")
	p.Click("Add user")
	wantFieldError(t, p, "Department", "Required in this tenant.")
	wantFieldError(t, p, "Job profile", "Required in this tenant.")
	wantFieldError(t, p, "Role", "Required in this tenant.")
	p.Screenshot("console-add-user-required")
	p.Select("Department", "Bakery")
	p.Select("Job profile", "Baker")
	p.Select("Role", "Staff")
	p.Select("Language", "Svenska")
	p.Click("Add user")
	p.WantH1("Sam Shelf")
	p.ClickInPlace("Set a one-time password")
	p.Click("Set one-time password")
	p.WantH1("One-time password for Sam Shelf")
	otp := browsertest.Eval[string](p, `document.getElementById('otp').innerText.trim()`)
	if len(otp) < 8 {
		t.Fatalf("one-time password %q", otp)
	}
	p.Screenshot("console-one-time-password")

	sam := browsertest.New(t)
	sam.Open(w.url + "/t/acme/")
	sam.Fill("Email, username or phone number", "sam.shelf")
	sam.Click("Continue")
	sam.WantH1("Enter your password")
	sam.Fill("Password", otp)
	sam.Click("Sign in")
	sam.WantH1("Choose your own password")
	sam.Fill("New password", "sams own shelf passphrase")
	sam.Fill("Type it again", "sams own shelf passphrase")
	sam.Click("Save and continue")
	sam.WantH1("Your account")
	sam.WantText("Sam Shelf", "sam.shelf")
}

// TestBrowserConsoleSeed004: the add-user form with role, plan, primary
// and other groups; a full plan cannot be chosen.
func TestBrowserConsoleSeed004(t *testing.T) {
	w := newBrowserWorld(t)
	ctx := context.Background()
	if _, err := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindRole, catalog.AttributeInput{Key: "editor", Name: ptr("Editor")}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"EMEA", "APAC"} {
		if _, err := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindGroup, catalog.AttributeInput{Key: strings.ToLower(g), Name: ptr(g)}); err != nil {
			t.Fatal(err)
		}
	}
	one := 1
	if _, err := w.srv.catalog.CreatePlan(ctx, opActor, w.tenant, catalog.PlanInput{Key: "pro", Name: ptr("Professional"), Seats: &one}); err != nil {
		t.Fatal(err)
	}
	p := consoleAdmin(t, w)
	p.ClickLink("Add user")
	p.Fill("First name", "Grace")
	p.Fill("Last name", "Hopper")
	p.Fill("Email", "grace@example.com")
	p.Fill("Username", "ghopper")
	p.Select("Role", "Editor")
	p.Select("Plan", "Professional (0 of 1 seats used)")
	p.Select("Primary group", "EMEA")
	p.SetChecked("APAC", true)
	p.Screenshot("console-add-user")
	p.ScreenshotAt("console-add-user-desktop", browsertest.Desktop)
	p.Click("Add user")
	p.WantH1("Grace Hopper")
	p.WantText("Editor", "Professional")

	// The plan is full now: the form shows it before anything is typed.
	p.ClickLink("Add user")
	full := browsertest.Eval[bool](p, `[...document.getElementById('plan_id').options].some(o => o.text.startsWith('Professional (full)') && o.disabled)`)
	if !full {
		t.Fatal("the full plan can still be chosen")
	}
	p.ClickLink("Plans and seats")
	p.WantText("1 of 1", "full")
	p.Screenshot("console-plans")

	g := activateAndSignIn(t, w, "grace@example.com", "invitation", "ghopper")
	g.WantText("Grace Hopper", "Professional")
}

// TestBrowserConsoleTour visits the console's other pages and the
// operators' console, so each is checked and has a screenshot.
func TestBrowserConsoleTour(t *testing.T) {
	w := newBrowserWorld(t)
	for _, n := range []string{"Ivy", "Jon", "Kim"} {
		w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: n, LastName: "Tour", Email: strings.ToLower(n) + "@example.com"}})
	}
	p := consoleAdmin(t, w)
	p.ClickLink("People")
	p.WantText("Ivy Tour", "Jon Tour", "Kim Tour")
	p.Fill("Name or email", "ji")
	p.Click("Filter")
	p.WantNoText("Ivy Tour")
	p.Fill("Name or email", "")
	p.Select("Account", "invited")
	p.Click("Filter")
	p.SetChecked("Select Ivy Tour", true)
	p.SetChecked("Select Kim Tour", true)
	p.Select("With the selected", "Resend activation")
	p.Screenshot("console-people")
	p.ScreenshotAt("console-people-desktop", browsertest.Desktop)
	p.Click("Apply")
	wantAlert(t, p, "Resend activation: done for 2 accounts")

	p.ClickLink("Sign-up links")
	p.Fill("Name", "Warehouse poster")
	p.Fill("At most this many people", "40")
	p.Click("Create link")
	wantAlert(t, p, "Warehouse poster")
	p.Screenshot("console-signup-links")

	p.ClickLink("Catalogues")
	p.Fill("Name", "Night manager")
	p.Click("Add")
	wantAlert(t, p, "Night manager was added")

	p.ClickLink("Messages")
	p.Screenshot("console-messages")
	p.Open(browsertest.Eval[string](p, `document.querySelector('td a[href*="/admin/messages/"]').href`))
	p.WantText("/t/acme/activate/")

	p.ClickLink("Audit log")
	p.WantText("account.activation_sent")
	p.Screenshot("console-audit")

	p.ClickLink("Settings")
	p.WantH1("Settings")
	p.Select("Who may register from the sign-in page", "Anyone")
	p.Fill("Colour", "not a colour")
	p.Click("Save settings")
	wantFieldError(t, p, "Colour", "is not a colour")
	p.Fill("Colour", "#0b6e4f")
	p.Click("Save settings")
	wantAlert(t, p, "The settings were saved")
	p.ScreenshotAt("console-settings-desktop", browsertest.Desktop)

	// Single sign-on: an OpenID Connect connection, and what to give the identity provider.
	p.ClickLink("Single sign-on")
	p.WantH1("Single sign-on")
	p.Click("New connection")
	p.WantH1("New OpenID Connect connection")
	p.Fill("name", "Acme Entra ID")
	p.Fill("domains", "acme.example")
	p.SetChecked("Enforced", true)
	p.Fill("issuer", "https://login.microsoftonline.com/acme/v2.0")
	p.Fill("client_id", "usher-console")
	p.Fill("client_secret", "a secret of the identity provider")
	p.Select("mapping.preset", "Microsoft Entra ID")
	p.Click("Create connection")
	wantAlert(t, p, "Give your identity provider the values below")
	p.WantText("Values for your identity provider", "Redirect URI", "Test this connection")
	p.Screenshot("console-connection")

	// Linked accounts: a Google Workspace calendar, and two invited people linked to it.
	p.ClickLink("Linked accounts")
	p.WantH1("Linked accounts")
	p.Click("New external system")
	p.WantH1("New Google Workspace system")
	p.WantText("Redirect URI", "Preset for Google Workspace")
	p.Fill("name", "Acme calendar")
	p.Fill("client_id", "usher-calendar")
	p.Fill("client_secret", "a secret of Google's")
	p.Click("Create external system")
	wantAlert(t, p, "“Acme calendar” is saved")
	p.ClickLink("Link users")
	p.WantText("ivy@example.com", "kim@example.com")
	p.SetChecked("Ivy Tour", true)
	p.SetChecked("Kim Tour", true)
	p.Click("Link the chosen")
	wantAlert(t, p, "2 linked")
	p.WantText("pending", "Unlink")
	p.Screenshot("console-linked-accounts")

	// The operators' console, with the operator token.
	const secret = "ush_browser-operator-secret-1234"
	if err := w.srv.apiTokens.EnsureBootstrapToken(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	op := browsertest.New(t)
	op.Open(w.url + "/operator/")
	op.WantH1("Operators' sign-in")
	op.Fill("Operator token", secret)
	op.Click("Sign in")
	op.WantH1("Tenants")
	op.WantText("Acme", "Standard")
	op.ClickLink("Acme")
	op.WantText("Tenant administrators", "alex@admin.example")
	op.ScreenshotAt("operator-tenant-desktop", browsertest.Desktop)
}
