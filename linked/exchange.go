package linked

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// exchangeRecheck is how often the worker signs in to Exchange again with a
// link's kept credentials, so a changed or locked password is noticed and
// the person asked again before a product finds out.
const exchangeRecheck = 24 * time.Hour

// Refused credentials are counted per link: after exchangeFree attempts in
// exchangeWindow the form waits until the window has passed, so usher does
// not become a way to guess Exchange passwords, or to lock accounts out.
const (
	exchangeFree   = 5
	exchangeWindow = 15 * time.Minute
)

// ExchangeThrottled refuses a credential check after too many refusals.
type ExchangeThrottled struct{ RetryAfter time.Duration }

func (e *ExchangeThrottled) Error() string {
	return "too many attempts: try again in " + e.RetryAfter.Round(time.Minute).String()
}

func exchangeThrottleKey(tenantID, linkID string) string {
	return "link-exchange:" + tenantID + "/" + linkID
}

// reserveExchange counts one attempt under the link's key before the check,
// or refuses when the link used up its attempts in this window.
func (s *Service) reserveExchange(ctx context.Context, key string) error {
	var wait time.Duration
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		wait = 0
		th, err := tx.LockThrottle(ctx, key)
		if err != nil {
			return err
		}
		now := tx.Now()
		if th.Failures <= 0 || now.Sub(th.LastFailureAt) > exchangeWindow {
			th.Failures = 0
		}
		if th.Failures >= exchangeFree {
			wait = exchangeWindow - now.Sub(th.LastFailureAt)
			return nil
		}
		th.Failures++
		th.LastFailureAt = now
		return tx.SaveThrottle(ctx, th)
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &ExchangeThrottled{RetryAfter: wait}
	}
	return nil
}

// giveBackExchange returns an attempt whose check said nothing of the
// credentials (the server could not be reached).
func (s *Service) giveBackExchange(ctx context.Context, key string) {
	_ = s.st.Write(ctx, func(tx *store.Tx) error {
		th, err := tx.LockThrottle(ctx, key)
		if err != nil || th.Failures == 0 {
			return err
		}
		th.Failures--
		return tx.SaveThrottle(ctx, th)
	})
}

func exchangePasswordPurpose(tenantID, linkID string) string {
	return "link-exchange-password/" + tenantID + "/" + linkID
}

// AuthorizeExchange authorizes a link to Exchange on-premises with its
// person's own Exchange user name and password (accountID: the person
// signed in): they are checked with [CheckExchange] against the system's
// EWS address first, and only when they open the mailbox's calendar is the
// password kept, sealed, with the user name, and the link authorized, in
// one transaction with the audit event. Refusals are CheckExchange's
// errors (ErrExchangeCredentials, ErrExchangeUnreachable, *ExchangeError),
// or *ExchangeThrottled after too many refused ones; nothing is stored
// then. The password is never logged.
func (s *Service) AuthorizeExchange(ctx context.Context, tenant usher.Tenant, linkID, accountID, username, password string) (Page, error) {
	p, err := s.ForPerson(ctx, tenant, linkID, accountID)
	if err != nil {
		return Page{}, err
	}
	x := p.System
	if x.Kind != usher.ExternalExchange {
		return p, usher.Invalid("external_system_id", "%s is connected through its provider, not with a password", x.Name)
	}
	if x.DeactivatedAt != nil {
		return p, usher.Conflict("external_system_id", "%s is switched off in this organization", x.Name)
	}
	username, err = usher.CleanText("username", username, 320)
	if err != nil {
		return p, err
	}
	if username == "" {
		return p, usher.Invalid("username", "is required: your Exchange user name")
	}
	if password == "" || len(password) > 1024 {
		return p, usher.Invalid("password", "is required: your Exchange password")
	}
	// A user name that cannot be the linked login is refused before
	// Exchange is asked: otherwise the form would tell a colleague's right
	// password from a wrong one, and its attempts could lock them out.
	if !loginMatches(username, p.Link.Login) {
		return p, &WrongAccount{System: x.Name, Got: username, Expected: p.Link.Login}
	}
	key := exchangeThrottleKey(tenant.ID, linkID)
	if err := s.reserveExchange(ctx, key); err != nil {
		return p, err
	}
	acct, err := CheckExchange(ctx, s.client, x.EWSURL, username, password)
	if err != nil {
		s.log.Info("linked: Exchange did not accept a link's credentials", "link_id", linkID, "tenant_id", tenant.ID, "err", err.Error())
		var xe *ExchangeError
		if !errors.Is(err, ErrExchangeCredentials) && !errors.As(err, &xe) {
			s.giveBackExchange(ctx, key)
		}
		return p, err
	}
	// The mailbox must be the linked one: by its address when EWS gave
	// it, else by the user name (user@domain, or DOMAIN\user and user
	// against the login's local part).
	if !sameMailbox(acct, username, p.Link.Login) {
		got := acct.PrimarySMTP
		if got == "" {
			got = username
		}
		return p, &WrongAccount{System: x.Name, Got: got, Expected: p.Link.Login}
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Link(ctx, tenant.ID, linkID)
		if err != nil {
			return err
		}
		if cur.AccountID != accountID || !live(cur.State) {
			return usher.NotFound("link_id", "link")
		}
		was := cur.State
		now := tx.Now()
		next := now.Add(exchangeRecheck)
		cur.Password = s.box.Keep(password, exchangePasswordPurpose(tenant.ID, cur.ID))
		cur.State, cur.Subject, cur.Scopes, cur.AuthorizedAt, cur.RefreshedAt = usher.LinkAuthorized, username, nil, &now, &now
		cur.AccessToken, cur.RefreshToken, cur.ExpiresAt, cur.NextAt, cur.LastError, cur.Attempts = "", "", nil, &next, "", 0
		if err := tx.UpdateLink(ctx, tenant.ID, &cur, ""); err != nil {
			return err
		}
		if err := changed(ctx, tx, cur, was); err != nil {
			return err
		}
		p.Link = cur.Link
		if err := tx.ClearThrottle(ctx, key); err != nil {
			return err
		}
		details := map[string]string{"from": was, "subject": username, "credentials": "checked at the EWS address"}
		if acct.PrimarySMTP != "" {
			details["mailbox"] = acct.PrimarySMTP
		}
		return audit(ctx, tx, tenant.ID, usher.Actor{Kind: usher.ActorAccount, ID: accountID}, "link.authorized", "link", cur.ID, details)
	})
	return p, err
}

// recheckExchange signs in to Exchange again with an authorized link's
// kept credentials, for the worker holding its lease: accepted, the next
// check is scheduled; refused, the link asks its person for them again;
// anything else is retried later.
func (s *Service) recheckExchange(ctx context.Context, l store.LinkRecord, x usher.ExternalSystem, owner string) error {
	if x.DeactivatedAt != nil {
		return s.st.Write(ctx, func(tx *store.Tx) error {
			next := tx.Now().Add(exchangeRecheck)
			l.NextAt = &next
			return tx.UpdateLink(ctx, l.TenantID, &l, owner)
		})
	}
	pw, err := s.box.Reveal(l.Password, exchangePasswordPurpose(l.TenantID, l.ID), "link "+l.ID+"'s Exchange password")
	if err != nil {
		return err
	}
	if pw == "" || l.Subject == "" {
		return s.exchangeRefused(ctx, l, "usher holds no Exchange credentials for the link", owner)
	}
	_, err = CheckExchange(ctx, s.client, x.EWSURL, l.Subject, pw)
	switch {
	case err == nil:
		return s.st.Write(ctx, func(tx *store.Tx) error {
			now := tx.Now()
			next := now.Add(exchangeRecheck)
			l.NextAt, l.RefreshedAt, l.Attempts, l.LastError = &next, &now, 0, ""
			return tx.UpdateLink(ctx, l.TenantID, &l, owner)
		})
	case errors.Is(err, ErrExchangeCredentials):
		return s.exchangeRefused(ctx, l, x.Name+" no longer accepts the user name or password", owner)
	default:
		l.Attempts++
		l.LastError = clip(err.Error(), 500)
		s.log.Info("linked: an Exchange check failed, will retry", "link_id", l.ID, "tenant_id", l.TenantID, "attempt", l.Attempts, "err", l.LastError)
		werr := s.st.Write(ctx, func(tx *store.Tx) error {
			next := tx.Now().Add(backoff(l.Attempts))
			l.NextAt = &next
			return tx.UpdateLink(ctx, l.TenantID, &l, owner)
		})
		return errors.Join(&usher.Error{Code: usher.CodeConflict, Field: "link_id", Message: "the Exchange server could not check the credentials now; try again later", Err: err}, werr)
	}
}

func (s *Service) exchangeRefused(ctx context.Context, l store.LinkRecord, reason, owner string) error {
	if err := s.reauthorize(ctx, l, reason, owner); err != nil {
		return err
	}
	return usher.Conflict("state", "the link needs its person to enter their credentials again: %s", reason)
}

// errExchangeToken is Token's refusal of an Exchange link.
func errExchangeToken(name string) error {
	return usher.Conflict("link_id", "the link is to Exchange on-premises (%s): it holds the person's Exchange credentials, not OAuth tokens, so there is no access token to hand out", name)
}

// sameMailbox reports whether the Exchange account checked is the link's.
func sameMailbox(acct ExchangeAccount, username, login string) bool {
	if acct.PrimarySMTP != "" {
		return strings.EqualFold(acct.PrimarySMTP, strings.TrimSpace(login))
	}
	return loginMatches(username, login)
}

// loginMatches: the user name names the link's login — the address itself,
// or DOMAIN\user and user as its local part.
func loginMatches(username, login string) bool {
	login = strings.TrimSpace(login)
	if strings.Contains(username, "@") {
		return strings.EqualFold(username, login)
	}
	if i := strings.LastIndexByte(username, '\\'); i >= 0 {
		username = username[i+1:]
	}
	local, _, _ := strings.Cut(login, "@")
	return strings.EqualFold(username, local)
}
