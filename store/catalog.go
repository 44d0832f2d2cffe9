package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/usherhq/usher"
)

const attrCols = `id, tenant_id, key, name, description, external_id, managed_by, created_at, updated_at, deactivated_at`

func scanAttr(r scanner) (usher.Attribute, error) {
	var a usher.Attribute
	var deact sql.NullTime
	err := r.Scan(&a.ID, &a.TenantID, &a.Key, &a.Name, &a.Description, &a.ExternalID, &a.ManagedBy, &a.CreatedAt, &a.UpdatedAt, &deact)
	a.DeactivatedAt = ptrTime(deact)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, err
}

// InsertAttribute stores a role, department, job profile or group (kind is
// one of usher.Kind*). A taken key is a conflict on "key".
func (t *Tx) InsertAttribute(ctx context.Context, tenant, kind string, a *usher.Attribute) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	a.TenantID, a.CreatedAt, a.UpdatedAt = tenant, t.now, t.now
	res, err := t.ExecContext(ctx, `INSERT INTO attributes (id, tenant_id, kind, key, name, description, external_id, managed_by, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING`, a.ID, tenant, kind, a.Key, a.Name, a.Description, a.ExternalID, a.ManagedBy, t.now, t.now)
	if err != nil {
		return fmt.Errorf("insert %s: %w", kind, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("key", "key %q is already used", a.Key)
	}
	return nil
}

// Attribute returns the attribute id of kind in tenant; field names the
// input it came from, for the not-found error.
func (t *Tx) Attribute(ctx context.Context, tenant, kind, id string) (usher.Attribute, error) {
	a, err := scanAttr(t.QueryRowContext(ctx, `SELECT `+attrCols+` FROM attributes WHERE tenant_id = $1 AND kind = $2 AND id = $3`+t.forUpdate(), tenant, kind, id))
	if notFound(err) {
		return a, usher.NotFound("id", kindNoun(kind))
	}
	return a, err
}

// ActiveAttributes returns which of ids are active attributes of the given
// kinds in tenant, as id → kind, in one query.
func (t *Tx) ActiveAttributes(ctx context.Context, tenant string, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	w := &where{}
	w.add("tenant_id = ?", tenant)
	w.add("deactivated_at IS NULL")
	in := ""
	for i, id := range ids {
		if i > 0 {
			in += ","
		}
		in += w.next(id)
	}
	rows, err := t.QueryContext(ctx, `SELECT id, kind FROM attributes`+w.sql()+` AND id IN (`+in+`)`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("look up attributes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return nil, err
		}
		out[id] = kind
	}
	return out, rows.Err()
}

// Attributes lists tenant's attributes of kind.
func (t *Tx) Attributes(ctx context.Context, tenant, kind string, active bool, o ListOptions) ([]usher.Attribute, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	w.add("kind = ?", kind)
	if active {
		w.add("deactivated_at IS NULL")
	}
	return page(ctx, t, `SELECT `+attrCols+` FROM attributes`, w, o, scanAttr, func(x usher.Attribute) string { return x.ID })
}

// UpdateAttribute writes name, description, external id, source and
// deactivation of a.
func (t *Tx) UpdateAttribute(ctx context.Context, tenant, kind string, a *usher.Attribute) error {
	a.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE attributes SET name = $4, description = $5, updated_at = $6, deactivated_at = $7, external_id = $8, managed_by = $9
		WHERE tenant_id = $1 AND kind = $2 AND id = $3`, tenant, kind, a.ID, a.Name, a.Description, t.now, nullTime(a.DeactivatedAt), a.ExternalID, a.ManagedBy)
	if err != nil {
		return fmt.Errorf("update %s: %w", kind, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("id", kindNoun(kind))
	}
	return nil
}

func kindNoun(kind string) string {
	switch kind {
	case usher.KindRole:
		return "role"
	case usher.KindDepartment:
		return "department"
	case usher.KindJobProfile:
		return "job profile"
	case usher.KindGroup:
		return "group"
	}
	return kind
}

const planSelect = `SELECT p.id, p.tenant_id, p.key, p.name, p.seats,
	(SELECT count(*) FROM plan_seats s WHERE s.plan_id = p.id AND s.account_id IS NOT NULL),
	p.created_at, p.updated_at, p.deactivated_at FROM plans p`

func scanPlan(r scanner) (usher.Plan, error) {
	var p usher.Plan
	var deact sql.NullTime
	err := r.Scan(&p.ID, &p.TenantID, &p.Key, &p.Name, &p.Seats, &p.SeatsUsed, &p.CreatedAt, &p.UpdatedAt, &deact)
	p.DeactivatedAt = ptrTime(deact)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

// InsertPlan stores p with p.Seats free seats.
func (t *Tx) InsertPlan(ctx context.Context, tenant string, p *usher.Plan) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	p.TenantID, p.CreatedAt, p.UpdatedAt, p.SeatsUsed = tenant, t.now, t.now, 0
	res, err := t.ExecContext(ctx, `INSERT INTO plans (id, tenant_id, key, name, seats, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING`, p.ID, tenant, p.Key, p.Name, p.Seats, t.now, t.now)
	if err != nil {
		return fmt.Errorf("insert plan: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("key", "key %q is already used", p.Key)
	}
	return t.addSeats(ctx, tenant, p.ID, p.Seats)
}

// seatsPerStatement bounds the seats one statement of addSeats adds.
const seatsPerStatement = 10_000

// addSeats adds count free seats numbered after the highest seat of plan.
func (t *Tx) addSeats(ctx context.Context, tenant, plan string, count int) error {
	if count <= 0 {
		return nil
	}
	var last int
	if err := t.QueryRowContext(ctx, `SELECT coalesce(max(seat_no), 0) FROM plan_seats WHERE plan_id = $1`, plan).Scan(&last); err != nil {
		return fmt.Errorf("add seats: %w", err)
	}
	// A recursive series works on both databases. In statements of at most
	// seatsPerStatement seats: SQLite keeps what one statement changed in
	// memory until it ends (to undo the statement alone), and 1,000,000 seats
	// at once took the server from 50 to 250 MB.
	for from := last + 1; from <= last+count; from += seatsPerStatement {
		to := min(from+seatsPerStatement-1, last+count)
		_, err := t.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT CAST($3 AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i < CAST($4 AS INTEGER))
			INSERT INTO plan_seats (tenant_id, plan_id, seat_no) SELECT $1, $2, i FROM n`, tenant, plan, from, to)
		if err != nil {
			return fmt.Errorf("add seats: %w", err)
		}
	}
	if t.dialect == Postgres {
		// Statistics that predate these seats (or none, where autovacuum
		// is off) make PostgreSQL think a plan has a few free seats: a seat
		// claim then sorts every free seat of the plan instead of reading
		// the first from the index, ≈ 120 ms a claim with 1,000,000 seats
		// (25 creations/s). ANALYZE counts this transaction's own new rows;
		// it samples at most 30,000, so it costs the same at any size.
		if _, err := t.ExecContext(ctx, `ANALYZE plan_seats`); err != nil {
			return fmt.Errorf("analyze seats: %w", err)
		}
	}
	return nil
}

// Plan returns plan id of tenant with its seats used.
func (t *Tx) Plan(ctx context.Context, tenant, id string) (usher.Plan, error) {
	p, err := scanPlan(t.QueryRowContext(ctx, planSelect+` WHERE p.tenant_id = $1 AND p.id = $2`, tenant, id))
	if notFound(err) {
		return p, usher.NotFound("plan_id", "plan")
	}
	return p, err
}

// Plans lists tenant's plans.
func (t *Tx) Plans(ctx context.Context, tenant string, active bool, o ListOptions) ([]usher.Plan, string, error) {
	w := &where{}
	w.add("p.tenant_id = ?", tenant)
	if active {
		w.add("p.deactivated_at IS NULL")
	}
	if o.After != "" {
		w.add("p.id > ?", o.After)
		o.After = ""
	}
	return page(ctx, t, planSelect, w, o, scanPlan, func(x usher.Plan) string { return x.ID })
}

// UpdatePlan writes name, seats and deactivation. Seats below the number
// held is a conflict on "seats".
func (t *Tx) UpdatePlan(ctx context.Context, tenant string, p *usher.Plan) error {
	var cur int
	err := t.QueryRowContext(ctx, `SELECT seats FROM plans WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, p.ID).Scan(&cur)
	if notFound(err) {
		return usher.NotFound("plan_id", "plan")
	}
	if err != nil {
		return fmt.Errorf("read plan: %w", err)
	}
	if p.Seats > cur {
		if err := t.addSeats(ctx, tenant, p.ID, p.Seats-cur); err != nil {
			return err
		}
	} else if p.Seats < cur {
		// Drop the highest free seats; if too few are free, refuse.
		res, err := t.ExecContext(ctx, `DELETE FROM plan_seats WHERE plan_id = $1 AND seat_no IN (SELECT seat_no FROM plan_seats
			WHERE plan_id = $1 AND account_id IS NULL ORDER BY seat_no DESC LIMIT $2)`, p.ID, cur-p.Seats)
		if err != nil {
			return fmt.Errorf("remove seats: %w", err)
		}
		if n, _ := res.RowsAffected(); n < int64(cur-p.Seats) {
			return usher.Conflict("seats", "only %d of %d seats are free; deactivate accounts or move them to another plan first", n, cur)
		}
	}
	p.UpdatedAt = t.now
	_, err = t.ExecContext(ctx, `UPDATE plans SET name = $3, seats = $4, updated_at = $5, deactivated_at = $6 WHERE tenant_id = $1 AND id = $2`,
		tenant, p.ID, p.Name, p.Seats, t.now, nullTime(p.DeactivatedAt))
	if err != nil {
		return fmt.Errorf("update plan: %w", err)
	}
	return nil
}
