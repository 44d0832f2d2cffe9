package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/usherhq/usher"
)

const orgCols = `id, tenant_id, name, kind, parent_id, created_at, updated_at, deactivated_at`

func scanOrg(r scanner) (usher.Organization, error) {
	var o usher.Organization
	var deact sql.NullTime
	err := r.Scan(&o.ID, &o.TenantID, &o.Name, &o.Kind, &o.ParentID, &o.CreatedAt, &o.UpdatedAt, &deact)
	o.DeactivatedAt = ptrTime(deact)
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, err
}

// InsertOrganization stores o in tenant.
func (t *Tx) InsertOrganization(ctx context.Context, tenant string, o *usher.Organization) error {
	if o.ID == "" {
		o.ID = NewID()
	}
	o.TenantID, o.CreatedAt, o.UpdatedAt = tenant, t.now, t.now
	res, err := t.ExecContext(ctx, `INSERT INTO organizations (`+orgCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,NULL) ON CONFLICT DO NOTHING`,
		o.ID, tenant, o.Name, o.Kind, o.ParentID, t.now, t.now)
	if err != nil {
		return fmt.Errorf("insert organization: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("kind", "the tenant already has its internal organization")
	}
	return nil
}

// Organization returns the organization id of tenant.
func (t *Tx) Organization(ctx context.Context, tenant, id string) (usher.Organization, error) {
	o, err := scanOrg(t.QueryRowContext(ctx, `SELECT `+orgCols+` FROM organizations WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return o, usher.NotFound("organization_id", "organization")
	}
	return o, err
}

// InternalOrganization returns the tenant's own organization.
func (t *Tx) InternalOrganization(ctx context.Context, tenant string) (usher.Organization, error) {
	o, err := scanOrg(t.QueryRowContext(ctx, `SELECT `+orgCols+` FROM organizations WHERE tenant_id = $1 AND kind = 'internal' AND parent_id = ''`, tenant))
	if notFound(err) {
		return o, usher.NotFound("organization_id", "internal organization")
	}
	return o, err
}

// OrganizationFilter narrows a list of organizations.
type OrganizationFilter struct {
	Kind     string
	ParentID string // "-" lists top-level organizations only
	Name     string // prefix, case-insensitive
	Active   bool   // leave out deactivated ones
}

// Organizations lists tenant's organizations.
func (t *Tx) Organizations(ctx context.Context, tenant string, f OrganizationFilter, o ListOptions) ([]usher.Organization, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.Kind != "" {
		w.add("kind = ?", f.Kind)
	}
	switch f.ParentID {
	case "":
	case "-":
		w.add("parent_id = ''")
	default:
		w.add("parent_id = ?", f.ParentID)
	}
	if f.Name != "" {
		w.add(`lower(name) LIKE ? ESCAPE '\'`, likePrefix(f.Name))
	}
	if f.Active {
		w.add("deactivated_at IS NULL")
	}
	return page(ctx, t, `SELECT `+orgCols+` FROM organizations`, w, o, scanOrg, func(x usher.Organization) string { return x.ID })
}

// UpdateOrganization writes name and deactivation of o.
func (t *Tx) UpdateOrganization(ctx context.Context, tenant string, o *usher.Organization) error {
	o.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE organizations SET name = $3, updated_at = $4, deactivated_at = $5 WHERE tenant_id = $1 AND id = $2`,
		tenant, o.ID, o.Name, t.now, nullTime(o.DeactivatedAt))
	if err != nil {
		return fmt.Errorf("update organization: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("organization_id", "organization")
	}
	return nil
}
