package provision

import (
	"context"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// OnAccountEnded adds f to what runs, in the same transaction, when an
// account is suspended or deactivated: the OpenID Connect provider revokes
// what the account's products were given, so a later reactivation does
// not bring old refresh tokens back.
func (s *Service) OnAccountEnded(f func(ctx context.Context, tx *store.Tx, tenant usher.Tenant, a usher.Account) error) {
	s.ended = append(s.ended, f)
}

func (s *Service) accountEnded(ctx context.Context, tx *store.Tx, tenant usher.Tenant, a usher.Account) error {
	for _, f := range s.ended {
		if err := f(ctx, tx, tenant, a); err != nil {
			return err
		}
	}
	return nil
}

// OnConnectionDeactivated adds f to what runs, in the same transaction,
// when an SSO connection is deactivated, just before the sessions signed in
// through it end (f can still find them): the OpenID Connect provider
// revokes what those sessions gave the products and tells them.
func (s *Service) OnConnectionDeactivated(f func(ctx context.Context, tx *store.Tx, tenant usher.Tenant, c usher.Connection) error) {
	s.connEnded = append(s.connEnded, f)
}

func (s *Service) connectionDeactivated(ctx context.Context, tx *store.Tx, tenant usher.Tenant, c usher.Connection) error {
	for _, f := range s.connEnded {
		if err := f(ctx, tx, tenant, c); err != nil {
			return err
		}
	}
	return nil
}
