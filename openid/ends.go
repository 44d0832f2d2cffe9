package openid

import (
	"context"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// What ends with a session, an account or a connection: what was given
// through it, and its codes; its logout tokens are queued in the same
// transaction, for package backchannel to deliver.

// hooks makes the ends of sessions and accounts, in the transactions that
// end them, revoke what was given through them, void the codes they signed
// in for and not yet exchanged, and queue their logout tokens.
func (p *Provider) hooks(d Deps) {
	if d.Provision != nil {
		d.Provision.OnAccountEnded(func(ctx context.Context, tx *store.Tx, tn usher.Tenant, a usher.Account) error {
			return endGrants(ctx, tx, store.LogoutAccount, tn.ID, a.ID, "account "+a.State)
		})
		d.Provision.OnConnectionDeactivated(func(ctx context.Context, tx *store.Tx, tn usher.Tenant, c usher.Connection) error {
			return endGrants(ctx, tx, store.LogoutConnection, c.ID, tn.ID, "connection deactivated")
		})
	}
	if d.Signin != nil {
		d.Signin.OnSignOutEverywhere(func(ctx context.Context, tx *store.Tx, identity, keep string) error {
			return endGrants(ctx, tx, store.LogoutIdentity, identity, keep, "signed out everywhere")
		})
		d.Signin.OnSignOut(func(ctx context.Context, tx *store.Tx, s usher.Session) error {
			return endGrants(ctx, tx, store.LogoutSession, s.IdentityID, s.ID, "signed out")
		})
	}
}

// endGrants queues the logout tokens of scope's grants, revokes them and
// voids scope's unused codes (a code must not outlive its session).
func endGrants(ctx context.Context, tx *store.Tx, scope store.LogoutScope, a, b, reason string) error {
	if _, err := tx.QueueLogouts(ctx, scope, a, b, reason); err != nil {
		return err
	}
	if _, err := tx.VoidCodes(ctx, scope, a, b); err != nil {
		return err
	}
	var err error
	switch scope {
	case store.LogoutAccount:
		_, err = tx.RevokeAccountGrants(ctx, a, b, reason)
	case store.LogoutIdentity:
		_, err = tx.RevokeIdentityGrants(ctx, a, b, reason)
	case store.LogoutSession:
		_, err = tx.RevokeSessionGrants(ctx, a, b, reason)
	case store.LogoutConnection:
		_, err = tx.RevokeConnectionGrants(ctx, a, b, reason)
	}
	return err
}
