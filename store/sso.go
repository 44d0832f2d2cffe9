package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/usherhq/usher"
)

// SSOSubject returns the account an identity provider's subject stands for.
func (t *Tx) SSOSubject(ctx context.Context, tenant, connection, subject string) (string, error) {
	var id string
	err := t.QueryRowContext(ctx, `SELECT account_id FROM sso_subjects WHERE tenant_id = $1 AND connection_id = $2 AND subject = $3`,
		tenant, connection, subject).Scan(&id)
	if notFound(err) {
		return "", usher.NotFound("subject", "account for the subject")
	}
	return id, err
}

// SubjectOf returns the subject an account is tied to on a connection, or "".
func (t *Tx) SubjectOf(ctx context.Context, tenant, connection, account string) (string, error) {
	var sub string
	err := t.QueryRowContext(ctx, `SELECT subject FROM sso_subjects WHERE tenant_id = $1 AND connection_id = $2 AND account_id = $3`,
		tenant, connection, account).Scan(&sub)
	if notFound(err) {
		return "", nil
	}
	return sub, err
}

// TieSubject ties an identity provider's subject to an account; a subject
// or account already tied is a conflict.
func (t *Tx) TieSubject(ctx context.Context, tenant, connection, subject, account string) error {
	res, err := t.ExecContext(ctx, `INSERT INTO sso_subjects (tenant_id, connection_id, subject, account_id, created_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT DO NOTHING`, tenant, connection, subject, account, t.now)
	if err != nil {
		return fmt.Errorf("tie subject: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("subject", "the account or the subject is already tied to another")
	}
	return nil
}

// SSORequest is a sign-in under way through a connection.
type SSORequest struct {
	ID           string // the hash of the state the browser holds
	TenantID     string
	ConnectionID string
	Purpose      string
	Nonce        string
	Verifier     string
	RequestID    string // SAML AuthnRequest ID
	Next         string
	Result       string // what the identity provider said, once it did
	CreatedAt    time.Time
	ExpiresAt    time.Time
	AnsweredAt   *time.Time
	UsedAt       *time.Time
}

const ssoReqCols = `id, tenant_id, connection_id, purpose, nonce, verifier, request_id, next, result, created_at, expires_at, answered_at, used_at`

func scanSSORequest(r scanner) (SSORequest, error) {
	var q SSORequest
	var answered, used sql.NullTime
	err := r.Scan(&q.ID, &q.TenantID, &q.ConnectionID, &q.Purpose, &q.Nonce, &q.Verifier, &q.RequestID, &q.Next, &q.Result,
		&q.CreatedAt, &q.ExpiresAt, &answered, &used)
	q.CreatedAt, q.ExpiresAt = q.CreatedAt.UTC(), q.ExpiresAt.UTC()
	q.AnsweredAt, q.UsedAt = ptrTime(answered), ptrTime(used)
	return q, err
}

// InsertSSORequest stores a sign-in under way; expired ones are removed
// on the way.
func (t *Tx) InsertSSORequest(ctx context.Context, q *SSORequest) error {
	q.CreatedAt = t.now
	if _, err := t.ExecContext(ctx, `DELETE FROM sso_requests WHERE expires_at < $1`, t.now.Add(-time.Hour)); err != nil {
		return fmt.Errorf("remove old sign-ins: %w", err)
	}
	_, err := t.ExecContext(ctx, `INSERT INTO sso_requests (`+ssoReqCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'',$9,$10,NULL,NULL)`,
		q.ID, q.TenantID, q.ConnectionID, q.Purpose, q.Nonce, q.Verifier, q.RequestID, q.Next, t.now, q.ExpiresAt)
	if err != nil {
		return fmt.Errorf("insert sign-in request: %w", err)
	}
	return nil
}

// SSORequest returns a sign-in under way by the hash of its state.
func (t *Tx) SSORequest(ctx context.Context, tenant, id string) (SSORequest, error) {
	q, err := scanSSORequest(t.QueryRowContext(ctx, `SELECT `+ssoReqCols+` FROM sso_requests WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return q, usher.NotFound("state", "sign-in")
	}
	return q, err
}

// SSORequestByRequestID returns the sign-in that sent a SAML AuthnRequest.
func (t *Tx) SSORequestByRequestID(ctx context.Context, tenant, connection, requestID string) (SSORequest, error) {
	q, err := scanSSORequest(t.QueryRowContext(ctx, `SELECT `+ssoReqCols+` FROM sso_requests WHERE connection_id = $1 AND request_id = $2 AND tenant_id = $3`+t.forUpdate(),
		connection, requestID, tenant))
	if notFound(err) {
		return q, usher.NotFound("InResponseTo", "sign-in request")
	}
	return q, err
}

// AnswerSSORequest records what the identity provider said, once.
func (t *Tx) AnswerSSORequest(ctx context.Context, id, result string) error {
	res, err := t.ExecContext(ctx, `UPDATE sso_requests SET result = $2, answered_at = $3 WHERE id = $1 AND answered_at IS NULL AND used_at IS NULL`, id, result, t.now)
	if err != nil {
		return fmt.Errorf("answer sign-in request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("state", "the identity provider already answered this sign-in")
	}
	return nil
}

// UseSSORequest marks a sign-in under way as used, once.
func (t *Tx) UseSSORequest(ctx context.Context, id string) error {
	res, err := t.ExecContext(ctx, `UPDATE sso_requests SET used_at = $2 WHERE id = $1 AND used_at IS NULL`, id, t.now)
	if err != nil {
		return fmt.Errorf("use sign-in request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("state", "this sign-in was already used")
	}
	return nil
}

// AcceptAssertion records a SAML assertion's ID until it expires; one seen
// before is a conflict (a replay).
func (t *Tx) AcceptAssertion(ctx context.Context, connection, id string, expires time.Time) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM sso_assertions WHERE expires_at < $1`, t.now); err != nil {
		return fmt.Errorf("remove expired assertions: %w", err)
	}
	res, err := t.ExecContext(ctx, `INSERT INTO sso_assertions (connection_id, assertion_id, expires_at) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`,
		connection, id, expires)
	if err != nil {
		return fmt.Errorf("record assertion: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("assertion", "this assertion was already used")
	}
	return nil
}
