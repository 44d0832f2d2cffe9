// Package provision is the one path by which people get access. Every way in
// (the admin API, the console, import, SCIM, self-registration, SSO) calls it:
// it applies the tenant's defaults, validates against the tenant's required
// fields, claims a seat, creates the activation, and writes the audit event
// and the messages in the same transaction as the change.
package provision

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// Actor is who makes a change: written into the audit event and checked
// against what the change requires.
type Actor struct {
	Kind   string // "operator", "token", "account", "system"
	ID     string
	Role   string // usher.PrincipalOperator, usher.AdminTenant, usher.AdminUser, or "" for system actors
	Source string // client address
}

// System is the actor for changes usher makes under a tenant's rules (self
// registration, just-in-time creation), not on someone's authority.
var System = Actor{Kind: "system"}

func (a Actor) rank() int {
	switch a.Role {
	case usher.PrincipalOperator:
		return 3
	case usher.AdminTenant:
		return 2
	case usher.AdminUser:
		return 1
	}
	if a.Kind == "system" {
		return 1
	}
	return 0
}

// require fails unless the actor has at least the given role.
func (a Actor) require(role string) error {
	need := Actor{Role: role}.rank()
	if a.rank() >= need {
		return nil
	}
	names := map[string]string{usher.PrincipalOperator: "an operator", usher.AdminTenant: "a tenant administrator", usher.AdminUser: "a user administrator"}
	return usher.Forbidden("this needs %s", names[role])
}

// Links builds the addresses people are sent to.
type Links interface {
	// Activation is the page where an activation secret is used.
	Activation(t usher.Tenant, secret string) string
	// SignIn is the tenant's sign-in page.
	SignIn(t usher.Tenant) string
}

// Service provisions. It holds no state beyond its dependencies.
type Service struct {
	st     *store.Store
	now    func() time.Time
	links  Links
	notify func()
	noSSO  *noSSOCache
	// checkPassword verifies the passwords typed at activation; see CheckPasswordsWith.
	checkPassword PasswordCheck
}

// NotifyQueued sets a function called after a change that queued messages
// commits, so a delivery worker can start at once instead of at its next poll.
func (s *Service) NotifyQueued(f func()) { s.notify = f }

// queued reports committed messages to the notify function.
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
	return &Service{st: st, now: now, links: links, noSSO: &noSSOCache{until: map[string]time.Time{}}}
}

func audit(ctx context.Context, tx *store.Tx, tenant string, a Actor, action, kind, id string, details map[string]string) error {
	return tx.InsertAudit(ctx, tenant, &usher.AuditEvent{ActorKind: a.Kind, ActorID: a.ID, Action: action,
		TargetKind: kind, TargetID: id, Source: a.Source, Details: details})
}

// NewSecret returns a 256-bit random secret, URL-safe, and its hash, which
// is all that is stored.
func NewSecret() (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret hashes a high-entropy secret for storage and lookup. A fast
// hash is right here: the secret is random, not a password.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// noSSOTTL bounds how long a connection added through another replica takes
// to apply here, as for the server's tenant cache.
const noSSOTTL = 2 * time.Second

// noSSOCache remembers for a moment the tenants without an active SSO
// connection, so that a new account there costs no query for the SSO rule.
// A change of connections through this replica forgets its tenant at once.
type noSSOCache struct {
	mu    sync.Mutex
	gen   uint64 // changes at every forget, so an answer read before it is not kept
	until map[string]time.Time
}

func (c *noSSOCache) has(tenant string, now time.Time) (none bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return now.Before(c.until[tenant]), c.gen
}

func (c *noSSOCache) put(tenant string, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.until) >= 10_000 {
		c.until = map[string]time.Time{} // bounded: start over
	}
	c.until[tenant] = now.Add(noSSOTTL)
}

func (c *noSSOCache) forget(tenant string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.until, tenant)
}
