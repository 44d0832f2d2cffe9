package store

import (
	"context"
	"database/sql"

	"github.com/usherhq/usher"
)

// PlanRef returns a plan's name and whether it is deactivated, without
// counting its seats as Plan does: what a reference to it needs, once per
// row of an import.
func (t *Tx) PlanRef(ctx context.Context, tenant, id string) (name string, deactivated bool, err error) {
	var deact sql.NullTime
	err = t.QueryRowContext(ctx, `SELECT name, deactivated_at FROM plans WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&name, &deact)
	if notFound(err) {
		return "", false, usher.NotFound("plan_id", "plan")
	}
	return name, deact.Valid, err
}
