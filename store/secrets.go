package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/usherhq/usher"
)

// Activation is a stored activation secret: only its hash is kept. A
// "link" secret is found by its SHA-256; a "code" (SMS) and an "otp"
// (one-time password) are found through their account and compared.
type Activation struct {
	ID         string
	TenantID   string
	AccountID  string
	SecretHash string
	Kind       string // "link", "code", "otp"
	Attempts   int
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
}

const activationCols = `id, tenant_id, account_id, secret_hash, kind, attempts, created_at, expires_at, used_at`

func scanActivation(r scanner) (Activation, error) {
	var a Activation
	var used sql.NullTime
	err := r.Scan(&a.ID, &a.TenantID, &a.AccountID, &a.SecretHash, &a.Kind, &a.Attempts, &a.CreatedAt, &a.ExpiresAt, &used)
	a.UsedAt = ptrTime(used)
	a.CreatedAt, a.ExpiresAt = a.CreatedAt.UTC(), a.ExpiresAt.UTC()
	return a, err
}

// ActivationByHash returns the link secret of tenant with hash, used or not.
func (t *Tx) ActivationByHash(ctx context.Context, tenant, hash string) (Activation, error) {
	a, err := scanActivation(t.QueryRowContext(ctx, `SELECT `+activationCols+` FROM activations WHERE tenant_id = $1 AND secret_hash = $2 AND kind = 'link'`, tenant, hash))
	if notFound(err) {
		return a, usher.NotFound("secret", "activation")
	}
	return a, err
}

// UseActivation marks a secret used. It fails with a conflict when it was
// used already, so that two concurrent redemptions cannot both succeed.
func (t *Tx) UseActivation(ctx context.Context, tenant, id string) error {
	res, err := t.ExecContext(ctx, `UPDATE activations SET used_at = $3 WHERE tenant_id = $1 AND id = $2 AND used_at IS NULL`, tenant, id, t.now)
	if err != nil {
		return fmt.Errorf("use activation: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("secret", "this activation was used already")
	}
	return nil
}

// CountAttempt adds a failed attempt to a code or one-time password and
// returns the new count.
func (t *Tx) CountAttempt(ctx context.Context, tenant, id string) (int, error) {
	var n int
	err := t.QueryRowContext(ctx, `UPDATE activations SET attempts = attempts + 1 WHERE tenant_id = $1 AND id = $2 RETURNING attempts`, tenant, id).Scan(&n)
	return n, err
}

// SetIdentityPassword replaces an identity's password hash.
func (t *Tx) SetIdentityPassword(ctx context.Context, id, hash string) error {
	_, err := t.ExecContext(ctx, `UPDATE identities SET password_hash = $2, updated_at = $3 WHERE id = $1`, id, hash, t.now)
	return err
}

// RehashIdentityPassword replaces an identity's password hash old with
// hash, a new hash of the same password, unless the hash is no longer old:
// a password changed meanwhile must stay. The identity is not marked
// updated, as its password is not.
func (t *Tx) RehashIdentityPassword(ctx context.Context, id, old, hash string) error {
	return t.execThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("rehash identity password: %w", err)
		}
		return nil
	}, `UPDATE identities SET password_hash = $3 WHERE id = $1 AND password_hash = $2`, id, old, hash)
}

// IdentityPassword returns the password hash of identity id.
func (t *Tx) IdentityPassword(ctx context.Context, id string) (string, error) {
	var h string
	err := t.QueryRowContext(ctx, `SELECT password_hash FROM identities WHERE id = $1`, id).Scan(&h)
	if notFound(err) {
		return "", usher.NotFound("identity", "identity")
	}
	return h, err
}

// InsertActivation stores a.
func (t *Tx) InsertActivation(ctx context.Context, tenant string, a *Activation) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	a.CreatedAt = t.now
	a.TenantID = tenant
	return t.insertThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert activation: %w", err)
		}
		return nil
	}, `INSERT INTO activations (id, tenant_id, account_id, secret_hash, kind, created_at, expires_at) VALUES `, ``, 7,
		a.ID, tenant, a.AccountID, a.SecretHash, a.Kind, t.now, a.ExpiresAt.UTC())
}

// RevokeActivations makes every unused secret of account unusable.
func (t *Tx) RevokeActivations(ctx context.Context, tenant, account string) error {
	_, err := t.ExecContext(ctx, `UPDATE activations SET used_at = $3 WHERE tenant_id = $1 AND account_id = $2 AND used_at IS NULL`, tenant, account, t.now)
	return err
}

// Activations lists account's activation secrets, newest last.
func (t *Tx) Activations(ctx context.Context, tenant, account string) ([]Activation, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+activationCols+` FROM activations WHERE tenant_id = $1 AND account_id = $2 ORDER BY id`, tenant, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Activation
	for rows.Next() {
		a, err := scanActivation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// InsertToken stores an API token with the hash of its secret.
func (t *Tx) InsertToken(ctx context.Context, tenant string, tok *usher.APIToken, secretHash string) error {
	if tok.ID == "" {
		tok.ID = NewID()
	}
	tok.TenantID, tok.CreatedAt = tenant, t.now
	_, err := t.ExecContext(ctx, `INSERT INTO api_tokens (id, tenant_id, name, role, secret_hash, created_at, expires_at, patch_response) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		tok.ID, tenant, tok.Name, tok.Role, secretHash, t.now, nullTime(tok.ExpiresAt), tok.PatchResponse)
	if isUnique(err) {
		return usher.Conflict("token", "token already exists")
	}
	if err != nil {
		return fmt.Errorf("insert token: %w", err)
	}
	return nil
}

// EnsureToken stores a token with a fixed id unless it exists with the same
// hash; a changed secret replaces the old hash.
func (t *Tx) EnsureToken(ctx context.Context, tok *usher.APIToken, secretHash string) error {
	_, err := t.ExecContext(ctx, `INSERT INTO api_tokens (id, tenant_id, name, role, secret_hash, created_at) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, revoked_at = NULL`, tok.ID, tok.TenantID, tok.Name, tok.Role, secretHash, t.now)
	if err != nil {
		return fmt.Errorf("ensure token: %w", err)
	}
	return nil
}

const tokenCols = `id, tenant_id, name, role, created_at, expires_at, revoked_at, patch_response`

func scanToken(r scanner) (usher.APIToken, error) {
	var tok usher.APIToken
	var exp, rev sql.NullTime
	err := r.Scan(&tok.ID, &tok.TenantID, &tok.Name, &tok.Role, &tok.CreatedAt, &exp, &rev, &tok.PatchResponse)
	tok.ExpiresAt, tok.RevokedAt = ptrTime(exp), ptrTime(rev)
	tok.CreatedAt = tok.CreatedAt.UTC()
	if tok.Role == usher.PrincipalSCIM && tok.PatchResponse == "" {
		tok.PatchResponse = usher.PatchNoContent // made before sources had settings
	}
	return tok, err
}

// TokenByHash returns the token whose secret hashes to hash, whatever its tenant.
func (t *Tx) TokenByHash(ctx context.Context, hash string) (usher.APIToken, error) {
	tok, err := scanToken(t.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE secret_hash = $1`, hash))
	if notFound(err) {
		return tok, usher.ErrUnauthorized
	}
	return tok, err
}

// Tokens lists tenant's tokens ("" lists operator tokens).
func (t *Tx) Tokens(ctx context.Context, tenant string, o ListOptions) ([]usher.APIToken, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	return page(ctx, t, `SELECT `+tokenCols+` FROM api_tokens`, w, o, scanToken, func(x usher.APIToken) string { return x.ID })
}

// SetSourcePatchResponse sets how SCIM answers the PATCH requests of the
// provisioning source (scim token) id of tenant; a revoked one is not
// found.
func (t *Tx) SetSourcePatchResponse(ctx context.Context, tenant, id, patchResponse string) error {
	res, err := t.ExecContext(ctx, `UPDATE api_tokens SET patch_response = $4 WHERE tenant_id = $1 AND id = $2 AND role = $3 AND revoked_at IS NULL`,
		tenant, id, usher.PrincipalSCIM, patchResponse)
	if err != nil {
		return fmt.Errorf("update provisioning source: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("token_id", "provisioning source")
	}
	return nil
}

// RevokeToken revokes token id of tenant.
func (t *Tx) RevokeToken(ctx context.Context, tenant, id string) error {
	res, err := t.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL`, tenant, id, t.now)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("token_id", "token")
	}
	return nil
}

// Identity returns identity id.
func (t *Tx) Identity(ctx context.Context, id string) (usher.Identity, error) {
	var i usher.Identity
	err := t.QueryRowContext(ctx, `SELECT id, email, created_at FROM identities WHERE id = $1`, id).Scan(&i.ID, &i.Email, &i.CreatedAt)
	if notFound(err) {
		return i, usher.NotFound("id", "identity")
	}
	i.CreatedAt = i.CreatedAt.UTC()
	return i, err
}

// IdentityAccount is one account an identity stands behind.
type IdentityAccount struct {
	TenantSlug string `json:"tenant"`
	AccountID  string `json:"account_id"`
	State      string `json:"state"`
}

// AccountsOfIdentity lists the accounts behind identity in every tenant.
// It crosses tenants by design: only operators may call it.
func (t *Tx) AccountsOfIdentity(ctx context.Context, identity string) ([]IdentityAccount, error) {
	rows, err := t.QueryContext(ctx, `SELECT tn.slug, a.id, a.state FROM accounts a JOIN tenants tn ON tn.id = a.tenant_id
		WHERE a.identity_id = $1 AND a.identity_id <> '' ORDER BY tn.slug LIMIT 1000`, identity)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []IdentityAccount{}
	for rows.Next() {
		var ia IdentityAccount
		if err := rows.Scan(&ia.TenantSlug, &ia.AccountID, &ia.State); err != nil {
			return nil, err
		}
		out = append(out, ia)
	}
	return out, rows.Err()
}

// IdentityByEmail returns the identity that signs in with email.
func (t *Tx) IdentityByEmail(ctx context.Context, email string) (usher.Identity, error) {
	var id usher.Identity
	err := t.QueryRowContext(ctx, `SELECT id, email, created_at FROM identities WHERE email = $1`, email).Scan(&id.ID, &id.Email, &id.CreatedAt)
	if notFound(err) {
		return id, usher.NotFound("email", "identity")
	}
	return id, err
}

// InsertIdentity stores a new identity; a taken email is a conflict.
func (t *Tx) InsertIdentity(ctx context.Context, id *usher.Identity, passwordHash string) error {
	if id.ID == "" {
		id.ID = NewID()
	}
	id.CreatedAt = t.now
	res, err := t.ExecContext(ctx, `INSERT INTO identities (id, email, password_hash, created_at, updated_at) VALUES ($1,$2,$3,$4,$4) ON CONFLICT DO NOTHING`,
		id.ID, id.Email, passwordHash, t.now)
	if err != nil {
		return fmt.Errorf("insert identity: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("email", "an identity with this email exists")
	}
	return nil
}

// Token returns the API token with id, operator or tenant.
func (t *Tx) Token(ctx context.Context, id string) (usher.APIToken, error) {
	tok, err := scanToken(t.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`, id))
	if notFound(err) {
		return tok, usher.ErrUnauthorized
	}
	return tok, err
}
