package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/usherhq/usher"
)

const signupCols = `id, tenant_id, code, name, department_id, job_profile_id, role_id, plan_id, expires_at, max_uses, uses,
	disabled_at, created_at, updated_at`

// scanSignupLink scans a link and computes its status at the unit of
// work's time.
func (t *Tx) scanSignupLink(r scanner) (usher.SignupLink, error) {
	var l usher.SignupLink
	var exp, dis sql.NullTime
	err := r.Scan(&l.ID, &l.TenantID, &l.Code, &l.Name, &l.DepartmentID, &l.JobProfileID, &l.RoleID, &l.PlanID, &exp,
		&l.MaxUses, &l.Uses, &dis, &l.CreatedAt, &l.UpdatedAt)
	l.ExpiresAt, l.DisabledAt = ptrTime(exp), ptrTime(dis)
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	l.Status = l.StatusAt(t.now)
	return l, err
}

// InsertSignupLink stores l with no uses. A code already taken (by any
// tenant) is a conflict on "code".
func (t *Tx) InsertSignupLink(ctx context.Context, tenant string, l *usher.SignupLink) error {
	if l.ID == "" {
		l.ID = NewID()
	}
	l.TenantID, l.CreatedAt, l.UpdatedAt, l.Uses = tenant, t.now, t.now, 0
	res, err := t.ExecContext(ctx, `INSERT INTO signup_links (`+signupCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,0,$11,$12,$13)
		ON CONFLICT DO NOTHING`, l.ID, tenant, l.Code, l.Name, l.DepartmentID, l.JobProfileID, l.RoleID, l.PlanID,
		nullTime(l.ExpiresAt), l.MaxUses, nullTime(l.DisabledAt), t.now, t.now)
	if err != nil {
		return fmt.Errorf("insert sign-up link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("code", "the code is already used")
	}
	l.Status = l.StatusAt(t.now)
	return nil
}

// SignupLink returns the sign-up link id of tenant, locked for update in a
// write on PostgreSQL.
func (t *Tx) SignupLink(ctx context.Context, tenant, id string) (usher.SignupLink, error) {
	l, err := t.scanSignupLink(t.QueryRowContext(ctx, `SELECT `+signupCols+` FROM signup_links WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return l, usher.NotFound("id", "sign-up link")
	}
	return l, err
}

// SignupLinkByCode returns tenant's sign-up link with code, whatever its
// status; another tenant's code is not found.
func (t *Tx) SignupLinkByCode(ctx context.Context, tenant, code string) (usher.SignupLink, error) {
	l, err := t.scanSignupLink(t.QueryRowContext(ctx, `SELECT `+signupCols+` FROM signup_links WHERE tenant_id = $1 AND code = $2`, tenant, code))
	if notFound(err) {
		return l, usher.NotFound("code", "sign-up link")
	}
	return l, err
}

// SignupLinkFilter narrows a list of sign-up links.
type SignupLinkFilter struct {
	DepartmentID string // "-" lists the tenant's links, those without a department
	Status       string // one of usher.Signup*, at the unit of work's time
}

// SignupLinks lists tenant's sign-up links.
func (t *Tx) SignupLinks(ctx context.Context, tenant string, f SignupLinkFilter, o ListOptions) ([]usher.SignupLink, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	switch f.DepartmentID {
	case "":
	case "-":
		w.add("department_id = ''")
	default:
		w.add("department_id = ?", f.DepartmentID)
	}
	// The same precedence as usher.SignupLink.StatusAt.
	switch f.Status {
	case "":
	case usher.SignupDisabled:
		w.add("disabled_at IS NOT NULL")
	case usher.SignupExpired:
		w.add("disabled_at IS NULL AND expires_at <= ?", t.now)
	case usher.SignupUsedUp:
		w.add("disabled_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND max_uses > 0 AND uses >= max_uses", t.now)
	case usher.SignupActive:
		w.add("disabled_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND (max_uses = 0 OR uses < max_uses)", t.now)
	default:
		return nil, "", usher.Invalid("status", "must be one of %s, %s, %s, %s", usher.SignupActive, usher.SignupExpired, usher.SignupUsedUp, usher.SignupDisabled)
	}
	return page(ctx, t, `SELECT `+signupCols+` FROM signup_links`, w, o, t.scanSignupLink, func(x usher.SignupLink) string { return x.ID })
}

// UpdateSignupLink writes what an administrator may change: name, defaults,
// expiry, max uses and disabling. Uses are left alone, so an update never
// undoes a concurrent use.
func (t *Tx) UpdateSignupLink(ctx context.Context, tenant string, l *usher.SignupLink) error {
	l.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE signup_links SET name = $3, department_id = $4, job_profile_id = $5, role_id = $6, plan_id = $7,
		expires_at = $8, max_uses = $9, disabled_at = $10, updated_at = $11 WHERE tenant_id = $1 AND id = $2`,
		tenant, l.ID, l.Name, l.DepartmentID, l.JobProfileID, l.RoleID, l.PlanID, nullTime(l.ExpiresAt), l.MaxUses, nullTime(l.DisabledAt), t.now)
	if err != nil {
		return fmt.Errorf("update sign-up link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("id", "sign-up link")
	}
	l.Status = l.StatusAt(t.now)
	return nil
}

// UseSignupLink counts one use of the link, inside the write that creates
// the account, or refuses with the usher.ErrSignupLink* error saying why
// (disabled, expired at t.Now(), used up, or unknown in tenant). The check
// and the increment are one statement: on PostgreSQL concurrent uses queue
// on the row and each re-checks uses < max_uses against the committed
// count, and SQLite has one writer, so a link is never used more than
// max_uses times.
func (t *Tx) UseSignupLink(ctx context.Context, tenantID, linkID string) error {
	res, err := t.ExecContext(ctx, `UPDATE signup_links SET uses = uses + 1
		WHERE tenant_id = $1 AND id = $2 AND disabled_at IS NULL AND (expires_at IS NULL OR expires_at > $3) AND (max_uses = 0 OR uses < max_uses)`,
		tenantID, linkID, t.now)
	if err != nil {
		return fmt.Errorf("use sign-up link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	// Refused: read the link to say why.
	l, err := t.SignupLink(ctx, tenantID, linkID)
	if usher.ErrorCode(err) == usher.CodeNotFound {
		return usher.ErrSignupLinkUnknown
	}
	if err != nil {
		return err
	}
	if err := l.Refusal(t.now); err != nil {
		return err
	}
	return fmt.Errorf("use sign-up link %s: refused although it reads as usable", linkID)
}
