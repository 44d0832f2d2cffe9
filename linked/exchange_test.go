package linked_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/testews"
	"github.com/usherhq/usher/linked"
)

const (
	exchangeUser     = `CORP\ann`
	exchangePassword = "Ann's-Exchange-pässword-1"
)

func (e *env) exchangeSystem(ewsURL string) usher.ExternalSystem {
	e.t.Helper()
	x, err := e.svc.SaveExternalSystem(e.ctx, tenantAdm, e.tenant, "", linked.ExternalSystemInput{ExternalSystem: usher.ExternalSystem{
		Name: "Corp Exchange", Kind: usher.ExternalExchange, EWSURL: ewsURL, ReminderDays: 3}})
	if err != nil {
		e.t.Fatal(err)
	}
	return x
}

// TestExchangeLink: an Exchange link is authorized with the person's own
// credentials only once the EWS server accepts them, the password is kept
// sealed and never logged; products get no token from it; the worker
// checks the credentials again instead of refreshing, and when Exchange
// refuses them the person is asked to enter them again, once.
func TestExchangeLink(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		ews := testews.Start(t, map[string]string{exchangeUser: exchangePassword})
		x := e.exchangeSystem(ews.URL)
		ann, bob := e.account("ann@example.com"), e.account("bob@example.com")
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: x.ID, Login: "ann@corp.example"})
		if err != nil {
			t.Fatal(err)
		}
		if m := e.out.queued(linked.KindAuthorize); len(m) != 1 || !m[0].Exchange {
			t.Fatalf("the authorize message: %+v", m)
		}
		// No OAuth for Exchange, and no token for products.
		if _, err := e.svc.Begin(e.ctx, e.tenant, l.ID, ann.ID); usher.ErrorCode(err) != usher.CodeInvalid {
			t.Fatalf("Begin on an Exchange link: %v", err)
		}
		if _, _, err := e.svc.Token(e.ctx, e.tenant, l.ID); usher.ErrorCode(err) != usher.CodeConflict || !strings.Contains(err.Error(), "credentials, not OAuth tokens") {
			t.Fatalf("Token of a pending Exchange link: %v", err)
		}

		// A wrong password: refused, nothing stored.
		_, err = e.svc.AuthorizeExchange(e.ctx, e.tenant, l.ID, ann.ID, exchangeUser, "not-the-password")
		if !errors.Is(err, linked.ErrExchangeCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if rec := e.record(l.ID); rec.State != usher.LinkPending || rec.Password != "" || rec.Subject != "" {
			t.Fatalf("after a wrong password: %+v, password kept: %t", rec.Link, rec.Password != "")
		}
		// Another person's link is not found, whatever the credentials.
		if _, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l.ID, bob.ID, exchangeUser, exchangePassword); !errors.Is(err, usher.ErrNotFound) {
			t.Fatalf("bob on ann's link: %v", err)
		}

		p, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l.ID, ann.ID, exchangeUser, exchangePassword)
		if err != nil || p.Link.State != usher.LinkAuthorized {
			t.Fatalf("right password: %+v, %v", p.Link, err)
		}
		rec := e.record(l.ID)
		if rec.Password == "" || strings.Contains(rec.Password, exchangePassword) {
			t.Fatalf("the password column is not sealed: %q", rec.Password)
		}
		if got := e.reveal(rec.Password, "link-exchange-password/"+e.tenant.ID+"/"+l.ID); got != exchangePassword {
			t.Fatalf("the sealed password reveals %q", got)
		}
		if rec.Subject != exchangeUser || rec.AccessToken != "" || rec.RefreshToken != "" || rec.ExpiresAt != nil {
			t.Fatalf("after the credentials: %+v", rec.Link)
		}
		if rec.NextAt == nil || !rec.NextAt.Equal(e.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("next check at %v, want a day later", rec.NextAt)
		}
		if n := e.audited("link.authorized", l.ID); n != 1 {
			t.Fatalf("%d link.authorized events", n)
		}
		if _, _, err := e.svc.Token(e.ctx, e.tenant, l.ID); usher.ErrorCode(err) != usher.CodeConflict {
			t.Fatalf("Token of an authorized Exchange link: %v", err)
		}

		// Not due yet: the worker leaves it alone; a day later it checks
		// the credentials again (no OAuth refresh), and they still work.
		w := linked.NewWorker(e.svc, linked.WorkerOptions{})
		if n, err := w.RunOnce(e.ctx); err != nil || n != 0 {
			t.Fatalf("worker before due: %d, %v", n, err)
		}
		e.clock.Advance(25 * time.Hour)
		if n, err := w.RunOnce(e.ctx); err != nil || n != 1 {
			t.Fatalf("worker when due: %d, %v", n, err)
		}
		rec = e.record(l.ID)
		if rec.State != usher.LinkAuthorized || rec.Attempts != 0 || rec.LastError != "" || rec.LeaseOwner != "" ||
			rec.NextAt == nil || !rec.NextAt.Equal(e.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("after the recheck: %+v (next %v, lease %q)", rec.Link, rec.NextAt, rec.LeaseOwner)
		}
		if e.tokens.n.Load() != 0 {
			t.Fatalf("%d requests to a token endpoint for an Exchange link", e.tokens.n.Load())
		}

		// The password is changed in the directory: one refused check
		// moves the link to "reauthorize", erases the password and asks
		// the person for their credentials again.
		ews.SetPassword(exchangeUser, "a-new-password")
		e.clock.Advance(25 * time.Hour)
		if _, err := w.RunOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		rec = e.record(l.ID)
		if rec.State != usher.LinkReauthorize || rec.Password != "" || !strings.Contains(rec.LastError, "no longer accepts") {
			t.Fatalf("after the refused check: %+v, password kept: %t", rec.Link, rec.Password != "")
		}
		if m := e.out.queued(linked.KindReauthorize); len(m) != 1 || !m[0].Exchange || m[0].Account != ann.ID {
			t.Fatalf("the reauthorize message: %+v", m)
		}
		if got := ews.Refusals(); got != 2 {
			t.Fatalf("%d refused sign-ins at Exchange, want 2 (the wrong password, the one recheck)", got)
		}
		// The person enters the new one.
		if p, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l.ID, ann.ID, exchangeUser, "a-new-password"); err != nil || p.Link.State != usher.LinkAuthorized {
			t.Fatalf("the new password: %+v, %v", p.Link, err)
		}
		// Revoked by the person: the password is erased.
		if _, err := e.svc.Revoke(e.ctx, usher.Actor{Kind: usher.ActorAccount, ID: ann.ID}, e.tenant, ann.ID, l.ID); err != nil {
			t.Fatal(err)
		}
		if rec := e.record(l.ID); rec.State != usher.LinkRevoked || rec.Password != "" {
			t.Fatalf("after revoking: %+v, password kept: %t", rec.Link, rec.Password != "")
		}
		for _, pw := range []string{exchangePassword, "a-new-password", "not-the-password"} {
			if strings.Contains(e.logs.String(), pw) {
				t.Fatalf("a password is in the log:\n%s", e.logs.String())
			}
		}
		// Unreachable: said so, nothing stored.
		gone := httptest.NewServer(nil)
		gone.Close()
		y := e.exchangeSystem(gone.URL + "/EWS/Exchange.asmx")
		l2, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: bob.ID, ExternalSystemID: y.ID, Login: "bob@corp.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l2.ID, bob.ID, "bob", "bob-pw"); !errors.Is(err, linked.ErrExchangeUnreachable) {
			t.Fatalf("unreachable: %v", err)
		}
		if rec := e.record(l2.ID); rec.State != usher.LinkPending || rec.Password != "" {
			t.Fatalf("after unreachable: %+v", rec.Link)
		}
		// Guessing is throttled per link: five refused attempts, then the
		// check waits (Exchange is not asked) until the window has passed.
		cy := e.account("cy@example.com")
		ews.SetPassword(`CORP\cy`, "cy-exchange-password")
		l3, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: cy.ID, ExternalSystemID: x.ID, Login: "cy@corp.example"})
		if err != nil {
			t.Fatal(err)
		}
		refused := ews.Refusals()
		for i := range 5 {
			if _, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l3.ID, cy.ID, `CORP\cy`, "guess-"+string(rune('a'+i))); !errors.Is(err, linked.ErrExchangeCredentials) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		var th *linked.ExchangeThrottled
		if _, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l3.ID, cy.ID, `CORP\cy`, "cy-exchange-password"); !errors.As(err, &th) || th.RetryAfter <= 0 {
			t.Fatalf("the sixth attempt: %v", err)
		}
		if got := ews.Refusals() - refused; got != 5 {
			t.Fatalf("Exchange was asked %d times, want 5", got)
		}
		e.clock.Advance(16 * time.Minute)
		if p, err := e.svc.AuthorizeExchange(e.ctx, e.tenant, l3.ID, cy.ID, `CORP\cy`, "cy-exchange-password"); err != nil || p.Link.State != usher.LinkAuthorized {
			t.Fatalf("after the window: %+v, %v", p.Link, err)
		}

		// PersonLinks: ann's own, with their systems.
		mine, err := e.svc.PersonLinks(e.ctx, e.tenant, ann.ID)
		if err != nil || len(mine) != 1 || mine[0].Link.ID != l.ID || mine[0].System.Name != "Corp Exchange" {
			t.Fatalf("ann's links: %+v, %v", mine, err)
		}
	})
}
