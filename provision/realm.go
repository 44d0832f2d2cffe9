package provision

import (
	"context"
	"errors"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// Realm is where a sign-in belongs: a corporate SSO connection of the
// tenant, or usher's own password.
type Realm struct {
	// Connection is the connection the email's domain belongs to, the
	// account's own connection, or (Only) the tenant's one connection.
	Connection *usher.Connection
	// Owned: the connection owns the email's domain or is the account's.
	// An unknown email is sent to SSO only then; the tenant's only
	// connection does not take over every address.
	Owned bool
	// Several: the tenant has more than one connection and none owns the
	// email's domain, so a new employee's connection must be chosen.
	Several bool
}

// Owner is the connection that owns the sign-in, or nil.
func (r Realm) Owner() *usher.Connection {
	if r.Owned {
		return r.Connection
	}
	return nil
}

// ForEmployee is the connection a new internal user signs in with: the one
// owning their email's domain, or the tenant's only connection; nil when
// the tenant has none.
func (r Realm) ForEmployee() (*usher.Connection, error) {
	if r.Several {
		return nil, usher.Invalid("connection_id", "the tenant has several SSO connections and none owns this email's domain: choose one")
	}
	return r.Connection, nil
}

// HomeRealm is usher's one home-realm discovery: which connection an email
// (or, when a is given, an account) signs in with. Every place that asks —
// the identifier step of sign-in, registration, the rules for new accounts,
// the console's wizard — asks here.
func (s *Service) HomeRealm(ctx context.Context, tenant usher.Tenant, email string, a *usher.Account) (Realm, error) {
	return s.homeRealm(ctx, s.st.Read(), tenant, email, a)
}

func (s *Service) homeRealm(ctx context.Context, r *store.Tx, tenant usher.Tenant, email string, a *usher.Account) (Realm, error) {
	if a != nil && a.AuthSystem == usher.AuthConnection {
		c, err := r.Connection(ctx, tenant.ID, a.ConnectionID)
		if errors.Is(err, usher.ErrNotFound) {
			return Realm{}, nil
		} else if err != nil {
			return Realm{}, err
		}
		return Realm{Connection: &c, Owned: true}, nil
	}
	if a != nil {
		return Realm{}, nil
	}
	// The tenants without an active connection are remembered a moment, so
	// that a new account there costs no query for the SSO rule.
	gen := s.noSSO.Gen()
	if _, none := s.noSSO.Get(tenant.ID, "", s.now()); none {
		return Realm{}, nil
	}
	domain := ""
	if usher.IsEmail(email) {
		domain = usher.EmailDomain(email)
	}
	conns, owned, err := r.ConnectionCandidates(ctx, tenant.ID, domain)
	if err != nil {
		return Realm{}, err
	}
	switch {
	case len(conns) == 0:
		s.noSSO.Put(tenant.ID, "", true, gen, s.now())
		return Realm{}, nil
	case owned && domain != "":
		return Realm{Connection: &conns[0], Owned: true}, nil
	case len(conns) == 1:
		return Realm{Connection: &conns[0]}, nil
	}
	return Realm{Several: true}, nil
}

// Enforced is the enforced connection owning email's domain, or nil: an
// account with such an email never uses a password (sign-in, activation,
// reset), whatever its authentication system says; it is handed over.
func (s *Service) Enforced(ctx context.Context, tenant usher.Tenant, email string) (*usher.Connection, error) {
	return s.enforced(ctx, s.st.Read(), tenant, email)
}

func (s *Service) enforced(ctx context.Context, r *store.Tx, tenant usher.Tenant, email string) (*usher.Connection, error) {
	if !usher.IsEmail(email) {
		return nil, nil
	}
	realm, err := s.homeRealm(ctx, r, tenant, email, nil)
	if err != nil {
		return nil, err
	}
	if c := realm.Owner(); c != nil && c.Enforced {
		return c, nil
	}
	return nil, nil
}

// ErrPasswordEnforced refuses a password where the email's domain signs in
// through an enforced connection.
func errPasswordEnforced(c *usher.Connection) error {
	return usher.Invalid("password", "addresses of this domain sign in with %s, your organization's single sign-on, never with a password", c.Name)
}
