package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/usherhq/usher"
)

const tenantCols = `id, slug, name, internal_org_id, settings, created_at, updated_at, deactivated_at`

func scanTenant(r scanner) (usher.Tenant, error) {
	var t usher.Tenant
	var settings string
	var deact sql.NullTime
	if err := r.Scan(&t.ID, &t.Slug, &t.Name, &t.InternalOrgID, &settings, &t.CreatedAt, &t.UpdatedAt, &deact); err != nil {
		return t, err
	}
	t.DeactivatedAt = ptrTime(deact)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(settings), &t.Settings); err != nil {
		return t, fmt.Errorf("tenant %s settings: %w", t.ID, err)
	}
	return t, nil
}

// InsertTenant stores a new tenant; a taken slug is a conflict on "slug".
// The caller creates the internal organization with tn.InternalOrgID.
func (t *Tx) InsertTenant(ctx context.Context, tn *usher.Tenant) error {
	if tn.ID == "" {
		tn.ID = NewID()
	}
	tn.CreatedAt, tn.UpdatedAt = t.now, t.now
	settings, err := json.Marshal(tn.Settings)
	if err != nil {
		return err
	}
	if tn.InternalOrgID == "" {
		tn.InternalOrgID = NewID()
	}
	res, err := t.ExecContext(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,NULL) ON CONFLICT DO NOTHING`,
		tn.ID, tn.Slug, tn.Name, tn.InternalOrgID, string(settings), t.now, t.now)
	if err != nil {
		return fmt.Errorf("insert tenant: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("slug", "a tenant with slug %q already exists", tn.Slug)
	}
	return nil
}

// Tenant returns the tenant with id.
func (t *Tx) Tenant(ctx context.Context, id string) (usher.Tenant, error) {
	tn, err := scanTenant(t.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`+t.forUpdate(), id))
	if notFound(err) {
		return tn, usher.NotFound("tenant", "tenant")
	}
	return tn, err
}

// TenantBySlug returns the tenant reached at slug.
func (t *Tx) TenantBySlug(ctx context.Context, slug string) (usher.Tenant, error) {
	tn, err := scanTenant(t.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE slug = $1`, slug))
	if notFound(err) {
		return tn, usher.NotFound("tenant", "tenant")
	}
	return tn, err
}

// Tenants lists tenants by id.
func (t *Tx) Tenants(ctx context.Context, o ListOptions) ([]usher.Tenant, string, error) {
	return page(ctx, t, `SELECT `+tenantCols+` FROM tenants`, &where{}, o, scanTenant, func(x usher.Tenant) string { return x.ID })
}

// UpdateTenant writes name, settings and deactivation of tn.
func (t *Tx) UpdateTenant(ctx context.Context, tn *usher.Tenant) error {
	settings, err := json.Marshal(tn.Settings)
	if err != nil {
		return err
	}
	tn.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE tenants SET name = $2, settings = $3, updated_at = $4, deactivated_at = $5 WHERE id = $1`,
		tn.ID, tn.Name, string(settings), t.now, nullTime(tn.DeactivatedAt))
	if err != nil {
		return fmt.Errorf("update tenant: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("tenant", "tenant")
	}
	return nil
}
