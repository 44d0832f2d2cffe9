package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/usherhq/usher"
)

const sessionCols = `id, identity_id, tenant_id, method, connection_id, created_at, last_seen_at, source, user_agent`

func scanSession(r scanner) (usher.Session, error) {
	var s usher.Session
	err := r.Scan(&s.ID, &s.IdentityID, &s.TenantID, &s.Method, &s.ConnectionID, &s.CreatedAt, &s.LastSeenAt, &s.Source, &s.UserAgent)
	s.CreatedAt, s.LastSeenAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC()
	return s, err
}

// InsertSession stores a new session under the hash of its secret.
func (t *Tx) InsertSession(ctx context.Context, s *usher.Session, secretHash string) error {
	if s.ID == "" {
		s.ID = NewID()
	}
	s.CreatedAt, s.LastSeenAt = t.now, t.now
	_, err := t.ExecContext(ctx, `INSERT INTO sessions (id, secret_hash, identity_id, tenant_id, method, connection_id, created_at, last_seen_at, source, user_agent)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$7,$8,$9)`, s.ID, secretHash, s.IdentityID, s.TenantID, s.Method, s.ConnectionID, t.now, s.Source, s.UserAgent)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionByHash returns the session whose secret has hash.
func (t *Tx) SessionByHash(ctx context.Context, hash string) (usher.Session, error) {
	s, err := scanSession(t.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE secret_hash = $1`, hash))
	if notFound(err) {
		return s, usher.NotFound("session", "session")
	}
	return s, err
}

// TouchSession records that a session was used now.
func (t *Tx) TouchSession(ctx context.Context, id string) error {
	_, err := t.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, id, t.now)
	return err
}

// Sessions lists an identity's sessions, newest first.
func (t *Tx) Sessions(ctx context.Context, identity string) ([]usher.Session, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE identity_id = $1 ORDER BY created_at DESC, id DESC LIMIT 200`, identity)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []usher.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteSession ends one session of an identity; another identity's
// session is not found.
func (t *Tx) DeleteSession(ctx context.Context, identity, id string) error {
	res, err := t.ExecContext(ctx, `DELETE FROM sessions WHERE identity_id = $1 AND id = $2`, identity, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("session", "session")
	}
	return nil
}

// DeleteSessions ends an identity's sessions but keep (which may be ""),
// and reports how many ended.
func (t *Tx) DeleteSessions(ctx context.Context, identity, keep string) (int, error) {
	res, err := t.ExecContext(ctx, `DELETE FROM sessions WHERE identity_id = $1 AND id <> $2`, identity, keep)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// EndConnectionSessions ends every session that signed in through a
// connection (it was deactivated: its identity provider is no longer trusted).
func (t *Tx) EndConnectionSessions(ctx context.Context, connection string) error {
	_, err := t.ExecContext(ctx, `DELETE FROM sessions WHERE connection_id = $1`, connection)
	return err
}

// EndTenantSessions ends the sessions an identity signed in with at
// tenant: suspending or deactivating its account there ends them at once.
func (t *Tx) EndTenantSessions(ctx context.Context, tenant, identity string) error {
	_, err := t.ExecContext(ctx, `DELETE FROM sessions WHERE identity_id = $1 AND tenant_id = $2`, identity, tenant)
	return err
}

// DeleteStaleSessions removes sessions of identity last used before idle
// or created before oldest: expired in every tenant, whatever its timeouts.
func (t *Tx) DeleteStaleSessions(ctx context.Context, identity string, idle, oldest time.Time) error {
	_, err := t.ExecContext(ctx, `DELETE FROM sessions WHERE identity_id = $1 AND (last_seen_at < $2 OR created_at < $3)`, identity, idle, oldest)
	return err
}

// AccountByIdentity returns the account identity stands behind in tenant.
func (t *Tx) AccountByIdentity(ctx context.Context, tenant, identity string) (usher.Account, error) {
	a, err := t.scanAccount(t.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE identity_id = $1 AND identity_id <> '' AND tenant_id = $2`, identity, tenant))
	if notFound(err) {
		return a, usher.NotFound("account", "account")
	}
	return a, err
}

// IdentityTenant is one tenant where an identity has an account, for the
// person's own page.
type IdentityTenant struct {
	TenantID, Slug, Name string
	AccountState         string
	AuthSystem           string
}

// TenantsOfIdentity lists the active tenants where identity has an account.
func (t *Tx) TenantsOfIdentity(ctx context.Context, identity string) ([]IdentityTenant, error) {
	rows, err := t.QueryContext(ctx, `SELECT tn.id, tn.slug, tn.name, a.state, a.auth_system FROM accounts a JOIN tenants tn ON tn.id = a.tenant_id
		WHERE a.identity_id = $1 AND a.identity_id <> '' AND tn.deactivated_at IS NULL ORDER BY tn.name, tn.id LIMIT 500`, identity)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IdentityTenant
	for rows.Next() {
		var it IdentityTenant
		if err := rows.Scan(&it.TenantID, &it.Slug, &it.Name, &it.AccountState, &it.AuthSystem); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Throttle counts failed attempts under one key.
type Throttle struct {
	Key           string
	Failures      int
	LastFailureAt time.Time
	LockedUntil   *time.Time
}

// LockThrottle returns the counter of key, creating it, and holds it until
// the transaction ends, so concurrent attempts on one key are counted one
// after the other.
func (t *Tx) LockThrottle(ctx context.Context, key string) (Throttle, error) {
	th := Throttle{Key: key}
	// A success elsewhere may delete the counter between the two statements:
	// then it is created again.
	for attempt := 0; ; attempt++ {
		if _, err := t.ExecContext(ctx, `INSERT INTO throttles (key, failures, last_failure_at) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING`, key, t.now); err != nil {
			return th, fmt.Errorf("create throttle: %w", err)
		}
		var locked sql.NullTime
		err := t.QueryRowContext(ctx, `SELECT failures, last_failure_at, locked_until FROM throttles WHERE key = $1`+t.forUpdate(), key).
			Scan(&th.Failures, &th.LastFailureAt, &locked)
		if notFound(err) && attempt < 3 {
			continue
		}
		th.LastFailureAt, th.LockedUntil = th.LastFailureAt.UTC(), ptrTime(locked)
		return th, err
	}
}

// Throttle reads the counter of key without holding it; an absent one is zero.
func (t *Tx) Throttle(ctx context.Context, key string) (Throttle, error) {
	th := Throttle{Key: key}
	var locked sql.NullTime
	err := t.QueryRowContext(ctx, `SELECT failures, last_failure_at, locked_until FROM throttles WHERE key = $1`, key).
		Scan(&th.Failures, &th.LastFailureAt, &locked)
	if notFound(err) {
		return th, nil
	}
	th.LastFailureAt, th.LockedUntil = th.LastFailureAt.UTC(), ptrTime(locked)
	return th, err
}

// SaveThrottle writes a counter read with LockThrottle.
func (t *Tx) SaveThrottle(ctx context.Context, th Throttle) error {
	_, err := t.ExecContext(ctx, `UPDATE throttles SET failures = $2, last_failure_at = $3, locked_until = $4 WHERE key = $1`,
		th.Key, th.Failures, th.LastFailureAt, nullTime(th.LockedUntil))
	return err
}

// ClearThrottle forgets the failures counted under key.
func (t *Tx) ClearThrottle(ctx context.Context, key string) error {
	_, err := t.ExecContext(ctx, `DELETE FROM throttles WHERE key = $1`, key)
	return err
}

// KnownDevice reports whether the device with hash signed in to account before.
func (t *Tx) KnownDevice(ctx context.Context, account, hash string) (bool, error) {
	var n int
	err := t.QueryRowContext(ctx, `SELECT count(*) FROM known_devices WHERE account_id = $1 AND device_hash = $2`, account, hash).Scan(&n)
	return n > 0, err
}

// AddKnownDevice remembers that the device with hash signed in to account.
func (t *Tx) AddKnownDevice(ctx context.Context, account, hash string) error {
	_, err := t.ExecContext(ctx, `INSERT INTO known_devices (account_id, device_hash, created_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`, account, hash, t.now)
	return err
}
