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

// The OpenID Connect provider's tables (package openid owns them; nothing
// else writes them). Every method takes the tenant and filters on it.

func jsonList(xs []string) string {
	if xs == nil {
		xs = []string{}
	}
	b, _ := json.Marshal(xs)
	return string(b)
}

func parseList(s string) []string {
	out := []string{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out)
	}
	return out
}

const clientCols = `id, tenant_id, name, type, auth_method, secret_hash, redirect_uris, post_logout_redirect_uris, grant_types, scopes,
	third_party, id_token_alg, access_token_seconds, id_token_seconds, refresh_token_seconds, jwks, created_at, updated_at, deleted_at, jwks_uri,
	backchannel_logout_uri, backchannel_logout_session_required, frontchannel_logout_uri, frontchannel_logout_session_required`

func scanClient(r scanner) (usher.Client, string, error) {
	var c usher.Client
	var hash, redirects, logouts, grants, scopes string
	var deleted sql.NullTime
	err := r.Scan(&c.ID, &c.TenantID, &c.Name, &c.Type, &c.AuthMethod, &hash, &redirects, &logouts, &grants, &scopes,
		&c.ThirdParty, &c.IDTokenAlg, &c.AccessTokenSeconds, &c.IDTokenSeconds, &c.RefreshTokenSeconds, &c.JWKS, &c.CreatedAt, &c.UpdatedAt, &deleted, &c.JWKSURI,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired, &c.FrontchannelLogoutURI, &c.FrontchannelLogoutSessionRequired)
	c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes = parseList(redirects), parseList(logouts), parseList(grants), parseList(scopes)
	c.CreatedAt, c.UpdatedAt, c.DeletedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), ptrTime(deleted)
	return c, hash, err
}

// InsertClient stores a new client with the hash of its secret ("" for
// none).
func (t *Tx) InsertClient(ctx context.Context, tenant string, c *usher.Client, secretHash string) error {
	if c.ID == "" {
		c.ID = NewID()
	}
	c.TenantID, c.CreatedAt, c.UpdatedAt = tenant, t.now, t.now
	_, err := t.ExecContext(ctx, `INSERT INTO openid_clients (`+clientCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$17,NULL,$18,$19,$20,$21,$22)`,
		c.ID, tenant, c.Name, c.Type, c.AuthMethod, secretHash, jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs), jsonList(c.GrantTypes),
		jsonList(c.Scopes), c.ThirdParty, c.IDTokenAlg, c.AccessTokenSeconds, c.IDTokenSeconds, c.RefreshTokenSeconds, c.JWKS, t.now, c.JWKSURI,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.FrontchannelLogoutURI, c.FrontchannelLogoutSessionRequired)
	if err != nil {
		return fmt.Errorf("insert client: %w", err)
	}
	return nil
}

// Client returns client id of tenant, deleted or not, with the hash of its
// secret.
func (t *Tx) Client(ctx context.Context, tenant, id string) (usher.Client, string, error) {
	c, hash, err := scanClient(t.QueryRowContext(ctx, `SELECT `+clientCols+` FROM openid_clients WHERE tenant_id = $1 AND id = $2`, tenant, id))
	if notFound(err) {
		return c, "", usher.NotFound("client_id", "client")
	}
	if err != nil {
		return c, "", fmt.Errorf("read client: %w", err)
	}
	return c, hash, nil
}

// Clients lists tenant's clients; active leaves out deleted ones.
func (t *Tx) Clients(ctx context.Context, tenant string, active bool, o ListOptions) ([]usher.Client, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if active {
		w.add("deleted_at IS NULL")
	}
	scan := func(r scanner) (usher.Client, error) { c, _, err := scanClient(r); return c, err }
	return page(ctx, t, `SELECT `+clientCols+` FROM openid_clients`, w, o, scan, func(c usher.Client) string { return c.ID })
}

// UpdateClient writes c's settings; a non-nil secretHash replaces the secret's.
func (t *Tx) UpdateClient(ctx context.Context, tenant string, c *usher.Client, secretHash *string) error {
	c.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE openid_clients SET name = $3, type = $4, auth_method = $5, redirect_uris = $6, post_logout_redirect_uris = $7,
		grant_types = $8, scopes = $9, third_party = $10, id_token_alg = $11, access_token_seconds = $12, id_token_seconds = $13,
		refresh_token_seconds = $14, jwks = $15, updated_at = $16, deleted_at = $17, jwks_uri = $18, backchannel_logout_uri = $19,
		backchannel_logout_session_required = $20, frontchannel_logout_uri = $21, frontchannel_logout_session_required = $22 WHERE tenant_id = $1 AND id = $2`,
		tenant, c.ID, c.Name, c.Type, c.AuthMethod, jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs), jsonList(c.GrantTypes),
		jsonList(c.Scopes), c.ThirdParty, c.IDTokenAlg, c.AccessTokenSeconds, c.IDTokenSeconds, c.RefreshTokenSeconds, c.JWKS, t.now, nullTime(c.DeletedAt), c.JWKSURI,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired, c.FrontchannelLogoutURI, c.FrontchannelLogoutSessionRequired)
	if err != nil {
		return fmt.Errorf("update client: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("client_id", "client")
	}
	if secretHash != nil {
		if _, err := t.ExecContext(ctx, `UPDATE openid_clients SET secret_hash = $3 WHERE tenant_id = $1 AND id = $2`, tenant, c.ID, *secretHash); err != nil {
			return fmt.Errorf("update client secret: %w", err)
		}
	}
	return nil
}

// SigningKey is one of a tenant's token signing keys. PrivateKey is sealed.
type SigningKey struct {
	ID         string // the kid
	TenantID   string
	Alg        string
	PublicJWK  string
	PrivateKey string
	CreatedAt  time.Time
	SignsFrom  time.Time
	ExpiresAt  *time.Time
}

const keyCols = `id, tenant_id, alg, public_jwk, private_key, created_at, signs_from, expires_at`

// InsertSigningKey stores a new key.
func (t *Tx) InsertSigningKey(ctx context.Context, k *SigningKey) error {
	k.CreatedAt = t.now
	_, err := t.ExecContext(ctx, `INSERT INTO openid_keys (`+keyCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		k.ID, k.TenantID, k.Alg, k.PublicJWK, k.PrivateKey, t.now, k.SignsFrom.UTC(), nullTime(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	return nil
}

// LockSigningKeys holds tenant's signing keys until the transaction ends,
// so that replicas that find a key due at the same moment make one
// successor, not one each: on PostgreSQL two transactions would both read
// that none exists yet. SQLite's single writer needs no lock.
func (t *Tx) LockSigningKeys(ctx context.Context, tenant string) error {
	if t.dialect != Postgres || t.reading() {
		return nil
	}
	if _, err := t.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7283020, hashtext($1))`, "openid_keys/"+tenant); err != nil {
		return fmt.Errorf("lock signing keys: %w", err)
	}
	return nil
}

// SigningKeys lists tenant's keys that have not left the JWKS at now,
// newest signer first.
func (t *Tx) SigningKeys(ctx context.Context, tenant string, now time.Time) ([]SigningKey, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+keyCols+` FROM openid_keys WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > $2)
		ORDER BY signs_from DESC, id DESC`, tenant, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var k SigningKey
		var exp sql.NullTime
		if err := rows.Scan(&k.ID, &k.TenantID, &k.Alg, &k.PublicJWK, &k.PrivateKey, &k.CreatedAt, &k.SignsFrom, &exp); err != nil {
			return nil, err
		}
		k.CreatedAt, k.SignsFrom, k.ExpiresAt = k.CreatedAt.UTC(), k.SignsFrom.UTC(), ptrTime(exp)
		out = append(out, k)
	}
	return out, rows.Err()
}

// ExpireSigningKey sets when key id of tenant leaves the JWKS, unless an
// earlier time is set already.
func (t *Tx) ExpireSigningKey(ctx context.Context, tenant, id string, at time.Time) error {
	_, err := t.ExecContext(ctx, `UPDATE openid_keys SET expires_at = $3 WHERE tenant_id = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)`,
		tenant, id, at.UTC())
	if err != nil {
		return fmt.Errorf("expire signing key: %w", err)
	}
	return nil
}

// AuthRequest is an authorization request between the authorization
// endpoint and the use of its code.
type AuthRequest struct {
	ID         string
	TenantID   string
	ClientID   string
	Data       string // the request's parameters, as JSON
	AccountID  string // set once the person signed in
	IdentityID string
	SessionID  string
	AuthTime   *time.Time
	CodeHash   string
	CodeExpiry *time.Time
	CodeUsedAt *time.Time
	GrantID    string // what the code's use issued
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

const authRequestCols = `id, tenant_id, client_id, data, account_id, identity_id, session_id, auth_time, code_hash, code_expires_at, code_used_at,
	grant_id, created_at, expires_at`

func scanAuthRequest(r scanner) (AuthRequest, error) {
	var a AuthRequest
	var auth, codeExp, used sql.NullTime
	err := r.Scan(&a.ID, &a.TenantID, &a.ClientID, &a.Data, &a.AccountID, &a.IdentityID, &a.SessionID, &auth, &a.CodeHash, &codeExp, &used,
		&a.GrantID, &a.CreatedAt, &a.ExpiresAt)
	a.AuthTime, a.CodeExpiry, a.CodeUsedAt = ptrTime(auth), ptrTime(codeExp), ptrTime(used)
	a.CreatedAt, a.ExpiresAt = a.CreatedAt.UTC(), a.ExpiresAt.UTC()
	return a, err
}

// InsertAuthRequest stores a new authorization request.
func (t *Tx) InsertAuthRequest(ctx context.Context, a *AuthRequest) error {
	a.CreatedAt = t.now
	_, err := t.ExecContext(ctx, `INSERT INTO openid_auth_requests (id, tenant_id, client_id, data, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6)`,
		a.ID, a.TenantID, a.ClientID, a.Data, t.now, a.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("insert authorization request: %w", err)
	}
	return nil
}

// AuthRequest returns authorization request id of tenant.
func (t *Tx) AuthRequest(ctx context.Context, tenant, id string) (AuthRequest, error) {
	a, err := scanAuthRequest(t.QueryRowContext(ctx, `SELECT `+authRequestCols+` FROM openid_auth_requests WHERE tenant_id = $1 AND id = $2`, tenant, id))
	if notFound(err) {
		return a, usher.NotFound("id", "authorization request")
	}
	return a, err
}

// SignInAuthRequest records who signed in for an authorization request
// that has no code yet.
func (t *Tx) SignInAuthRequest(ctx context.Context, tenant, id, account, identity, session string, authTime time.Time) error {
	res, err := t.ExecContext(ctx, `UPDATE openid_auth_requests SET account_id = $3, identity_id = $4, session_id = $5, auth_time = $6
		WHERE tenant_id = $1 AND id = $2 AND code_hash = ''`, tenant, id, account, identity, session, authTime.UTC())
	if err != nil {
		return fmt.Errorf("sign in authorization request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("id", "this authorization request was answered already")
	}
	return nil
}

// SaveCode gives a signed-in authorization request its code, once.
func (t *Tx) SaveCode(ctx context.Context, tenant, id, hash string, expires time.Time) error {
	res, err := t.ExecContext(ctx, `UPDATE openid_auth_requests SET code_hash = $3, code_expires_at = $4
		WHERE tenant_id = $1 AND id = $2 AND code_hash = '' AND account_id <> ''`, tenant, id, hash, expires.UTC())
	if err != nil {
		return fmt.Errorf("save code: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("id", "this authorization request has a code already, or nobody signed in")
	}
	return nil
}

// UseCode marks the code of authorization request id used, recording the
// grant it issued. A code used before is a conflict: exactly one use wins.
func (t *Tx) UseCode(ctx context.Context, tenant, id, grant string) error {
	// Checked at the transaction's next round trip on PostgreSQL: a code
	// exchange's statements go together.
	return t.execThen(ctx, func(n int64, err error) error {
		if err != nil {
			return fmt.Errorf("use code: %w", err)
		}
		if n == 0 {
			return usher.Conflict("code", "the code was used already")
		}
		return nil
	}, `UPDATE openid_auth_requests SET code_used_at = $3, grant_id = $4
		WHERE tenant_id = $1 AND id = $2 AND code_hash <> '' AND code_used_at IS NULL`, tenant, id, t.now, grant)
}

// Grant is what one sign-in gave a client for an account: its refresh
// tokens are one family.
type Grant struct {
	ID            string
	TenantID      string
	ClientID      string
	AccountID     string
	IdentityID    string
	SessionID     string
	Scopes        []string
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     *time.Time
	RevokedReason string
}

const grantCols = `id, tenant_id, client_id, account_id, identity_id, session_id, scopes, auth_time, created_at, expires_at, revoked_at, revoked_reason`

// InsertGrant stores a new grant.
func (t *Tx) InsertGrant(ctx context.Context, g *Grant) error {
	g.CreatedAt = t.now
	return t.insertThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert grant: %w", err)
		}
		return nil
	}, `INSERT INTO openid_grants (`+grantCols+`) VALUES `, ``, 12,
		g.ID, g.TenantID, g.ClientID, g.AccountID, g.IdentityID, g.SessionID, jsonList(g.Scopes), g.AuthTime.UTC(), t.now, g.ExpiresAt.UTC(), nil, "")
}

// Grant returns grant id of tenant.
func (t *Tx) Grant(ctx context.Context, tenant, id string) (Grant, error) {
	g, _, err := t.grant(ctx, tenant, id, "")
	return g, err
}

// GrantOfToken returns grant id of tenant and whether the access token
// jti was revoked: what a token's every use checks, in one query.
func (t *Tx) GrantOfToken(ctx context.Context, tenant, id, jti string) (g Grant, revoked bool, err error) {
	return t.grant(ctx, tenant, id, jti)
}

func (t *Tx) grant(ctx context.Context, tenant, id, jti string) (Grant, bool, error) {
	var g Grant
	var scopes string
	var revokedAt sql.NullTime
	dest := []any{&g.ID, &g.TenantID, &g.ClientID, &g.AccountID, &g.IdentityID, &g.SessionID, &scopes, &g.AuthTime, &g.CreatedAt, &g.ExpiresAt, &revokedAt, &g.RevokedReason}
	query, args := `SELECT `+grantCols+` FROM openid_grants WHERE tenant_id = $1 AND id = $2`, []any{tenant, id}
	var tokenRevoked bool
	if jti != "" {
		query = `SELECT ` + grantCols + `, EXISTS (SELECT 1 FROM openid_revoked_tokens r WHERE r.tenant_id = $1 AND r.jti = $3) FROM openid_grants WHERE tenant_id = $1 AND id = $2`
		args, dest = append(args, jti), append(dest, &tokenRevoked)
	}
	err := t.QueryRowContext(ctx, query, args...).Scan(dest...)
	if notFound(err) {
		return g, false, usher.NotFound("grant", "grant")
	}
	g.Scopes, g.RevokedAt = parseList(scopes), ptrTime(revokedAt)
	g.AuthTime, g.CreatedAt, g.ExpiresAt = g.AuthTime.UTC(), g.CreatedAt.UTC(), g.ExpiresAt.UTC()
	return g, tokenRevoked, err
}

// RevokeGrant revokes grant id of tenant, keeping the first reason.
func (t *Tx) RevokeGrant(ctx context.Context, tenant, id, reason string) error {
	_, err := t.ExecContext(ctx, `UPDATE openid_grants SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`,
		tenant, id, t.now, reason)
	if err != nil {
		return fmt.Errorf("revoke grant: %w", err)
	}
	return nil
}

// RevokeAccountGrants revokes every live grant of an account of tenant and
// reports how many.
func (t *Tx) RevokeAccountGrants(ctx context.Context, tenant, account, reason string) (int, error) {
	res, err := t.ExecContext(ctx, `UPDATE openid_grants SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND account_id = $2 AND revoked_at IS NULL`,
		tenant, account, t.now, reason)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of account: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RevokeIdentityGrants revokes the live grants an identity made through
// its browser sessions, in every tenant (a session belongs to the identity,
// as do its sign-outs), except those of session keep ("" keeps none).
func (t *Tx) RevokeIdentityGrants(ctx context.Context, identity, keep, reason string) (int, error) {
	res, err := t.ExecContext(ctx, `UPDATE openid_grants SET revoked_at = $3, revoked_reason = $4
		WHERE identity_id = $1 AND identity_id <> '' AND session_id <> $2 AND revoked_at IS NULL`, identity, keep, t.now, reason)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of identity: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RevokeSessionGrants revokes the live grants made through one browser
// session of an identity.
func (t *Tx) RevokeSessionGrants(ctx context.Context, identity, session, reason string) (int, error) {
	res, err := t.ExecContext(ctx, `UPDATE openid_grants SET revoked_at = $3, revoked_reason = $4
		WHERE identity_id = $1 AND session_id = $2 AND session_id <> '' AND revoked_at IS NULL`, identity, session, t.now, reason)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of session: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RevokeConnectionGrants revokes the live grants made through the sessions
// that signed in through connection at tenant (before those sessions end).
func (t *Tx) RevokeConnectionGrants(ctx context.Context, connection, tenant, reason string) (int, error) {
	where, err := logoutWhere(LogoutConnection)
	if err != nil {
		return 0, err
	}
	res, err := t.ExecContext(ctx, `UPDATE openid_grants SET revoked_at = $1, revoked_reason = $4 WHERE id IN (SELECT g.id FROM openid_grants g
		WHERE `+where+` AND g.revoked_at IS NULL)`, t.now, connection, tenant, reason)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of a connection's sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RefreshToken is a stored refresh token: only its hash is kept.
type RefreshToken struct {
	Hash      string
	TenantID  string
	GrantID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// InsertRefreshToken stores a refresh token of a grant.
func (t *Tx) InsertRefreshToken(ctx context.Context, rt *RefreshToken) error {
	rt.CreatedAt = t.now
	return t.insertThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert refresh token: %w", err)
		}
		return nil
	}, `INSERT INTO openid_refresh_tokens (hash, tenant_id, grant_id, created_at, expires_at) VALUES `, ``, 5,
		rt.Hash, rt.TenantID, rt.GrantID, t.now, rt.ExpiresAt.UTC())
}

// RefreshTokenByHash returns tenant's refresh token with hash, used or not.
func (t *Tx) RefreshTokenByHash(ctx context.Context, tenant, hash string) (RefreshToken, error) {
	var rt RefreshToken
	var used sql.NullTime
	err := t.QueryRowContext(ctx, `SELECT hash, tenant_id, grant_id, created_at, expires_at, used_at FROM openid_refresh_tokens WHERE hash = $2 AND tenant_id = $1`,
		tenant, hash).Scan(&rt.Hash, &rt.TenantID, &rt.GrantID, &rt.CreatedAt, &rt.ExpiresAt, &used)
	if notFound(err) {
		return rt, usher.NotFound("refresh_token", "refresh token")
	}
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = rt.CreatedAt.UTC(), rt.ExpiresAt.UTC(), ptrTime(used)
	return rt, err
}

// RefreshTokenWithSubject reads a refresh token of tenant by its hash with
// its grant and its account's claims (contact roles included), in one
// query: a refresh needs all three.
func (t *Tx) RefreshTokenWithSubject(ctx context.Context, tenant, hash string) (RefreshToken, Grant, OpenIDSubject, error) {
	var rt RefreshToken
	var g Grant
	var used, revoked sql.NullTime
	var scopes string
	row := t.QueryRowContext(ctx, refreshTokenWithSubjectSQL(t.dialect), tenant, hash)
	s, err := t.scanSubject(extraScanner{row, []any{&rt.Hash, &rt.TenantID, &rt.GrantID, &rt.CreatedAt, &rt.ExpiresAt, &used,
		&g.ID, &g.TenantID, &g.ClientID, &g.AccountID, &g.IdentityID, &g.SessionID, &scopes, &g.AuthTime, &g.CreatedAt, &g.ExpiresAt, &revoked, &g.RevokedReason}}, tenant)
	if notFound(err) {
		return rt, g, s, usher.NotFound("refresh_token", "refresh token")
	}
	if err != nil {
		return rt, g, s, fmt.Errorf("read refresh token: %w", err)
	}
	rt.CreatedAt, rt.ExpiresAt, rt.UsedAt = rt.CreatedAt.UTC(), rt.ExpiresAt.UTC(), ptrTime(used)
	g.Scopes, g.RevokedAt = parseList(scopes), ptrTime(revoked)
	g.AuthTime, g.CreatedAt, g.ExpiresAt = g.AuthTime.UTC(), g.CreatedAt.UTC(), g.ExpiresAt.UTC()
	return rt, g, s, nil
}

func refreshTokenWithSubjectSQL(d Dialect) string {
	return `SELECT ` + subjectCols(d, true) + `, r.hash, r.tenant_id, r.grant_id, r.created_at, r.expires_at, r.used_at, ` + prefixed("g.", grantCols) + `
		FROM openid_refresh_tokens r JOIN openid_grants g ON g.id = r.grant_id AND g.tenant_id = r.tenant_id CROSS JOIN accounts a` + subjectFrom + `
		WHERE r.hash = $2 AND r.tenant_id = $1 AND a.id = g.account_id AND a.tenant_id = g.tenant_id` + subjectWhere
}

// UseRefreshToken marks a refresh token used. One used before is a
// conflict: of two uses at once, exactly one wins.
func (t *Tx) UseRefreshToken(ctx context.Context, tenant, hash string) error {
	return t.execThen(ctx, func(n int64, err error) error {
		if err != nil {
			return fmt.Errorf("use refresh token: %w", err)
		}
		if n == 0 {
			return usher.Conflict("refresh_token", "the refresh token was used already")
		}
		return nil
	}, `UPDATE openid_refresh_tokens SET used_at = $3 WHERE hash = $2 AND tenant_id = $1 AND used_at IS NULL`, tenant, hash, t.now)
}

// RevokeAccessToken records that the access token jti of tenant is revoked
// until it expires anyway.
func (t *Tx) RevokeAccessToken(ctx context.Context, tenant, jti string, expires time.Time) error {
	_, err := t.ExecContext(ctx, `INSERT INTO openid_revoked_tokens (tenant_id, jti, expires_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`,
		tenant, jti, expires.UTC())
	if err != nil {
		return fmt.Errorf("revoke access token: %w", err)
	}
	return nil
}

// UseAssertion records that client of tenant used the client assertion
// jti, valid until expires, and reports whether it was its first use. A
// record already past its expiry is taken over: the assertion it stood for
// can no longer be accepted anyway.
func (t *Tx) UseAssertion(ctx context.Context, tenant, client, jti string, expires time.Time) (bool, error) {
	res, err := t.ExecContext(ctx, `INSERT INTO openid_assertions (tenant_id, client_id, jti, expires_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (tenant_id, client_id, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE openid_assertions.expires_at < $5`,
		tenant, client, jti, expires.UTC(), t.now.UTC())
	if err != nil {
		return false, fmt.Errorf("use client assertion: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// AccessTokenRevoked reports whether the access token jti of tenant was revoked.
func (t *Tx) AccessTokenRevoked(ctx context.Context, tenant, jti string) (bool, error) {
	var n int
	err := t.QueryRowContext(ctx, `SELECT count(*) FROM openid_revoked_tokens WHERE tenant_id = $1 AND jti = $2`, tenant, jti).Scan(&n)
	return n > 0, err
}

// Consent returns the scopes an account of tenant consented to for a
// client; none is an empty list.
func (t *Tx) Consent(ctx context.Context, tenant, account, client string) ([]string, error) {
	var scopes string
	err := t.QueryRowContext(ctx, `SELECT scopes FROM openid_consents WHERE tenant_id = $1 AND account_id = $2 AND client_id = $3`, tenant, account, client).Scan(&scopes)
	if notFound(err) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read consent: %w", err)
	}
	return parseList(scopes), nil
}

// SaveConsent remembers the scopes an account of tenant consented to for a client.
func (t *Tx) SaveConsent(ctx context.Context, tenant, account, client string, scopes []string) error {
	_, err := t.ExecContext(ctx, `INSERT INTO openid_consents (tenant_id, account_id, client_id, scopes, created_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (tenant_id, account_id, client_id) DO UPDATE SET scopes = excluded.scopes, created_at = excluded.created_at`,
		tenant, account, client, jsonList(scopes), t.now)
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	return nil
}

// SessionByID returns the browser session id of an identity.
func (t *Tx) SessionByID(ctx context.Context, identity, id string) (usher.Session, error) {
	s, err := scanSession(t.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1 AND identity_id = $2`, id, identity))
	if notFound(err) {
		return s, usher.NotFound("session", "session")
	}
	return s, err
}

// RevokeClientGrants revokes every live grant of a client of tenant.
func (t *Tx) RevokeClientGrants(ctx context.Context, tenant, client, reason string) (int, error) {
	res, err := t.ExecContext(ctx, `UPDATE openid_grants SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND client_id = $2 AND revoked_at IS NULL`,
		tenant, client, t.now, reason)
	if err != nil {
		return 0, fmt.Errorf("revoke grants of client: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SweepOpenID deletes, up to limit rows per table, what expired before
// before: authorization requests, refresh tokens, revoked access tokens'
// records, grants past their end, and logout events delivered or
// abandoned. It reports how many rows went, and more when a table's
// delete reached limit (there may be more to sweep).
func (t *Tx) SweepOpenID(ctx context.Context, before time.Time, limit int) (total int, more bool, err error) {
	// One constant statement per table, so what writes which table stays
	// readable; grants last, after the refresh tokens that belong to them.
	for _, query := range []string{
		`DELETE FROM openid_auth_requests WHERE id IN (SELECT id FROM openid_auth_requests WHERE expires_at < $1 LIMIT $2)`,
		`DELETE FROM openid_refresh_tokens WHERE hash IN (SELECT hash FROM openid_refresh_tokens WHERE expires_at < $1 LIMIT $2)`,
		`DELETE FROM openid_revoked_tokens WHERE jti IN (SELECT jti FROM openid_revoked_tokens WHERE expires_at < $1 LIMIT $2)`,
		`DELETE FROM openid_grants WHERE id IN (SELECT id FROM openid_grants WHERE expires_at < $1 LIMIT $2)`,
		`DELETE FROM openid_assertions WHERE (tenant_id, client_id, jti) IN (SELECT tenant_id, client_id, jti FROM openid_assertions WHERE expires_at < $1 LIMIT $2)`,
		// Logout tokens delivered or abandoned (audited) are of no more use.
		`DELETE FROM openid_logout_events WHERE id IN (SELECT id FROM openid_logout_events WHERE next_at < $1
			AND (delivered_at IS NOT NULL OR abandoned_at IS NOT NULL) LIMIT $2)`,
	} {
		res, err := t.ExecContext(ctx, query, before.UTC(), limit)
		if err != nil {
			return total, more, fmt.Errorf("sweep: %s: %w", strings.Fields(query)[2], err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		more = more || int(n) >= limit
	}
	return total, more, nil
}

// PlanKey returns the key and name of plan id of tenant, without counting
// its seats (Plan does), for the claims of a token.
func (t *Tx) PlanKey(ctx context.Context, tenant, id string) (key, name string, err error) {
	err = t.QueryRowContext(ctx, `SELECT key, name FROM plans WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&key, &name)
	if notFound(err) {
		return "", "", usher.NotFound("plan_id", "plan")
	}
	return key, name, err
}

// OpenIDSubject is what an account's claims are made of, read at once.
type OpenIDSubject struct {
	Account       usher.Account
	Person        usher.Person // names, language, department, job profile, organization
	IdentityEmail string
	PlanKey       string
	OrgName       string
	OrgKind       string
	// Roles are the person's contact roles per site, when asked for.
	Roles []ContactRole
}

// ContactRole is a person's roles at one site, with the site's name.
type ContactRole struct {
	SiteID, Site string
	Roles        []string
}

// extraScanner scans a row's columns into a scan's destinations, then
// into extra.
type extraScanner struct {
	r     scanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.r.Scan(append(dest, e.extra...)...) }

// contactRolesCol is a column of an account's person's roles per site (at
// most 1,000) as a JSON array of [site, site's name, role], in the order
// of site and role: read with the account, a token costs one round trip
// less.
var contactRolesCol = map[Dialect]string{
	Postgres: `coalesce((SELECT json_agg(json_build_array(x.site_id, x.name, x.role) ORDER BY x.site_id, x.role)::text FROM (` +
		fmt.Sprintf(contactRolesRows, "") + `) x), '[]')`,
	// SQLite, left to choose, read the tenant's relationships in the
	// order of its primary key, to spare the sort, instead of the
	// person's through their index.
	SQLite: `coalesce((SELECT json_group_array(json_array(x.site_id, x.name, x.role)) FROM (` +
		fmt.Sprintf(contactRolesRows, " INDEXED BY relationships_person") + `) x), '[]')`,
}

const contactRolesRows = `SELECT r.site_id, coalesce(o.name, '') AS name, r.role FROM relationships r%s
		LEFT JOIN organizations o ON o.id = r.site_id AND o.tenant_id = r.tenant_id
		WHERE r.tenant_id = a.tenant_id AND r.person_id = a.person_id ORDER BY r.site_id, r.role LIMIT 1000`

// subjectCols, subjectFrom and subjectWhere read what OpenIDSubject holds,
// for an account a query names a. The CROSS JOIN fixes the order of the
// joins in SQLite, from the account to its person by key: left to choose,
// SQLite read every person of the tenant through persons(tenant_id) for
// each token (PostgreSQL plans it like any join).
func subjectCols(d Dialect, roles bool) string {
	rolesCol := `'[]'`
	if roles {
		rolesCol = contactRolesCol[d]
	}
	return prefixed("a.", accountCols) + `, p.first_name, p.last_name, p.department_id, p.job_profile_id, p.language, p.organization_id,
		coalesce(i.email, ''), coalesce(pl.key, ''), coalesce(o.name, ''), coalesce(o.kind, ''), ` + rolesCol
}

const subjectFrom = ` CROSS JOIN persons p
		LEFT JOIN identities i ON i.id = a.identity_id AND a.identity_id <> ''
		LEFT JOIN plans pl ON pl.id = a.plan_id AND pl.tenant_id = a.tenant_id
		LEFT JOIN organizations o ON o.id = p.organization_id AND o.tenant_id = a.tenant_id`

const subjectWhere = ` AND p.id = a.person_id AND p.tenant_id = a.tenant_id`

// OpenIDSubject reads an account of tenant with its person, its identity's
// email, its plan's key and its organization and, with roles, its person's
// contact roles, in one query.
func (t *Tx) OpenIDSubject(ctx context.Context, tenant, account string, roles bool) (OpenIDSubject, error) {
	row := t.QueryRowContext(ctx, openIDSubjectSQL(t.dialect, roles), tenant, account)
	s, err := t.scanSubject(row, tenant)
	if notFound(err) {
		return s, usher.NotFound("account", "account")
	}
	return s, err
}

func openIDSubjectSQL(d Dialect, roles bool) string {
	return `SELECT ` + subjectCols(d, roles) + ` FROM accounts a` + subjectFrom + `
		WHERE a.tenant_id = $1 AND a.id = $2` + subjectWhere
}

func authRequestWithSubjectSQL(d Dialect) string {
	return `SELECT ` + subjectCols(d, true) + `, ` + prefixed("ar.", authRequestCols) + `
		FROM openid_auth_requests ar CROSS JOIN accounts a` + subjectFrom + `
		WHERE ar.code_hash = $2 AND ar.code_hash <> '' AND ar.tenant_id = $1 AND a.id = ar.account_id AND a.tenant_id = ar.tenant_id` + subjectWhere
}

// AuthRequestByCodeWithSubject reads the authorization request of tenant
// whose code has hash with its account's claims (contact roles included),
// in one query: a code exchange needs both.
func (t *Tx) AuthRequestByCodeWithSubject(ctx context.Context, tenant, hash string) (AuthRequest, OpenIDSubject, error) {
	row := t.QueryRowContext(ctx, authRequestWithSubjectSQL(t.dialect), tenant, hash)
	var s OpenIDSubject
	ar, err := scanAuthRequest(scanFunc(func(arDest ...any) error {
		var err error
		s, err = t.scanSubject(extraScanner{row, arDest}, tenant)
		return err
	}))
	if notFound(err) {
		return ar, s, usher.NotFound("code", "code")
	}
	return ar, s, err
}

// scanSubject scans subjectCols of row, then its other columns into
// extra.
func (t *Tx) scanSubject(row scanner, tenant string) (OpenIDSubject, error) {
	var s OpenIDSubject
	p := &s.Person
	var rolesJSON string
	a, err := t.scanAccount(extraScanner{row, []any{&p.FirstName, &p.LastName, &p.DepartmentID, &p.JobProfileID, &p.Language, &p.OrganizationID,
		&s.IdentityEmail, &s.PlanKey, &s.OrgName, &s.OrgKind, &rolesJSON}})
	if notFound(err) {
		return s, err
	}
	if err != nil {
		return s, fmt.Errorf("read account's claims: %w", err)
	}
	s.Account, p.ID, p.TenantID = a, a.PersonID, tenant
	var triples [][3]string
	if err := json.Unmarshal([]byte(rolesJSON), &triples); err != nil {
		return s, fmt.Errorf("read account's contact roles: %w", err)
	}
	for _, r := range triples {
		if n := len(s.Roles); n == 0 || s.Roles[n-1].SiteID != r[0] {
			s.Roles = append(s.Roles, ContactRole{SiteID: r[0], Site: r[1]})
		}
		s.Roles[len(s.Roles)-1].Roles = append(s.Roles[len(s.Roles)-1].Roles, r[2])
	}
	return s, nil
}
