package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/usherhq/usher"
)

const extCols = `id, tenant_id, name, kind, config, created_at, updated_at, deactivated_at`

// extConfig is the part of an external system kept as JSON. The client
// secret arrives here sealed.
type extConfig struct {
	ClientID         string   `json:"client_id,omitempty"`
	ClientSecret     string   `json:"client_secret,omitempty"`
	Scopes           []string `json:"scopes,omitempty"`
	Issuer           string   `json:"issuer,omitempty"`
	AuthorizationURL string   `json:"authorization_url,omitempty"`
	TokenURL         string   `json:"token_url,omitempty"`
	UserInfoURL      string   `json:"userinfo_url,omitempty"`
	RevocationURL    string   `json:"revocation_url,omitempty"`
	JWKSURL          string   `json:"jwks_url,omitempty"`
	EWSURL           string   `json:"ews_url,omitempty"`
	ReminderDays     int      `json:"reminder_days,omitempty"`
}

func scanExt(r scanner) (usher.ExternalSystem, error) {
	var x usher.ExternalSystem
	var cfg string
	var deact sql.NullTime
	if err := r.Scan(&x.ID, &x.TenantID, &x.Name, &x.Kind, &cfg, &x.CreatedAt, &x.UpdatedAt, &deact); err != nil {
		return x, err
	}
	x.DeactivatedAt = ptrTime(deact)
	x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
	var k extConfig
	if err := json.Unmarshal([]byte(cfg), &k); err != nil {
		return x, fmt.Errorf("external system %s config: %w", x.ID, err)
	}
	x.ClientID, x.ClientSecret, x.Scopes, x.Issuer = k.ClientID, k.ClientSecret, k.Scopes, k.Issuer
	x.AuthorizationURL, x.TokenURL, x.UserInfoURL, x.RevocationURL, x.JWKSURL = k.AuthorizationURL, k.TokenURL, k.UserInfoURL, k.RevocationURL, k.JWKSURL
	x.EWSURL, x.ReminderDays = k.EWSURL, k.ReminderDays
	return x, nil
}

func extJSON(x *usher.ExternalSystem) (string, error) {
	b, err := json.Marshal(extConfig{ClientID: x.ClientID, ClientSecret: x.ClientSecret, Scopes: x.Scopes, Issuer: x.Issuer,
		AuthorizationURL: x.AuthorizationURL, TokenURL: x.TokenURL, UserInfoURL: x.UserInfoURL, RevocationURL: x.RevocationURL,
		JWKSURL: x.JWKSURL, EWSURL: x.EWSURL, ReminderDays: x.ReminderDays})
	return string(b), err
}

// InsertExternalSystem stores x (its id made here when empty).
func (t *Tx) InsertExternalSystem(ctx context.Context, tenant string, x *usher.ExternalSystem) error {
	if x.ID == "" {
		x.ID = NewID()
	}
	x.TenantID, x.CreatedAt, x.UpdatedAt = tenant, t.now, t.now
	cfg, err := extJSON(x)
	if err != nil {
		return err
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO external_systems (`+extCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,NULL)`,
		x.ID, tenant, x.Name, x.Kind, cfg, t.now, t.now); err != nil {
		return fmt.Errorf("insert external system: %w", err)
	}
	return nil
}

// UpdateExternalSystem writes x.
func (t *Tx) UpdateExternalSystem(ctx context.Context, tenant string, x *usher.ExternalSystem) error {
	x.UpdatedAt = t.now
	cfg, err := extJSON(x)
	if err != nil {
		return err
	}
	res, err := t.ExecContext(ctx, `UPDATE external_systems SET name = $3, kind = $4, config = $5, updated_at = $6, deactivated_at = $7
		WHERE tenant_id = $1 AND id = $2`, tenant, x.ID, x.Name, x.Kind, cfg, t.now, nullTime(x.DeactivatedAt))
	if err != nil {
		return fmt.Errorf("update external system: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("external_system_id", "external system")
	}
	return nil
}

// ExternalSystem returns external system id of tenant.
func (t *Tx) ExternalSystem(ctx context.Context, tenant, id string) (usher.ExternalSystem, error) {
	x, err := scanExt(t.QueryRowContext(ctx, `SELECT `+extCols+` FROM external_systems WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return x, usher.NotFound("external_system_id", "external system")
	}
	return x, err
}

// ExternalSystems lists tenant's external systems.
func (t *Tx) ExternalSystems(ctx context.Context, tenant string, active bool, o ListOptions) ([]usher.ExternalSystem, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if active {
		w.add("deactivated_at IS NULL")
	}
	return page(ctx, t, `SELECT `+extCols+` FROM external_systems`, w, o, scanExt, func(x usher.ExternalSystem) string { return x.ID })
}

// LinkRecord is a link as stored: with its sealed tokens and the worker's
// bookkeeping, which never leave package linked.
type LinkRecord struct {
	usher.Link
	AccessToken  string // sealed
	RefreshToken string // sealed
	Password     string // sealed (Exchange)
	NextAt       *time.Time
	LeaseOwner   string
	LeaseUntil   *time.Time
	Attempts     int
}

const linkCols = `id, tenant_id, account_id, external_system_id, login, state, subject, scopes, access_token, refresh_token, password,
	expires_at, next_at, lease_owner, lease_until, attempts, last_error, authorized_at, refreshed_at, notified_at, reminded_at, created_at, updated_at`

func scanLink(r scanner) (LinkRecord, error) {
	var l LinkRecord
	var scopes string
	var exp, next, lease, auth, refr, notif, remind sql.NullTime
	err := r.Scan(&l.ID, &l.TenantID, &l.AccountID, &l.ExternalSystemID, &l.Login, &l.State, &l.Subject, &scopes, &l.AccessToken,
		&l.RefreshToken, &l.Password, &exp, &next, &l.LeaseOwner, &lease, &l.Attempts, &l.LastError, &auth, &refr, &notif, &remind,
		&l.CreatedAt, &l.UpdatedAt)
	if err != nil {
		return l, err
	}
	l.Scopes = nil
	if scopes != "" {
		l.Scopes = strings.Split(scopes, " ")
	}
	l.ExpiresAt, l.NextAt, l.LeaseUntil, l.AuthorizedAt = ptrTime(exp), ptrTime(next), ptrTime(lease), ptrTime(auth)
	l.RefreshedAt, l.NotifiedAt, l.RemindedAt = ptrTime(refr), ptrTime(notif), ptrTime(remind)
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	return l, nil
}

// InsertLink stores a new link; a live link of the account to the system
// already there is a conflict.
func (t *Tx) InsertLink(ctx context.Context, tenant string, l *LinkRecord) error {
	if l.ID == "" {
		l.ID = NewID()
	}
	l.TenantID, l.CreatedAt, l.UpdatedAt = tenant, t.now, t.now
	res, err := t.ExecContext(ctx, `INSERT INTO links (id, tenant_id, account_id, external_system_id, login, state, notified_at, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8) ON CONFLICT DO NOTHING`,
		l.ID, tenant, l.AccountID, l.ExternalSystemID, l.Login, l.State, nullTime(l.NotifiedAt), t.now)
	if err != nil {
		return fmt.Errorf("insert link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("external_system_id", "the account is already linked to this external system")
	}
	return nil
}

// Link returns link id of tenant, locked for the transaction.
func (t *Tx) Link(ctx context.Context, tenant, id string) (LinkRecord, error) {
	l, err := scanLink(t.QueryRowContext(ctx, `SELECT `+linkCols+` FROM links WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return l, usher.NotFound("link_id", "link")
	}
	return l, err
}

// LinkFilter narrows Links.
type LinkFilter struct {
	State            string
	AccountID        string
	ExternalSystemID string
}

// Links lists tenant's links.
func (t *Tx) Links(ctx context.Context, tenant string, f LinkFilter, o ListOptions) ([]LinkRecord, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.State != "" {
		w.add("state = ?", f.State)
	}
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.ExternalSystemID != "" {
		w.add("external_system_id = ?", f.ExternalSystemID)
	}
	return page(ctx, t, `SELECT `+linkCols+` FROM links`, w, o, scanLink, func(l LinkRecord) string { return l.ID })
}

// UpdateLink writes a link's state, tokens and bookkeeping, and ends its
// lease. With owner set it writes only while owner holds the lease (a
// lost lease is a conflict); without, it takes the lease from whoever
// holds it, so a refresh under way cannot write over the change.
func (t *Tx) UpdateLink(ctx context.Context, tenant string, l *LinkRecord, owner string) error {
	l.UpdatedAt = t.now
	cond := ""
	args := []any{tenant, l.ID, l.State, l.Subject, strings.Join(l.Scopes, " "), l.AccessToken, l.RefreshToken, l.Password,
		nullTime(l.ExpiresAt), nullTime(l.NextAt), l.Attempts, l.LastError, nullTime(l.AuthorizedAt), nullTime(l.RefreshedAt),
		nullTime(l.NotifiedAt), nullTime(l.RemindedAt), t.now}
	if owner != "" {
		cond = ` AND lease_owner = $18 AND lease_until > $17`
		args = append(args, owner)
	}
	l.LeaseOwner, l.LeaseUntil = "", nil
	res, err := t.ExecContext(ctx, `UPDATE links SET state = $3, subject = $4, scopes = $5, access_token = $6, refresh_token = $7, password = $8,
		expires_at = $9, next_at = $10, attempts = $11, last_error = $12, authorized_at = $13, refreshed_at = $14, notified_at = $15,
		reminded_at = $16, updated_at = $17, lease_owner = '', lease_until = NULL WHERE tenant_id = $1 AND id = $2`+cond, args...)
	if err != nil {
		return fmt.Errorf("update link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if owner != "" {
			return usher.Conflict("link_id", "the link's lease ran out before its refresh was recorded")
		}
		return usher.NotFound("link_id", "link")
	}
	return nil
}

// ClaimLinks leases up to n links of every tenant whose next_at has come
// to owner until lease: no other owner claims them meanwhile (PostgreSQL
// skips rows another claim holds; SQLite's single writer serializes).
func (t *Tx) ClaimLinks(ctx context.Context, owner string, n int, lease time.Duration) ([]LinkRecord, error) {
	skip := ""
	if t.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := t.QueryContext(ctx, `UPDATE links SET lease_owner = $1, lease_until = $2 WHERE id IN (
		SELECT id FROM links WHERE next_at <= $3 AND state IN ('authorized','reauthorize') AND (lease_until IS NULL OR lease_until <= $3)
		ORDER BY next_at LIMIT $4`+skip+`) RETURNING `+linkCols, owner, t.now.Add(lease), t.now, n)
	if err != nil {
		return nil, fmt.Errorf("claim links: %w", err)
	}
	defer rows.Close()
	var out []LinkRecord
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// LeaseLink leases an authorized link to owner unless another holds it;
// false when another does or the link is no longer authorized.
func (t *Tx) LeaseLink(ctx context.Context, tenant, id, owner string, lease time.Duration) (bool, error) {
	res, err := t.ExecContext(ctx, `UPDATE links SET lease_owner = $3, lease_until = $4 WHERE tenant_id = $1 AND id = $2
		AND state = 'authorized' AND (lease_until IS NULL OR lease_until <= $5)`, tenant, id, owner, t.now.Add(lease), t.now)
	if err != nil {
		return false, fmt.Errorf("lease link: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseLink gives up owner's lease of a link without changing it.
func (t *Tx) ReleaseLink(ctx context.Context, tenant, id, owner string) error {
	_, err := t.ExecContext(ctx, `UPDATE links SET lease_owner = '', lease_until = NULL WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3`,
		tenant, id, owner)
	return err
}

// LinkSuggestion is an account without a live link to a system, with the
// login it likely has there.
type LinkSuggestion struct {
	AccountID string `json:"account_id"`
	Login     string `json:"login"`
}

// LinkSuggestions lists tenant's active or invited accounts with an email
// and no live link to the system, at most 500.
func (t *Tx) LinkSuggestions(ctx context.Context, tenant, system string) ([]LinkSuggestion, error) {
	rows, err := t.QueryContext(ctx, `SELECT id, email FROM accounts a WHERE tenant_id = $1 AND state IN ('active','invited') AND email <> ''
		AND NOT EXISTS (SELECT 1 FROM links l WHERE l.tenant_id = $1 AND l.account_id = a.id AND l.external_system_id = $2
			AND l.state IN ('pending','authorized','reauthorize'))
		ORDER BY id LIMIT 500`, tenant, system)
	if err != nil {
		return nil, fmt.Errorf("suggest links: %w", err)
	}
	defer rows.Close()
	var out []LinkSuggestion
	for rows.Next() {
		var s LinkSuggestion
		if err := rows.Scan(&s.AccountID, &s.Login); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// LinkRequest is an authorization under way.
type LinkRequest struct {
	ID        string // the hash of the state the browser holds
	TenantID  string
	LinkID    string
	Verifier  string
	Nonce     string
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// InsertLinkRequest stores an authorization under way; old ones go on the
// way.
func (t *Tx) InsertLinkRequest(ctx context.Context, q *LinkRequest) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM link_requests WHERE expires_at < $1`, t.now.Add(-time.Hour)); err != nil {
		return fmt.Errorf("remove old authorizations: %w", err)
	}
	_, err := t.ExecContext(ctx, `INSERT INTO link_requests (id, tenant_id, link_id, verifier, nonce, created_at, expires_at, used_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,NULL)`, q.ID, q.TenantID, q.LinkID, q.Verifier, q.Nonce, t.now, q.ExpiresAt)
	if err != nil {
		return fmt.Errorf("insert authorization request: %w", err)
	}
	return nil
}

// UseLinkRequest takes an authorization under way by the hash of its
// state, once: a used or expired one is not found.
func (t *Tx) UseLinkRequest(ctx context.Context, tenant, id string) (LinkRequest, error) {
	var q LinkRequest
	var used sql.NullTime
	err := t.QueryRowContext(ctx, `SELECT id, tenant_id, link_id, verifier, nonce, expires_at, used_at FROM link_requests
		WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id).Scan(&q.ID, &q.TenantID, &q.LinkID, &q.Verifier, &q.Nonce, &q.ExpiresAt, &used)
	if notFound(err) || (err == nil && (used.Valid || !q.ExpiresAt.After(t.now))) {
		return q, usher.NotFound("state", "authorization")
	} else if err != nil {
		return q, err
	}
	res, err := t.ExecContext(ctx, `UPDATE link_requests SET used_at = $2 WHERE id = $1 AND used_at IS NULL`, id, t.now)
	if err != nil {
		return q, fmt.Errorf("use authorization request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return q, usher.NotFound("state", "authorization")
	}
	return q, nil
}
