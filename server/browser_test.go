package server

import (
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/browsertest"
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
// when there is no browser.
func newBrowserWorld(t *testing.T) *signinWorld {
	t.Helper()
	browsertest.Available(t)
	return newSigninWorld(t, storetest.OpenSQLite)
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
	wantAlert(t, p, "We sent a message to grace@example.com")
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
	p.Fill("Email, username or phone number", "grace@example.com")
	p.Click("Continue")
	p.WantH1("Enter your password")
	p.Screenshot("signin-password")
	p.Fill("Password", "compiler pioneer 1952")
	p.Click("Sign in")
	p.WantH1("Your account")
	p.WantText("Grace Hopper", "grace@example.com", "Standard")
	p.Screenshot("account")
}
