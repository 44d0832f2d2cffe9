package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/usherhq/usher"
)

// SetRelationship replaces person's contact roles at site with roles. An
// empty roles removes the relationship. "Primary" held by someone else at
// the site is a conflict on "roles".
func (t *Tx) SetRelationship(ctx context.Context, tenant, site, person string, roles []string) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM relationships WHERE tenant_id = $1 AND site_id = $2 AND person_id = $3`, tenant, site, person); err != nil {
		return fmt.Errorf("clear relationship: %w", err)
	}
	for _, role := range roles {
		res, err := t.ExecContext(ctx, `INSERT INTO relationships (tenant_id, site_id, person_id, role, created_at) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT DO NOTHING`, tenant, site, person, role, t.now)
		if err != nil {
			return fmt.Errorf("add contact role: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if role == usher.PrimaryContactRole {
				return usher.Conflict("roles", "the site already has a Primary contact; the Primary role can be held by one person per site")
			}
			return usher.Invalid("roles", "role %q is listed twice", role)
		}
	}
	return nil
}

// HasRelationships reports whether person is related to any site.
func (t *Tx) HasRelationships(ctx context.Context, tenant, person string) (bool, error) {
	var n int
	err := t.QueryRowContext(ctx, `SELECT count(*) FROM relationships WHERE tenant_id = $1 AND person_id = $2`, tenant, person).Scan(&n)
	return n > 0, err
}

// RelationshipFilter selects by site or by person (at least one).
type RelationshipFilter struct {
	SiteID   string
	PersonID string
}

// Relationships lists contact roles grouped per (site, person), ordered by site then person.
func (t *Tx) Relationships(ctx context.Context, tenant string, f RelationshipFilter) ([]usher.Relationship, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.SiteID != "" {
		w.add("site_id = ?", f.SiteID)
	}
	if f.PersonID != "" {
		w.add("person_id = ?", f.PersonID)
	}
	rows, err := t.QueryContext(ctx, `SELECT site_id, person_id, role, created_at FROM relationships`+w.sql()+` ORDER BY site_id, person_id, role LIMIT 10000`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("list relationships: %w", err)
	}
	defer rows.Close()
	var out []usher.Relationship
	for rows.Next() {
		var site, person, role string
		var at time.Time
		if err := rows.Scan(&site, &person, &role, &at); err != nil {
			return nil, err
		}
		n := len(out)
		if n == 0 || out[n-1].SiteID != site || out[n-1].PersonID != person {
			out = append(out, usher.Relationship{TenantID: tenant, SiteID: site, PersonID: person, CreatedAt: at.UTC(), UpdatedAt: at.UTC()})
			n++
		}
		r := &out[n-1]
		r.Roles = append(r.Roles, role)
		if at.Before(r.CreatedAt) {
			r.CreatedAt = at.UTC()
		}
		if at.After(r.UpdatedAt) {
			r.UpdatedAt = at.UTC()
		}
	}
	for i := range out {
		sort.Strings(out[i].Roles)
	}
	return out, rows.Err()
}
