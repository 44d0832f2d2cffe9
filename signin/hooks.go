package signin

import (
	"context"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// OnSignOutEverywhere adds f to what runs, in the same transaction, when an
// identity is signed out everywhere but session keep (the account page's
// "sign out everywhere else", a password change): the OpenID Connect
// provider revokes the grants made through the other sessions.
func (s *Service) OnSignOutEverywhere(f func(ctx context.Context, tx *store.Tx, identity, keep string) error) {
	s.everywhere = append(s.everywhere, f)
}

func (s *Service) signedOutEverywhere(ctx context.Context, tx *store.Tx, identity, keep string) error {
	for _, f := range s.everywhere {
		if err := f(ctx, tx, identity, keep); err != nil {
			return err
		}
	}
	return nil
}

// OnSignOut adds f to what runs, in the same transaction, when a browser's
// session ends by signing out (usher's own sign-out, a product's logout
// request, a new sign-in replacing the cookie): the OpenID Connect provider
// revokes the grants made through it and tells its products.
func (s *Service) OnSignOut(f func(ctx context.Context, tx *store.Tx, session usher.Session) error) {
	s.signOut = append(s.signOut, f)
}

func (s *Service) signedOut(ctx context.Context, tx *store.Tx, session usher.Session) error {
	for _, f := range s.signOut {
		if err := f(ctx, tx, session); err != nil {
			return err
		}
	}
	return nil
}
