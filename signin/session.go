package signin

import (
	"context"
	"errors"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/password"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// ErrNoSession: no session, or one that has ended (signed out, expired, or
// its account suspended); the person signs in again.
var ErrNoSession = &usher.Error{Code: usher.CodeUnauthorized, Field: "session", Message: "you are not signed in"}

// touchEvery bounds the writes a busy session causes: its last use is
// recorded at most once a minute.
const touchEvery = time.Minute

// Current is a session valid in one tenant, with the account it stands
// for there.
type Current struct {
	Session usher.Session
	Account usher.Account
}

// Session returns the session whose cookie holds secret, as valid in
// tenant: within the timeouts of the tenant it signed in to and of tenant,
// with an active account of the identity in tenant that signs in the way
// the session did. A session of another tenant thus serves this one
// without a new sign-in where the rules allow; an SSO-only account answers
// ErrNeedsSSO.
func (s *Service) Session(ctx context.Context, tenant usher.Tenant, home func(id string) (usher.Tenant, error), cookie string) (Current, error) {
	if cookie == "" || len(cookie) > 100 {
		return Current{}, ErrNoSession
	}
	r := s.st.Read()
	ses, err := r.SessionByHash(ctx, secret.Hash(cookie))
	if errors.Is(err, usher.ErrNotFound) {
		return Current{}, ErrNoSession
	} else if err != nil {
		return Current{}, err
	}
	now := s.now()
	origin := tenant
	if ses.TenantID != tenant.ID {
		if origin, err = home(ses.TenantID); err != nil {
			if errors.Is(err, usher.ErrNotFound) {
				return Current{}, ErrNoSession
			}
			return Current{}, err
		}
	}
	if expired(ses, origin, now) || origin.DeactivatedAt != nil {
		_ = s.st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, ses.IdentityID, ses.ID) })
		return Current{}, ErrNoSession
	}
	if expired(ses, tenant, now) {
		return Current{}, ErrNoSession
	}
	a, err := r.AccountByIdentity(ctx, tenant.ID, ses.IdentityID)
	if errors.Is(err, usher.ErrNotFound) {
		return Current{}, ErrNoSession
	} else if err != nil {
		return Current{}, err
	}
	if a.State != usher.StateActive {
		return Current{}, ErrNoSession
	}
	if a.AuthSystem != ses.Method || (ses.Method == usher.AuthConnection && a.ConnectionID != ses.ConnectionID) {
		return Current{}, ErrNeedsSSO
	}
	if ses.Method == usher.AuthPassword {
		// A password session, from here or another tenant, never serves an
		// email of an enforced connection's domains.
		c, err := s.enforced(ctx, tenant, a.Email)
		if err != nil {
			return Current{}, err
		}
		if c != nil {
			return Current{}, ErrNeedsSSO
		}
	}
	if now.Sub(ses.LastSeenAt) > touchEvery {
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, ses.ID) }); err != nil {
			return Current{}, err
		}
		ses.LastSeenAt = now
	}
	return Current{Session: ses, Account: a}, nil
}

// SignedIn returns the identity of the session whose cookie holds the
// secret, within the timeouts of the tenant it signed in to, whatever tenant
// asks; "" when there is none. An activation link joins an account to an
// existing identity only for that identity signed in (provision.ActivateWithLink).
func (s *Service) SignedIn(ctx context.Context, home func(id string) (usher.Tenant, error), cookie string) (string, error) {
	if cookie == "" || len(cookie) > 100 {
		return "", nil
	}
	ses, err := s.st.Read().SessionByHash(ctx, secret.Hash(cookie))
	if errors.Is(err, usher.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	origin, err := home(ses.TenantID)
	if errors.Is(err, usher.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if expired(ses, origin, s.now()) || origin.DeactivatedAt != nil {
		return "", nil
	}
	return ses.IdentityID, nil
}

func expired(ses usher.Session, t usher.Tenant, now time.Time) bool {
	return now.Sub(ses.LastSeenAt) > t.Settings.SessionIdle() || now.Sub(ses.CreatedAt) > t.Settings.SessionMax()
}

// SignOut ends the session whose cookie holds the secret; an unknown one is fine.
func (s *Service) SignOut(ctx context.Context, cookie string) error {
	ses, err := s.st.Read().SessionByHash(ctx, secret.Hash(cookie))
	if err != nil {
		if errors.Is(err, usher.ErrNotFound) {
			return nil
		}
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteSession(ctx, ses.IdentityID, ses.ID); errors.Is(err, usher.ErrNotFound) {
			return nil // ended meanwhile, and told then
		} else if err != nil {
			return err
		}
		return s.signedOut(ctx, tx, ses)
	})
}

// Sessions lists the identity's sessions, for the person's own page.
func (s *Service) Sessions(ctx context.Context, cur Current) ([]usher.Session, error) {
	return s.st.Read().Sessions(ctx, cur.Session.IdentityID)
}

// Tenants lists the tenants where the identity has an account.
func (s *Service) Tenants(ctx context.Context, cur Current) ([]store.IdentityTenant, error) {
	return s.st.Read().TenantsOfIdentity(ctx, cur.Session.IdentityID)
}

// EndOthers ends every session of the identity but the current one.
func (s *Service) EndOthers(ctx context.Context, tenant usher.Tenant, cur Current, source string) (int, error) {
	n := 0
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if n, err = tx.DeleteSessions(ctx, cur.Session.IdentityID, cur.Session.ID); err != nil {
			return err
		}
		if err := s.signedOutEverywhere(ctx, tx, cur.Session.IdentityID, cur.Session.ID); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, usher.Actor{Kind: usher.ActorAccount, ID: cur.Account.ID, Source: source}.Event("account.sessions_ended", "account", cur.Account.ID, nil))
	})
	return n, err
}

// ChangePassword replaces the identity's password after checking the old
// one (counted like a sign-in), and ends the identity's other sessions.
func (s *Service) ChangePassword(ctx context.Context, tenant usher.Tenant, cur Current, old, next, source string) error {
	a := cur.Account
	h, err := s.st.Read().IdentityPassword(ctx, a.IdentityID)
	if err != nil {
		return err
	}
	_, err = s.CheckPassword(ctx, Guess{TenantID: tenant.ID, Account: &a, Source: source, Password: old, Hashes: []string{h}})
	if errors.Is(err, ErrCredentials) {
		return usher.Invalid("old_password", "is not your current password")
	} else if err != nil {
		return err
	}
	if err := password.Check("password", next, a.Email, a.Username); err != nil {
		return err
	}
	if next == old {
		return usher.Invalid("password", "must differ from your current password")
	}
	hash, err := password.Hash(ctx, next)
	if err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SetIdentityPassword(ctx, a.IdentityID, hash); err != nil {
			return err
		}
		if _, err := tx.DeleteSessions(ctx, a.IdentityID, cur.Session.ID); err != nil {
			return err
		}
		if err := s.signedOutEverywhere(ctx, tx, a.IdentityID, cur.Session.ID); err != nil {
			return err
		}
		if err := tx.ClearThrottle(ctx, "account:"+a.ID); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, usher.Actor{Kind: usher.ActorAccount, ID: a.ID, Source: source}.Event("account.password_changed", "account", a.ID, nil))
	})
}
