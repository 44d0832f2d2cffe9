package provision_test

// Activation: by link, SMS code and one-time password; expiry, resends,
// joining an identity, single use and password reset.

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// secretOf returns the link secret carried by a message.
func (e *env) secretOf(t *testing.T, m usher.Message) string {
	t.Helper()
	m = e.written([]usher.Message{m})[0]
	i := strings.Index(m.Body, "/activate#")
	if i < 0 {
		t.Fatalf("no activation link in %q", m.Body)
	}
	s := m.Body[i+len("/activate#"):]
	if j := strings.IndexAny(s, " \n"); j >= 0 {
		s = s[:j]
	}
	return s
}

func (e *env) account(tn usher.Tenant, id string) usher.Account {
	e.t.Helper()
	a, err := e.st.Read().Account(e.ctx, tn.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func testActivationLink(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, err := e.newUser(tn, "Lin", "lin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if c.Account.Invitation != usher.InvitationPending {
		t.Fatalf("a new invited account: invitation %q", c.Account.Invitation)
	}
	for _, m := range e.written(c.Messages) {
		if strings.Contains(strings.ToLower(m.Body), "password:") {
			t.Fatalf("a message carries a password: %q", m.Body)
		}
	}
	secret := e.secretOf(t, c.Messages[0])
	red, err := e.svc.Inspect(e.ctx, tn, secret)
	if err != nil || red.Mode != provision.ModeChoosePassword || red.Account.ID != c.Account.ID {
		t.Fatalf("inspect: %+v %v", red, err)
	}
	_, err = e.svc.ActivateWithLink(e.ctx, tn, secret, "password1", "", "")
	wantCode(t, err, usher.CodeInvalid, "password")
	_, err = e.svc.ActivateWithLink(e.ctx, tn, secret, "short", "", "")
	wantCode(t, err, usher.CodeInvalid, "password")
	// Another tenant's page does not know the secret.
	other := e.tenant("other", "")
	if _, err := e.svc.Inspect(e.ctx, other, secret); !errors.Is(err, provision.ErrActivationUnknown) {
		t.Fatalf("secret on another tenant: %v", err)
	}
	a, err := e.svc.ActivateWithLink(e.ctx, tn, secret, "correct horse battery staple", "", "192.0.2.1")
	if err != nil || a.State != usher.StateActive || a.IdentityID == "" || a.ActivatedAt == nil {
		t.Fatalf("activate: %+v %v", a, err)
	}
	if _, err := e.svc.ActivateWithLink(e.ctx, tn, secret, "another good passphrase", "", ""); !errors.Is(err, provision.ErrActivationUsed) {
		t.Fatalf("second use: %v", err)
	}
	if got := e.account(tn, a.ID); got.State != usher.StateActive || got.Invitation != "" {
		t.Fatalf("stored: %+v", got)
	}
	events, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "account.activated"}, store.ListOptions{})
	if len(events) != 1 || events[0].ActorKind != "account" || events[0].Source != "192.0.2.1" {
		t.Fatalf("audit: %+v", events)
	}
}

func testActivationExpiry(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, err := e.newUser(tn, "Exp", "exp@example.com")
	if err != nil {
		t.Fatal(err)
	}
	first := e.secretOf(t, c.Messages[0])
	e.clock.Advance(7*24*time.Hour + time.Second)
	if _, err := e.svc.Inspect(e.ctx, tn, first); !errors.Is(err, provision.ErrActivationExpired) {
		t.Fatalf("after 7 days: %v", err)
	}
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationExpired {
		t.Fatalf("invitation after expiry: %q", a.Invitation)
	}
	expired, _, _ := e.st.Read().Accounts(e.ctx, tn.ID, store.AccountFilter{Invitation: usher.InvitationExpired}, store.ListOptions{})
	pending, _, _ := e.st.Read().Accounts(e.ctx, tn.ID, store.AccountFilter{Invitation: usher.InvitationPending}, store.ListOptions{})
	if len(expired) != 1 || len(pending) != 0 {
		t.Fatalf("filters: %d expired, %d pending", len(expired), len(pending))
	}
	msgs, err := e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != provision.KindActivation {
		t.Fatalf("resend: %+v %v", msgs, err)
	}
	second := e.secretOf(t, msgs[0])
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationPending {
		t.Fatalf("invitation after resend: %q", a.Invitation)
	}
	// A second resend makes the second link unusable too.
	msgs, err = e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	if err != nil {
		t.Fatal(err)
	}
	third := e.secretOf(t, msgs[0])
	if _, err := e.svc.Inspect(e.ctx, tn, second); err == nil {
		t.Fatal("a resend must invalidate the previous link")
	}
	// Revoking leaves no usable link, and the account shows an expired invitation.
	if _, err := e.svc.RevokeInvitation(e.ctx, userAdm, tn, c.Account.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Inspect(e.ctx, tn, third); err == nil {
		t.Fatal("a revoked link still works")
	}
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationExpired {
		t.Fatalf("after revoke: %q", a.Invitation)
	}
	// The public "send me a new link" works for an invited account and says nothing either way.
	if err := e.svc.RequestActivation(e.ctx, tn, "EXP@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequestActivation(e.ctx, tn, "nobody@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if a := e.account(tn, c.Account.ID); a.Invitation != usher.InvitationPending {
		t.Fatalf("after a request: %q", a.Invitation)
	}
	// Resending to an account that is no longer invited is refused.
	x, err := e.newUser(tn, "X", "x@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ActivateWithLink(e.ctx, tn, e.secretOf(t, x.Messages[0]), "correct horse battery staple", "", ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ResendActivation(e.ctx, userAdm, tn, x.Account.ID)
	wantCode(t, err, usher.CodeConflict, "state")
	_, err = e.svc.RevokeInvitation(e.ctx, userAdm, tn, x.Account.ID)
	wantCode(t, err, usher.CodeConflict, "state")
}

var codeRE = regexp.MustCompile(`code: (\d{6})`)

// codeOf returns the SMS code in an English message.
func codeOf(body string) string {
	m := codeRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func testActivationCode(t *testing.T, e *env) {
	tn := e.tenant("front", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	st := tn.Settings
	st.SMSEnabled = true
	tn, _ = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "sam.sms", Phone: "+46 70 111 22 33",
		Person: &provision.PersonInput{FirstName: "Sam", LastName: "SMS"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 1 || c.Messages[0].Channel != usher.ChannelSMS {
		t.Fatalf("an account with only a phone gets an SMS: %+v", c.Messages)
	}
	body := e.written(c.Messages)[0].Body
	code := codeOf(body)
	if code == "" || !strings.Contains(body, "/activate#") {
		t.Fatalf("the SMS carries a link and a code: %q", body)
	}
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	_, err = e.svc.ActivateWithCode(e.ctx, tn, "+46701112233", wrong, "correct horse battery staple", "", "")
	if !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("wrong code: %v", err)
	}
	// The code expires within 10 minutes.
	e.clock.Advance(provision.CodeTTL + time.Second)
	if _, err := e.svc.ActivateWithCode(e.ctx, tn, "+46701112233", code, "correct horse battery staple", "", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("expired code: %v", err)
	}
	msgs, err := e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	if err != nil {
		t.Fatal(err)
	}
	code = codeOf(e.written(msgs)[0].Body)
	// A few wrong tries lock the code, even for the right one afterwards.
	for range provision.MaxAttempts {
		e.svc.ActivateWithCode(e.ctx, tn, "sam.sms", wrong, "correct horse battery staple", "", "")
	}
	if _, err := e.svc.ActivateWithCode(e.ctx, tn, "sam.sms", code, "correct horse battery staple", "", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("a locked code still works: %v", err)
	}
	msgs, _ = e.svc.ResendActivation(e.ctx, userAdm, tn, c.Account.ID)
	code = codeOf(e.written(msgs)[0].Body)
	a, err := e.svc.ActivateWithCode(e.ctx, tn, "SAM.SMS", code, "correct horse battery staple", "", "")
	if err != nil || a.State != usher.StateActive {
		t.Fatalf("right code: %+v %v", a, err)
	}
	// Unknown identifiers get the same answer as wrong codes.
	if _, err := e.svc.ActivateWithCode(e.ctx, tn, "nobody", code, "correct horse battery staple", "", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("unknown identifier: %v", err)
	}
}

func testActivationJoin(t *testing.T, e *env) {
	a, b := e.tenant("alpha", ""), e.tenant("bravo", "")
	a = e.withDefaultPlan(a, e.plan(a, "std", 5))
	b = e.withDefaultPlan(b, e.plan(b, "std", 5))
	ca, _ := e.newUser(a, "Jo", "jo@example.com")
	acct, err := e.svc.ActivateWithLink(e.ctx, a, e.secretOf(t, ca.Messages[0]), "first tenant passphrase", "", "")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := e.newUser(b, "Jo", "jo@example.com")
	secret := e.secretOf(t, cb.Messages[0])
	red, err := e.svc.Inspect(e.ctx, b, secret)
	if err != nil || red.Mode != provision.ModeConfirmIdentity {
		t.Fatalf("second tenant: %+v %v", red, err)
	}
	if red.JoinIdentity != acct.IdentityID {
		t.Fatalf("the link would join identity %q, want %q", red.JoinIdentity, acct.IdentityID)
	}
	// Holding the link (which bravo's administrators can read) is not
	// enough, not even with the identity's right password: its owner must
	// be signed in.
	for _, pw := range []string{"a different passphrase", "first tenant passphrase"} {
		_, err = e.svc.ActivateWithLink(e.ctx, b, secret, pw, "", "")
		if !errors.Is(err, provision.ErrSignInToJoin) {
			t.Fatalf("joined without a sign-in (password %q): %v", pw, err)
		}
	}
	// Signed in as someone else: still not.
	other, _ := e.newUser(a, "Al", "al@example.com")
	al, err := e.svc.ActivateWithLink(e.ctx, a, e.secretOf(t, other.Messages[0]), "al's own passphrase", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ActivateWithLink(e.ctx, b, secret, "", al.IdentityID, ""); !errors.Is(err, provision.ErrSignInToJoin) {
		t.Fatalf("another identity's session joined jo's: %v", err)
	}
	if got := e.account(b, cb.Account.ID); got.State != usher.StateInvited || got.IdentityID != "" {
		t.Fatalf("refused joins changed the account: %+v", got)
	}
	joined, err := e.svc.ActivateWithLink(e.ctx, b, secret, "", acct.IdentityID, "192.0.2.7")
	if err != nil || joined.IdentityID != acct.IdentityID || joined.State != usher.StateActive {
		t.Fatalf("join: %+v %v (identity %s)", joined, err, acct.IdentityID)
	}
	accts, _ := e.st.Read().AccountsOfIdentity(e.ctx, acct.IdentityID)
	if len(accts) != 2 {
		t.Fatalf("identity stands behind %d accounts", len(accts))
	}
	// The person is told by email, in bravo's name, in the same transaction.
	msgs, _, err := e.st.Read().Messages(e.ctx, b.ID, store.MessageFilter{AccountID: cb.Account.ID}, store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var told []usher.Message
	for _, m := range msgs {
		if m.Kind == provision.KindIdentityJoined {
			told = append(told, m)
		}
	}
	if len(told) != 1 || told[0].To != "jo@example.com" || told[0].Channel != usher.ChannelEmail {
		t.Fatalf("the person was not told of the join once by email: %+v", told)
	}
	if w := e.written(told); !strings.Contains(w[0].Body, "Tenant bravo") || !strings.Contains(w[0].Body, storetest.Links{}.SignIn(b)) {
		t.Fatalf("the message does not say which organization, with its sign-in page: %s", w[0].Body)
	}
}

func testOneTimePassword(t *testing.T, e *env) {
	tn := e.tenant("front", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	st := tn.Settings
	st.RequiredFields = []string{usher.FieldFirstName, usher.FieldLastName}
	tn, _ = e.svc.UpdateTenant(e.ctx, tenantAdm, tn.ID, provision.TenantUpdate{Settings: &st})
	c, err := e.svc.CreateAccount(e.ctx, userAdm, tn, provision.AccountInput{Route: provision.RouteNewUser, Username: "olle",
		Person: &provision.PersonInput{FirstName: "Olle", LastName: "NoMail"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) != 0 {
		t.Fatalf("no address, no message: %+v", c.Messages)
	}
	_, err = e.svc.SetOneTimePassword(e.ctx, userAdm, tn, c.Account.ID, "short")
	wantCode(t, err, usher.CodeInvalid, "one_time_password")
	otp, err := e.svc.SetOneTimePassword(e.ctx, userAdm, tn, c.Account.ID, "")
	if err != nil || len(otp) < 8 {
		t.Fatalf("generated: %q %v", otp, err)
	}
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, otp, "", ""); err == nil {
		t.Fatal("the new password must differ from the one-time password")
	}
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp+"x", "my own passphrase", "", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("wrong one-time password: %v", err)
	}
	a, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, "my own passphrase", "", "")
	if err != nil || a.State != usher.StateActive {
		t.Fatalf("one-time password: %+v %v", a, err)
	}
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, "another passphrase", "", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("a one-time password works once: %v", err)
	}
	// It expires.
	otp, _ = e.svc.SetOneTimePassword(e.ctx, userAdm, tn, c.Account.ID, "given-by-admin")
	e.clock.Advance(provision.OneTimeTTL + time.Second)
	if _, err := e.svc.ActivateWithOneTimePassword(e.ctx, tn, "olle", otp, "yet another passphrase", "", ""); !errors.Is(err, provision.ErrCodeInvalid) {
		t.Fatalf("expired one-time password: %v", err)
	}
}

func testActivationConcurrent(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, _ := e.newUser(tn, "Con", "con@example.com")
	secret := e.secretOf(t, c.Messages[0])
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, used := 0, 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.ActivateWithLink(e.ctx, tn, secret, "correct horse battery staple", "", "")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if errors.Is(err, provision.ErrActivationUsed) || errors.Is(err, usher.ErrConflict) {
				used++
			} else {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || used != 3 {
		t.Fatalf("%d activations succeeded, %d refused; want 1 and 3", ok, used)
	}
}

func testPasswordReset(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 5))
	c, _ := e.newUser(tn, "Rae", "rae@example.com")
	if _, err := e.svc.StartReset(e.ctx, userAdm, tn, c.Account.ID); err == nil {
		t.Fatal("an invited account has no password to reset")
	}
	a, err := e.svc.ActivateWithLink(e.ctx, tn, e.secretOf(t, c.Messages[0]), "first passphrase here", "", "")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.svc.StartReset(e.ctx, userAdm, tn, a.ID)
	if err != nil || len(msgs) != 1 || msgs[0].Kind != provision.KindPasswordReset {
		t.Fatalf("reset: %+v %v", msgs, err)
	}
	b, err := e.svc.ActivateWithLink(e.ctx, tn, e.secretOf(t, msgs[0]), "second passphrase here", "", "")
	if err != nil || b.IdentityID != a.IdentityID || b.State != usher.StateActive {
		t.Fatalf("reset done: %+v %v", b, err)
	}
}
