package web

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// The browser tests use the person-facing pages in a real Chromium, as a
// person would: typing into fields found by their labels, clicking buttons
// by their text. Every page they reach is checked for accessibility and
// phone layout (browsertest.Page.Problems) and walked with the Tab key.
// They run on SQLite only: the HTTP tests cover both databases. Without
// Chromium they skip; CI fails when they do. With USHER_SCREENSHOTS=1 they
// write docs/screenshots/*.png.

func TestMain(m *testing.M) { browsertest.Main(m) }

// newBrowserWorld is a signinWorld on SQLite, for a test that skips early
// when there is no browser. Its email and SMS count as delivered, as in
// production (no courier runs: the tests read the messages it would send),
// so the pages and the screenshots say what a configured install says; its
// operator token is the one a first start prints.
func newBrowserWorld(t *testing.T) *signinWorld {
	t.Helper()
	browsertest.Available(t)
	return newSigninWorld(t, storetest.OpenSQLite, func(c *Config) {
		c.Channels, c.OperatorToken = []string{usher.ChannelEmail, usher.ChannelSMS}, "printed"
	})
}

// wantAlert fails the test unless one of the page's alerts or status
// messages contains says.
func wantAlert(t *testing.T, p *browsertest.Page, says string) {
	t.Helper()
	alerts := p.Alerts()
	for _, a := range alerts {
		if strings.Contains(a, says) {
			return
		}
	}
	t.Fatalf("at %s no alert says %q; the alerts: %q", p.URL(), says, alerts)
}

// wantFieldError fails the test unless the field's linked error says says.
func wantFieldError(t *testing.T, p *browsertest.Page, field, says string) {
	t.Helper()
	if got := p.FieldError(field); !strings.Contains(got, says) {
		t.Fatalf("at %s the error of the field %q is %q, want it to say %q", p.URL(), field, got, says)
	}
}

// TestBrowserRegistration is seed 000's way in: a new person types their
// email on the sign-in page, learns there is no account yet, registers,
// activates by the link in their message and signs in.
func TestBrowserRegistration(t *testing.T) {
	w := newBrowserWorld(t)
	w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.Registration = "open" })
	p := browsertest.New(t)

	p.Open(w.url + "/t/acme/")
	p.WantH1("Sign in")
	if got := p.Focused(); got != `field "Email, username or phone number"` {
		t.Errorf("the sign-in page opens with the focus on %s, want the identifier field", got)
	}
	p.Screenshot("signin-identifier")
	p.ScreenshotAt("signin-desktop", browsertest.Desktop)
	p.Fill("Email, username or phone number", "grace@example.com")
	p.Click("Continue")
	p.WantH1("There is no account for this email address yet")
	p.WantText("grace@example.com", "You can create an account now")
	p.Screenshot("signin-no-account")

	p.Click("Register")
	p.WantH1("Create your account")
	if got := p.Value("Email"); got != "grace@example.com" {
		t.Fatalf("the registration form holds the email %q, want the one typed at sign-in", got)
	}
	p.Fill("First name", "Grace")
	p.Fill("Last name", "Hopper")
	p.Screenshot("register")
	// Forgotten names are marked next to their fields.
	p.Fill("First name", "")
	p.Fill("Last name", "")
	p.Click("Create my account")
	p.WantH1("Create your account")
	wantAlert(t, p, "Please correct the fields marked below.")
	wantFieldError(t, p, "First name", "first name is required")
	wantFieldError(t, p, "Last name", "last name is required")
	p.Screenshot("register-errors")
	p.Fill("First name", "Grace")
	p.Fill("Last name", "Hopper")
	p.Click("Create my account")
	p.WantH1("Check your messages")
	wantAlert(t, p, "We are sending a message to grace@example.com")
	p.Screenshot("register-check-messages")

	// The registration message's link, opened in the same browser.
	p.Open(w.lastLink(t, "grace@example.com", "registration"))
	p.WantH1("Choose your password")
	p.WantText("Hello Grace")
	p.Screenshot("activate")
	p.Fill("New password", "compiler pioneer 1952")
	p.Fill("Type it again", "compiler pioneer 1953")
	p.Click("Activate my account")
	wantFieldError(t, p, "Type it again", "The two passwords are not the same.")
	p.Screenshot("activate-errors")
	p.Fill("New password", "compiler pioneer 1952")
	p.Fill("Type it again", "compiler pioneer 1952")
	p.Click("Activate my account")
	p.WantH1("Your account is active")
	wantAlert(t, p, "You can now sign in as grace@example.com")
	p.Screenshot("activate-done")

	p.ClickLink("Go to the sign-in page")
	p.WantH1("Sign in")
	// The email just activated is filled in.
	if got := p.Value("Email, username or phone number"); got != "grace@example.com" {
		t.Fatalf("after activation the sign-in page holds %q, want grace@example.com", got)
	}
	p.Click("Continue")
	p.WantH1("Enter your password")
	p.Screenshot("signin-password")
	p.Fill("Password", "compiler pioneer 1952")
	p.Click("Sign in")
	p.WantH1("Your account")
	p.WantText("Grace Hopper", "grace@example.com", "Standard")
	p.Screenshot("account")
}

// signInWith goes through both sign-in steps of w's tenant in the browser
// and expects the person's own page.
func signInWith(t *testing.T, p *browsertest.Page, w *signinWorld, identifier, password string) {
	t.Helper()
	p.Open(w.url + "/t/" + w.tenant.Slug + "/")
	p.WantH1("Sign in")
	p.Fill("Email, username or phone number", identifier)
	p.Click("Continue")
	p.WantH1("Enter your password")
	p.Fill("Password", password)
	p.Click("Sign in")
	p.WantH1("Your account")
}

// TestBrowserOneTimePassword is seed 003's account without an email: an
// administrator sets a one-time password for a username + phone account;
// the person signs in with it and must choose their own before anything else.
func TestBrowserOneTimePassword(t *testing.T) {
	w := newBrowserWorld(t)
	admin := usher.Actor{Kind: "token", Role: usher.AdminUser}
	c := w.invite(t, w.tenant, provision.AccountInput{Username: "olle", Phone: "+46701112244", Person: &provision.PersonInput{FirstName: "Olle", LastName: "Olsson"}})
	otp, err := w.svc.SetOneTimePassword(context.Background(), admin, w.tenant, c.Account.ID, "olle-first-time")
	if err != nil {
		t.Fatal(err)
	}
	p := browsertest.New(t)
	p.Open(w.url + "/t/acme/")
	p.Fill("Email, username or phone number", "olle")
	p.Click("Continue")
	p.WantH1("Enter your password")
	p.WantText("Given a one-time password by your administrator?")
	p.Fill("Password", otp)
	p.Click("Sign in")
	p.WantH1("Choose your own password")
	p.Screenshot("one-time-password-choose")
	p.Fill("New password", "olle's own passphrase")
	p.Fill("Type it again", "olle's own passphrasE")
	p.Click("Save and continue")
	p.WantH1("Choose your own password")
	wantFieldError(t, p, "Type it again", "The two passwords are not the same.")
	p.Fill("New password", "password1")
	p.Fill("Type it again", "password1")
	p.Click("Save and continue")
	wantFieldError(t, p, "New password", "common")
	p.Screenshot("one-time-password-errors")
	p.Fill("New password", "olle's own passphrase")
	p.Fill("Type it again", "olle's own passphrase")
	p.Click("Save and continue")
	p.WantH1("Your account")
	p.WantText("Olle Olsson", "olle", "+46701112244")

	// Signed out, the one-time password no longer works; the chosen one
	// does, with the phone number typed as people type it.
	p.Click("Sign out")
	p.WantH1("Sign in")
	wantAlert(t, p, "You are signed out.")
	p.Fill("Email, username or phone number", "olle")
	p.Click("Continue")
	p.Fill("Password", otp)
	p.Click("Sign in")
	wantAlert(t, p, "The identifier or the password is not right.")
	signInWith(t, p, w, "+46 70 111 22 44", "olle's own passphrase")
}

var anyCodeRE = regexp.MustCompile(`\b(\d{6})\b`)

// TestBrowserSignupLink is seed 003's department QR code: a sign-up link
// opens the registration form with the department fixed; the person
// registers with a username and phone, activates with the SMS code, and
// once the link is used up the next person is told so.
func TestBrowserSignupLink(t *testing.T) {
	w := newBrowserWorld(t)
	ctx := context.Background()
	admin := usher.Actor{Kind: "token", Role: usher.AdminUser}
	dep, err := w.srv.catalog.CreateAttribute(ctx, opActor, w.tenant, usher.KindDepartment, catalog.AttributeInput{Key: "bakery", Name: ptr("Bakery")})
	if err != nil {
		t.Fatal(err)
	}
	w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.RegistrationFields = usher.RegistrationByUsernamePhone })
	l, err := w.srv.signup.CreateSignupLink(ctx, admin, w.tenant, signup.SignupLinkInput{Name: ptr("Bakery night shift"), DepartmentID: ptr(dep.ID), MaxUses: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}

	p := browsertest.New(t)
	p.Open(w.url + "/t/acme/join/" + l.Code)
	p.WantH1("Create your account")
	p.WantText("Signing up with “Bakery night shift”", "Department: Bakery")
	if browsertest.Eval[bool](p, `!!document.querySelector('select[name=department_id]')`) {
		t.Fatal("a department's link lets the person choose another department")
	}
	p.Fill("First name", "Bea")
	p.Fill("Last name", "Baker")
	p.Fill("Username", "bea.b")
	p.Fill("Mobile phone number", "+46 70 555 12 34")
	p.Select("Language", "Svenska")
	p.Screenshot("join-link")
	p.Click("Create my account")
	p.WantH1("Check your messages")
	wantAlert(t, p, "+46 70 555 12 34")

	bea, err := w.st.Read().AccountByLogin(ctx, w.tenant.ID, "bea.b")
	if err != nil {
		t.Fatal(err)
	}
	person, _ := w.st.Read().Person(ctx, w.tenant.ID, bea.PersonID)
	if person.DepartmentID != dep.ID || person.Language != "sv" {
		t.Fatalf("registered through the link: %+v", person)
	}
	msgs, _, err := w.st.Read().Messages(ctx, w.tenant.ID, store.MessageFilter{AccountID: bea.ID}, store.ListOptions{})
	msgs = written(t, w.svc, msgs)
	if err != nil || len(msgs) != 1 || msgs[0].Channel != usher.ChannelSMS {
		t.Fatalf("the registration SMS: %+v %v", msgs, err)
	}
	code := anyCodeRE.FindStringSubmatch(msgs[0].Body)
	if code == nil {
		t.Fatalf("no code in the SMS %q", msgs[0].Body)
	}

	// Bea comes back to the sign-in page with the SMS in hand.
	p.ClickLink("start again from the sign-in page")
	p.Fill("Email, username or phone number", "bea.b")
	p.Click("Continue")
	p.WantH1("Your invitation is still open")
	p.Screenshot("signin-invited")
	p.ClickLink("Enter the code")
	p.WantH1("Activate your account")
	p.Screenshot("activate-code")
	if got := p.Value("Phone number, username or email"); got != "bea.b" {
		t.Fatalf("the code page holds the identifier %q", got)
	}
	// Forgetting who she is gets said next to the field.
	p.Fill("Phone number, username or email", "")
	p.Click("Activate my account")
	wantAlert(t, p, "Please correct the fields marked below.")
	wantFieldError(t, p, "Phone number, username or email", "Enter your phone number")
	p.Fill("Phone number, username or email", "bea.b")
	p.Fill("Code or one-time password", code[1])
	p.Fill("New password", "fresh bread at dawn")
	p.Fill("Type it again", "fresh bread at dawn")
	p.Click("Activate my account")
	p.WantH1("Your account is active")
	signInWith(t, p, w, "bea.b", "fresh bread at dawn")
	p.WantText("Bea Baker")

	// The link took its one use.
	next := browsertest.New(t)
	next.Open(w.url + "/t/acme/join/" + l.Code)
	next.WantH1("This sign-up link is used up")
	next.WantText("Ask whoever gave you the link for a new one.")
	next.Screenshot("join-used-up")
}

// TestBrowserAccountPage: changing the password and signing out everywhere
// else, with a second browser signed in to the same account.
func TestBrowserAccountPage(t *testing.T) {
	w := newBrowserWorld(t)
	w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
	laptop, phone := browsertest.New(t), browsertest.New(t)
	signInWith(t, laptop, w, "ada@example.com", "analytical engine 1843")
	signInWith(t, phone, w, "ada@example.com", "analytical engine 1843")

	laptop.Reload()
	laptop.WantText("this browser")
	if n := browsertest.Eval[int](laptop, `document.querySelectorAll('ul.plain li').length`); n != 2 {
		t.Fatalf("the account page lists %d sessions, want 2", n)
	}
	laptop.Screenshot("account-sessions")
	laptop.Click("Sign out everywhere else")
	laptop.WantH1("Your account")
	wantAlert(t, laptop, "You are signed out everywhere else.")
	laptop.WantNoText("Sign out everywhere else")
	phone.Reload()
	phone.WantH1("Sign in")

	// Signed in again on the phone; a new password on the laptop ends it.
	signInWith(t, phone, w, "ada@example.com", "analytical engine 1843")
	laptop.Fill("Current password", "not my password")
	laptop.Fill("New password", "difference engine 1822")
	laptop.Fill("Type it again", "difference engine 1822")
	laptop.Click("Change password")
	wantFieldError(t, laptop, "Current password", "not your current password")
	laptop.Screenshot("account-password-error")
	laptop.Fill("Current password", "analytical engine 1843")
	laptop.Fill("New password", "difference engine 1822")
	laptop.Fill("Type it again", "difference engine 1822")
	laptop.Click("Change password")
	wantAlert(t, laptop, "Your password is changed. Your other sessions have ended.")
	phone.Reload()
	phone.WantH1("Sign in")
	signInWith(t, phone, w, "ada@example.com", "difference engine 1822")

	laptop.Click("Sign out")
	laptop.WantH1("Sign in")
	wantAlert(t, laptop, "You are signed out.")
	laptop.Open(w.url + "/t/acme/account")
	laptop.WantH1("Sign in")
}

// TestBrowserKeyboardOnly signs in without a mouse: the identifier field
// has the focus, Enter submits, the password field has the focus next.
func TestBrowserKeyboardOnly(t *testing.T) {
	w := newBrowserWorld(t)
	w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
	p := browsertest.New(t)
	p.Open(w.url + "/t/acme/")
	p.Type("ada@example.com")
	p.Navigating(func() { p.Press("\r") })
	p.WantH1("Enter your password")
	if got := p.Focused(); got != `field "Password"` {
		t.Fatalf("the password step opens with the focus on %s", got)
	}
	p.Type("analytical engine 1843")
	p.Navigating(func() { p.Press("\r") })
	p.WantH1("Your account")
	// The first Tab on the account page reaches "Sign out".
	browsertest.Eval[bool](p, `(document.activeElement.blur(), true)`)
	p.Press("\t")
	if got := p.Focused(); got != `button "Sign out"` {
		t.Fatalf("the first Tab on the account page reaches %s", got)
	}
	p.Navigating(func() { p.Press("\r") })
	p.WantH1("Sign in")
}

// TestBrowserLongAddressFitsPhone: a long email address, shown back on
// the pages, must not make them scroll sideways on a phone.
func TestBrowserLongAddressFitsPhone(t *testing.T) {
	w := newBrowserWorld(t)
	w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.Registration = "open" })
	const long = "alexandra.konstantinopoulou-vanderbilt@research.example.com"
	w.activeUser(t, w.tenant, "Alexandra", long, "long addresses wrap")
	p := browsertest.New(t)
	signInWith(t, p, w, long, "long addresses wrap")
	other := browsertest.New(t)
	other.Open(w.url + "/t/acme/")
	other.Fill("Email, username or phone number", "x"+long)
	other.Click("Continue")
	other.WantH1("There is no account for this email address yet")
	other.Click("Register")
	other.Fill("First name", "Xander")
	other.Fill("Last name", "Long")
	other.Click("Create my account")
	other.WantH1("Check your messages")
}

// TestBrowserOtherPages visits the pages the journeys above do not reach,
// so each is checked too: registration closed, an account that is not
// active, too many attempts, links that no longer work, an email that
// already signs in to another tenant, a domain on single sign-on.
func TestBrowserOtherPages(t *testing.T) {
	w := newBrowserWorld(t)
	ctx := context.Background()
	admin := usher.Actor{Kind: "token", Role: usher.AdminUser}
	p := browsertest.New(t)
	identify := func(identifier, h1 string) {
		t.Helper()
		p.Open(w.url + "/t/acme/")
		p.Fill("Email, username or phone number", identifier)
		p.Click("Continue")
		p.WantH1(h1)
	}

	// Registration is off: the person is told whom to ask.
	w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.Branding.SupportEmail = "help@acme.example" })
	identify("newcomer@example.com", "There is no account for this email address yet")
	p.WantText("Ask yours for an account, or write to help@acme.example.")
	p.Open(w.url + "/t/acme/register")
	p.WantH1("This did not work")
	p.WantText("does not take registrations")

	// Suspended.
	sus := w.activeUser(t, w.tenant, "Sus", "sus@example.com", "suspended passphrase")
	st := usher.StateSuspended
	if _, err := w.svc.UpdateAccount(ctx, admin, w.tenant, sus.ID, provision.AccountUpdate{State: &st}); err != nil {
		t.Fatal(err)
	}
	identify("sus@example.com", "This account is not active")

	// Wrong passwords, until the account waits.
	w.activeUser(t, w.tenant, "Ada", "ada@example.com", "analytical engine 1843")
	identify("ada@example.com", "Enter your password")
	for i := 0; i < 6 && p.H1() != "Too many attempts"; i++ {
		p.Fill("Password", "not the password")
		p.Click("Sign in")
	}
	p.WantH1("Too many attempts")
	p.WantText("before you try again")
	p.Screenshot("signin-throttled")

	// Activation links: unknown, used; asking for a new one.
	p.Open(w.url + "/t/acme/activate/not-a-real-secret")
	p.WantH1("This link is not valid")
	c := w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ivy", LastName: "Invited", Email: "ivy@example.com"}})
	link := linkRE.FindString(c.Messages[0].Body)
	p.Open(link)
	p.Fill("New password", "ivy's passphrase here")
	p.Fill("Type it again", "ivy's passphrase here")
	p.Click("Activate my account")
	p.WantH1("Your account is active")
	p.Open(link)
	p.WantH1("This link was used already")
	p.Screenshot("activate-used")
	p.ClickLink("Go to the sign-in page")
	p.WantH1("Sign in")
	p.Open(link)
	p.Fill("Your email, phone number or username", "ivy@example.com")
	p.Click("Send me a new link")
	p.WantH1("Check your messages")

	// Sign-up links that do not work.
	p.Open(w.url + "/t/acme/join/no-such-code")
	p.WantH1("This sign-up link does not exist")

	// An email that signs in to another tenant joins that identity (seed 000).
	beta, _ := w.newTenant(t, "beta", "Beta Partners")
	w.activeUser(t, beta, "Ada", "ada.b@example.com", "one password for both")
	c = w.invite(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ada", LastName: "B", Email: "ada.b@example.com"}})
	joinLink := linkRE.FindString(c.Messages[0].Body)
	p.Open(joinLink)
	p.WantH1("You already have an account")
	p.WantText("sign in there first")
	p.Screenshot("activate-confirm-identity")
	// Signed in at Beta Partners, the same browser joins.
	p.Open(w.url + "/t/beta/")
	p.Fill("Email, username or phone number", "ada.b@example.com")
	p.Click("Continue")
	p.Fill("Password", "one password for both")
	p.Click("Sign in")
	p.WantH1("Your account")
	p.Open(joinLink)
	p.WantText("you are signed in as")
	p.Screenshot("activate-join-signed-in")
	p.Click("Activate with my sign-in")
	p.WantH1("Your account is active")
	// The one session now serves Acme too.
	p.Open(w.url + "/t/acme/account")
	p.WantH1("Your account")
	p.WantText("Your organizations", "Beta Partners")

	// Last, as new internal accounts use it from now on: single sign-on
	// owns a domain.
	if _, err := w.svc.SaveConnection(ctx, opActor, w.tenant, "", provision.ConnectionInput{Connection: usher.Connection{
		Name: "Corp Entra", Protocol: "oidc", Domains: []string{"corp.example"}, Issuer: "https://login.corp.example", ClientID: "usher"}}); err != nil {
		t.Fatal(err)
	}
	p.Click("Sign out")
	// The identifier step hands over at once; this connection's issuer is
	// made up, so the hand-over ends on the page that says so (the
	// sign-in through a real provider is TestBrowserSSO's).
	identify("someone@corp.example", "Your company's sign-in did not work")
	p.WantText("tell your administrator")
}

// TestBrowserBrandColors: whatever color a tenant brands its pages with,
// buttons and links stay readable (the checks on every page measure the
// contrast of its text).
func TestBrowserBrandColors(t *testing.T) {
	w := newBrowserWorld(t)
	for _, color := range []string{"#FFCC00", "#ffffff", "#3399aa", "#2f7a9a"} {
		w.settings(t, &w.tenant, func(s *usher.TenantSettings) { s.Branding.Color, s.Registration = color, "open" })
		p := browsertest.New(t)
		p.Open(w.url + "/t/acme/")
		p.Fill("Email, username or phone number", "new@example.com")
		p.Click("Continue")
		p.WantH1("There is no account for this email address yet")
		if color == "#FFCC00" {
			p.Screenshot("signin-no-account-yellow")
		}
	}
}

// TestBrowserHome is usher's own address with more than one tenant: where
// to sign in, and the operators' console.
func TestBrowserHome(t *testing.T) {
	w := newBrowserWorld(t)
	w.newTenant(t, "other", "Other Corp")
	p := browsertest.New(t)
	p.Open(w.url + "/")
	p.WantH1("Where to sign in")
	p.WantText(w.url+"/t/your-organization/", "ask your administrator")
	p.Screenshot("home")
	p.ClickLink("the operators' console")
	p.WantH1("Operators' sign-in")
}
