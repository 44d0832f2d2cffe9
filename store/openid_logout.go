package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/usherhq/usher"
)

// Logout at the products (package openid owns these rows): the outbox of
// back-channel logout tokens and what front-channel logout frames.

// LogoutScope says whose grants a session's end concerns.
type LogoutScope int

const (
	// LogoutSession: the grants made through one session of an identity
	// (a sign-out), in every tenant.
	LogoutSession LogoutScope = iota
	// LogoutIdentity: an identity's grants made through any session but
	// one (sign out everywhere else, a password change).
	LogoutIdentity
	// LogoutAccount: an account's grants in its tenant (suspended or
	// deactivated).
	LogoutAccount
	// LogoutConnection: the grants made through the sessions that signed
	// in through an SSO connection ($2) at its tenant ($3), found while
	// those sessions still exist (the connection is being deactivated).
	LogoutConnection
)

// logoutWhere is the grants (g) of a scope, or the authorization requests
// (g) signed in for it; a and b are its arguments ($2, $3).
func logoutWhere(scope LogoutScope) (string, error) {
	switch scope {
	case LogoutSession:
		return `g.identity_id = $2 AND g.session_id = $3 AND g.session_id <> ''`, nil
	case LogoutIdentity:
		return `g.identity_id = $2 AND g.identity_id <> '' AND g.session_id <> $3`, nil
	case LogoutAccount:
		return `g.tenant_id = $2 AND g.account_id = $3`, nil
	case LogoutConnection:
		return `(g.identity_id, g.session_id) IN (SELECT s.identity_id, s.id FROM sessions s WHERE s.connection_id = $2 AND s.tenant_id = $3)
			AND g.session_id <> ''`, nil
	}
	return "", fmt.Errorf("unknown logout scope %d", scope)
}

// QueueLogouts writes, in the transaction that ends a session or an
// account, one logout event per client (with a back-channel logout URI),
// account and session among the live grants of scope not told before, due
// now, and marks every such grant told. It reports how many events it wrote.
func (t *Tx) QueueLogouts(ctx context.Context, scope LogoutScope, a, b, reason string) (int, error) {
	where, err := logoutWhere(scope)
	if err != nil {
		return 0, err
	}
	rows, err := t.QueryContext(ctx, `SELECT DISTINCT g.tenant_id, g.client_id, g.account_id, g.session_id FROM openid_grants g
		JOIN openid_clients c ON c.id = g.client_id AND c.tenant_id = g.tenant_id
		WHERE `+where+` AND g.logged_out_at IS NULL AND g.expires_at > $1 AND c.backchannel_logout_uri <> '' AND c.deleted_at IS NULL
		ORDER BY g.tenant_id, g.client_id, g.account_id, g.session_id`, t.now, a, b)
	if err != nil {
		return 0, fmt.Errorf("find grants to log out: %w", err)
	}
	type due struct{ tenant, client, account, session string }
	var all []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.tenant, &d.client, &d.account, &d.session); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, d := range all {
		if _, err := t.ExecContext(ctx, `INSERT INTO openid_logout_events (id, tenant_id, client_id, account_id, session_id, reason, created_at, next_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$7)`, NewID(), d.tenant, d.client, d.account, d.session, reason, t.now); err != nil {
			return 0, fmt.Errorf("insert logout event: %w", err)
		}
	}
	if _, err := t.ExecContext(ctx, `UPDATE openid_grants SET logged_out_at = $1 WHERE id IN (SELECT g.id FROM openid_grants g WHERE `+where+`
		AND g.logged_out_at IS NULL)`, t.now, a, b); err != nil {
		return 0, fmt.Errorf("mark grants logged out: %w", err)
	}
	return len(all), nil
}

// VoidCodes ends, in the transaction that ends a session or an account,
// the signed-in authorization requests of scope (as QueueLogouts', over
// the requests) whose code is not used: such a code would otherwise give
// a grant, with a refresh token, for a session that no longer exists.
// Clearing the hash makes UseCode refuse a code an exchange read already;
// expiring the request keeps it from being given a new code.
func (t *Tx) VoidCodes(ctx context.Context, scope LogoutScope, a, b string) (int, error) {
	where, err := logoutWhere(scope)
	if err != nil {
		return 0, err
	}
	res, err := t.ExecContext(ctx, `UPDATE openid_auth_requests SET code_hash = '', expires_at = $1 WHERE id IN (SELECT g.id
		FROM openid_auth_requests g WHERE `+where+` AND g.account_id <> '' AND g.code_used_at IS NULL AND g.expires_at > $1)`, t.now, a, b)
	if err != nil {
		return 0, fmt.Errorf("void the codes of ended sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// FrontChannelLogout is a client to frame at a session's sign-out.
type FrontChannelLogout struct {
	TenantID        string
	ClientID        string
	URI             string
	SessionRequired bool
}

// FrontChannelLogouts lists tenant's clients with a front-channel logout URI
// that were given tokens through session of identity (and not told of its
// end yet).
func (t *Tx) FrontChannelLogouts(ctx context.Context, tenant, identity, session string) ([]FrontChannelLogout, error) {
	rows, err := t.QueryContext(ctx, `SELECT DISTINCT c.tenant_id, c.id, c.frontchannel_logout_uri, c.frontchannel_logout_session_required
		FROM openid_grants g JOIN openid_clients c ON c.id = g.client_id AND c.tenant_id = g.tenant_id
		WHERE g.tenant_id = $1 AND g.identity_id = $2 AND g.session_id = $3 AND g.session_id <> '' AND g.expires_at > $4
			AND c.frontchannel_logout_uri <> '' AND c.deleted_at IS NULL ORDER BY c.id LIMIT 50`, tenant, identity, session, t.now)
	if err != nil {
		return nil, fmt.Errorf("find front-channel logouts: %w", err)
	}
	defer rows.Close()
	var out []FrontChannelLogout
	for rows.Next() {
		var f FrontChannelLogout
		if err := rows.Scan(&f.TenantID, &f.ClientID, &f.URI, &f.SessionRequired); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// LogoutEvent is a logout token waiting for (or past) its delivery to a
// client's back-channel logout URI.
type LogoutEvent struct {
	ID          string // the logout token's jti
	TenantID    string
	ClientID    string
	AccountID   string
	SessionID   string
	Reason      string
	CreatedAt   time.Time
	Attempts    int
	NextAt      time.Time
	LeaseOwner  string
	LeaseUntil  *time.Time
	DeliveredAt *time.Time
	AbandonedAt *time.Time
	LastError   string // what the last failed attempt came to, its address redacted
	LastStatus  int    // the HTTP status the last failed attempt was answered with; 0: none
	LastFailure string // the kind of the last failure, a word of package openid's
}

// The states of a logout event, as administrators see them.
const (
	LogoutQueued    = "queued" // waiting for its first attempt or its next one
	LogoutDelivered = "delivered"
	LogoutAbandoned = "abandoned"
)

// State says whether e is still to be delivered, delivered or abandoned.
func (e LogoutEvent) State() string {
	switch {
	case e.DeliveredAt != nil:
		return LogoutDelivered
	case e.AbandonedAt != nil:
		return LogoutAbandoned
	}
	return LogoutQueued
}

const logoutEventCols = `id, tenant_id, client_id, account_id, session_id, reason, created_at, attempts, next_at, lease_owner, lease_until,
	delivered_at, abandoned_at, last_error, last_status, last_failure`

func scanLogoutEvent(r scanner) (LogoutEvent, error) {
	var e LogoutEvent
	var lease, deliv, aband sql.NullTime
	err := r.Scan(&e.ID, &e.TenantID, &e.ClientID, &e.AccountID, &e.SessionID, &e.Reason, &e.CreatedAt, &e.Attempts, &e.NextAt, &e.LeaseOwner, &lease,
		&deliv, &aband, &e.LastError, &e.LastStatus, &e.LastFailure)
	e.CreatedAt, e.NextAt = e.CreatedAt.UTC(), e.NextAt.UTC()
	e.LeaseUntil, e.DeliveredAt, e.AbandonedAt = ptrTime(lease), ptrTime(deliv), ptrTime(aband)
	return e, err
}

// ClaimLogoutEvents leases up to n undelivered logout events whose next
// attempt has come to owner until lease; no other owner claims them
// meanwhile. It takes at most perTenant events of a tenant and perClient
// of a client, the earliest due, so that one tenant's (or product's) many
// events, at an address that hangs, cannot fill every pass.
func (t *Tx) ClaimLogoutEvents(ctx context.Context, owner string, n, perTenant, perClient int, lease time.Duration) ([]LogoutEvent, error) {
	skip := ""
	if t.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	// Ranked in subqueries (per client first, then per tenant among what
	// is left), as PostgreSQL locks no rows of a query with window
	// functions: the outer query locks, and checks again.
	rows, err := t.QueryContext(ctx, `UPDATE openid_logout_events SET lease_owner = $1, lease_until = $2 WHERE id IN (
		SELECT e.id FROM openid_logout_events e WHERE e.id IN (
			SELECT r.id FROM (
				SELECT c.id, row_number() OVER (PARTITION BY c.tenant_id ORDER BY c.next_at, c.id) AS in_tenant FROM (
					SELECT f.id, f.tenant_id, f.next_at, row_number() OVER (PARTITION BY f.tenant_id, f.client_id ORDER BY f.next_at, f.id) AS in_client
					FROM openid_logout_events f WHERE f.next_at <= $3 AND f.delivered_at IS NULL AND f.abandoned_at IS NULL
						AND (f.lease_until IS NULL OR f.lease_until <= $3)) c
				WHERE c.in_client <= $6) r
			WHERE r.in_tenant <= $5)
			AND e.next_at <= $3 AND e.delivered_at IS NULL AND e.abandoned_at IS NULL AND (e.lease_until IS NULL OR e.lease_until <= $3)
		ORDER BY e.next_at, e.id LIMIT $4`+skip+`) RETURNING `+logoutEventCols, owner, t.now.Add(lease), t.now, n, perTenant, perClient)
	if err != nil {
		return nil, fmt.Errorf("claim logout events: %w", err)
	}
	return logoutEvents(rows)
}

// FinishLogoutEvent records an attempt at delivering e while owner holds
// its lease, and ends the lease: delivered, abandoned, or its next attempt.
// A lost lease is a conflict.
func (t *Tx) FinishLogoutEvent(ctx context.Context, e *LogoutEvent, owner string) error {
	res, err := t.ExecContext(ctx, `UPDATE openid_logout_events SET attempts = $3, next_at = $4, delivered_at = $5, abandoned_at = $6, last_error = $7,
		last_status = $9, last_failure = $10, lease_owner = '', lease_until = NULL WHERE id = $1 AND lease_owner = $2 AND lease_until > $8`,
		e.ID, owner, e.Attempts, e.NextAt.UTC(), nullTime(e.DeliveredAt), nullTime(e.AbandonedAt), e.LastError, t.now, e.LastStatus, e.LastFailure)
	if err != nil {
		return fmt.Errorf("finish logout event: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("event_id", "the logout event's lease ran out before its delivery was recorded")
	}
	e.LeaseOwner, e.LeaseUntil = "", nil
	return nil
}

// DeferClientLogouts moves to until the next attempt of a client's
// undelivered logout events due before it and not leased: its address
// did not answer, so the others wait as the failed one does rather than
// each waiting out a timeout.
func (t *Tx) DeferClientLogouts(ctx context.Context, tenant, client string, until time.Time) (int, error) {
	res, err := t.ExecContext(ctx, `UPDATE openid_logout_events SET next_at = $3 WHERE tenant_id = $1 AND client_id = $2 AND delivered_at IS NULL
		AND abandoned_at IS NULL AND next_at < $3 AND (lease_until IS NULL OR lease_until <= $4)`, tenant, client, until.UTC(), t.now)
	if err != nil {
		return 0, fmt.Errorf("defer a client's logout events: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ReleaseLogoutEvent gives up owner's lease of an event without changing it.
func (t *Tx) ReleaseLogoutEvent(ctx context.Context, id, owner string) error {
	_, err := t.ExecContext(ctx, `UPDATE openid_logout_events SET lease_owner = '', lease_until = NULL WHERE id = $1 AND lease_owner = $2`, id, owner)
	if err != nil {
		return fmt.Errorf("release logout event: %w", err)
	}
	return nil
}

// LogoutEvents lists tenant's latest logout events, newest first, at most n.
func (t *Tx) LogoutEvents(ctx context.Context, tenant string, n int) ([]LogoutEvent, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+logoutEventCols+` FROM openid_logout_events WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
		tenant, n)
	if err != nil {
		return nil, fmt.Errorf("list logout events: %w", err)
	}
	return logoutEvents(rows)
}

// LogoutFilter narrows a tenant's logout events.
type LogoutFilter struct {
	ClientID string
	State    string // LogoutQueued, LogoutDelivered or LogoutAbandoned; "" for all
}

// LogoutDeliveries lists tenant's logout events as f narrows them, a page
// at a time (o.Newest: newest first).
func (t *Tx) LogoutDeliveries(ctx context.Context, tenant string, f LogoutFilter, o ListOptions) ([]LogoutEvent, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.ClientID != "" {
		w.add("client_id = ?", f.ClientID)
	}
	switch f.State {
	case "":
	case LogoutQueued:
		w.add("delivered_at IS NULL AND abandoned_at IS NULL")
	case LogoutDelivered:
		w.add("delivered_at IS NOT NULL")
	case LogoutAbandoned:
		w.add("abandoned_at IS NOT NULL")
	default:
		return nil, "", usher.Invalid("state", "must be %s, %s or %s", LogoutQueued, LogoutDelivered, LogoutAbandoned)
	}
	list, next, err := page(ctx, t, `SELECT `+logoutEventCols+` FROM openid_logout_events`, w, o, scanLogoutEvent, func(e LogoutEvent) string { return e.ID })
	if err != nil {
		return nil, "", fmt.Errorf("list logout deliveries: %w", err)
	}
	return list, next, nil
}

// LogoutEvent reads logout event id of tenant's client.
func (t *Tx) LogoutEvent(ctx context.Context, tenant, client, id string) (LogoutEvent, error) {
	e, err := scanLogoutEvent(t.QueryRowContext(ctx, `SELECT `+logoutEventCols+` FROM openid_logout_events WHERE tenant_id = $1 AND client_id = $2 AND id = $3`+
		t.forUpdate(), tenant, client, id))
	if notFound(err) {
		return e, usher.NotFound("event_id", "sign-out delivery")
	}
	if err != nil {
		return e, fmt.Errorf("read logout event: %w", err)
	}
	return e, nil
}

// RetryLogoutEvent makes logout event id of tenant's client, abandoned or
// waiting for its next attempt, due now: the worker tries it at its next
// pass, once more (an abandoned one is abandoned again if that attempt
// fails, its day being over). A delivered event, or one being delivered
// now, is a conflict; another tenant's or client's is not found.
func (t *Tx) RetryLogoutEvent(ctx context.Context, tenant, client, id string) (LogoutEvent, error) {
	e, err := t.LogoutEvent(ctx, tenant, client, id)
	if err != nil {
		return e, err
	}
	switch {
	case e.DeliveredAt != nil:
		return e, usher.Conflict("event_id", "this sign-out was delivered already")
	case e.LeaseUntil != nil && e.LeaseUntil.After(t.now):
		return e, usher.Conflict("event_id", "this sign-out is being delivered now")
	}
	res, err := t.ExecContext(ctx, `UPDATE openid_logout_events SET next_at = $4, abandoned_at = NULL WHERE tenant_id = $1 AND client_id = $2 AND id = $3
		AND delivered_at IS NULL AND (lease_until IS NULL OR lease_until <= $4)`, tenant, client, id, t.now)
	if err != nil {
		return e, fmt.Errorf("retry logout event: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return e, usher.Conflict("event_id", "this sign-out was delivered or taken for delivery meanwhile")
	}
	e.NextAt, e.AbandonedAt = t.now, nil
	return e, nil
}

// logoutEvents scans and closes rows of logoutEventCols.
func logoutEvents(rows Rows) ([]LogoutEvent, error) {
	defer rows.Close()
	var out []LogoutEvent
	for rows.Next() {
		e, err := scanLogoutEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
