// Package provision is the one path by which people get access. Every way in
// (the admin API, the console, import, SCIM, self-registration, SSO) calls it:
// it applies the tenant's defaults, validates against the tenant's required
// fields, claims a seat, creates the activation, and writes the audit event
// and the messages in the same transaction as the change.
package provision

import (
	"context"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/ttlcache"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Links builds the addresses people are sent to.
type Links interface {
	// Activation is the page where an activation secret is used.
	Activation(t usher.Tenant, secret string) string
	// SignIn is the tenant's sign-in page.
	SignIn(t usher.Tenant) string
}

// Service provisions. Beyond its dependencies it holds only two caches of
// a moment (internal/ttlcache).
type Service struct {
	st     *store.Store
	now    func() time.Time
	links  Links
	notify func()
	// noSSO remembers the tenants without an active SSO connection.
	noSSO *ttlcache.Cache[string, bool]
	// refs remembers the catalogue entries and plans found active.
	refs *ttlcache.Cache[string, bool]
	// checkPassword verifies the passwords typed at activation; see CheckPasswordsWith.
	checkPassword PasswordCheck
	// delivers reports the channels that really deliver; see HideSecretsSentBy.
	delivers func(channel string) bool
	// checkConnection checks connections' protocol settings; see CheckConnectionsWith.
	checkConnection ConnectionCheck
	// box seals the secrets kept in the database; see SealWith.
	box *secret.Box
	// ended runs in the transaction that suspends or deactivates an
	// account; see OnAccountEnded.
	ended []func(ctx context.Context, tx *store.Tx, tenant usher.Tenant, a usher.Account) error
	// connEnded runs in the transaction that deactivates a connection,
	// before its sessions end; see OnConnectionDeactivated.
	connEnded []func(ctx context.Context, tx *store.Tx, tenant usher.Tenant, c usher.Connection) error
}

// SealWith sets the box that seals the secrets provision keeps (an identity
// provider's client secret). Without one (tests), they are kept as given.
func (s *Service) SealWith(b *secret.Box) { s.box = b }

// NotifyQueued sets a function called after a change that queued messages
// commits, so a delivery worker can start at once instead of at its next poll.
func (s *Service) NotifyQueued(f func()) { s.notify = f }

// queued reports committed messages to the notify function.
// Queued tells delivery that a transaction of another package (linked)
// committed n messages queued with Outbox.Queue.
func (s *Service) Queued(n int) { s.queued(nil, n) }

func (s *Service) queued(err error, n int) {
	if err == nil && n > 0 && s.notify != nil {
		s.notify()
	}
}

// New returns a Service on st. now is the clock.
func New(st *store.Store, now func() time.Time, links Links) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, now: now, links: links, noSSO: ttlcache.New[string, bool](noSSOTTL),
		refs: ttlcache.New[string, bool](refTTL)}
}

// audit writes the event of a change in the change's transaction.
func audit(ctx context.Context, tx *store.Tx, tenantID string, a usher.Actor, action, kind, id string, details map[string]string) error {
	return tx.InsertAudit(ctx, tenantID, a.Event(action, kind, id, details))
}

// noSSOTTL bounds how long a connection added through another replica takes
// to apply here, as for the server's tenant cache.
const noSSOTTL = 2 * time.Second
