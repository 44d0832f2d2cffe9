package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/usherhq/usher"
)

// LinkWebhook is where a tenant's product hears of its links' changes.
type LinkWebhook struct {
	TenantID  string
	URL       string
	Secret    string // sealed
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LinkWebhook returns tenant's webhook for link events.
func (t *Tx) LinkWebhook(ctx context.Context, tenant string) (LinkWebhook, error) {
	var w LinkWebhook
	err := t.QueryRowContext(ctx, `SELECT tenant_id, url, secret, created_at, updated_at FROM link_webhooks WHERE tenant_id = $1`+t.forUpdate(),
		tenant).Scan(&w.TenantID, &w.URL, &w.Secret, &w.CreatedAt, &w.UpdatedAt)
	if notFound(err) {
		return w, usher.NotFound("", "link webhook")
	}
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return w, err
}

// SaveLinkWebhook writes tenant's webhook for link events, making it when
// there is none.
func (t *Tx) SaveLinkWebhook(ctx context.Context, w *LinkWebhook) error {
	w.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE link_webhooks SET url = $2, secret = $3, updated_at = $4 WHERE tenant_id = $1`,
		w.TenantID, w.URL, w.Secret, t.now)
	if err != nil {
		return fmt.Errorf("update link webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	w.CreatedAt = t.now
	if _, err := t.ExecContext(ctx, `INSERT INTO link_webhooks (tenant_id, url, secret, created_at, updated_at) VALUES ($1,$2,$3,$4,$4)`,
		w.TenantID, w.URL, w.Secret, t.now); err != nil {
		return fmt.Errorf("insert link webhook: %w", err)
	}
	return nil
}

// DeleteLinkWebhook removes tenant's webhook for link events; the events
// not yet delivered are abandoned.
func (t *Tx) DeleteLinkWebhook(ctx context.Context, tenant string) error {
	res, err := t.ExecContext(ctx, `DELETE FROM link_webhooks WHERE tenant_id = $1`, tenant)
	if err != nil {
		return fmt.Errorf("delete link webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("", "link webhook")
	}
	if _, err := t.ExecContext(ctx, `UPDATE link_events SET abandoned_at = $2, last_error = 'the webhook was removed', lease_owner = '', lease_until = NULL
		WHERE tenant_id = $1 AND delivered_at IS NULL AND abandoned_at IS NULL`, tenant, t.now); err != nil {
		return fmt.Errorf("abandon link events: %w", err)
	}
	return nil
}

// LinkEventStateChanged is the type of a link's change of state.
const LinkEventStateChanged = "link.state_changed"

// LinkEvent is a link's change waiting for (or past) its delivery to the
// tenant's webhook.
type LinkEvent struct {
	ID          string
	TenantID    string
	LinkID      string
	Seq         int
	Type        string
	From        string // empty for a new link
	To          string
	At          time.Time
	Attempts    int
	NextAt      time.Time
	LeaseOwner  string
	LeaseUntil  *time.Time
	DeliveredAt *time.Time
	AbandonedAt *time.Time
	LastError   string
}

const linkEventCols = `id, tenant_id, link_id, seq, type, from_state, to_state, at, attempts, next_at, lease_owner, lease_until,
	delivered_at, abandoned_at, last_error`

func scanLinkEvent(r scanner) (LinkEvent, error) {
	var e LinkEvent
	var lease, deliv, aband sql.NullTime
	err := r.Scan(&e.ID, &e.TenantID, &e.LinkID, &e.Seq, &e.Type, &e.From, &e.To, &e.At, &e.Attempts, &e.NextAt, &e.LeaseOwner, &lease,
		&deliv, &aband, &e.LastError)
	e.At, e.NextAt = e.At.UTC(), e.NextAt.UTC()
	e.LeaseUntil, e.DeliveredAt, e.AbandonedAt = ptrTime(lease), ptrTime(deliv), ptrTime(aband)
	return e, err
}

// AddLinkEvent records that link changed from one state to another, due
// for delivery now, while the tenant has a webhook; without one it writes
// nothing and says so. Call it after the link's row is written in the same
// transaction, so that the link's events are numbered one at a time.
func (t *Tx) AddLinkEvent(ctx context.Context, tenant, link, typ, from, to string) (bool, error) {
	var hooked int
	if err := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM link_webhooks WHERE tenant_id = $1`, tenant).Scan(&hooked); err != nil {
		return false, fmt.Errorf("find link webhook: %w", err)
	}
	if hooked == 0 {
		return false, nil
	}
	if _, err := t.ExecContext(ctx, `INSERT INTO link_events (id, tenant_id, link_id, seq, type, from_state, to_state, at, next_at)
		VALUES ($1, $2, $3, (SELECT COALESCE(MAX(seq), 0) + 1 FROM link_events WHERE link_id = $3), $4, $5, $6, $7, $7)`,
		NewID(), tenant, link, typ, from, to, t.now); err != nil {
		return false, fmt.Errorf("insert link event: %w", err)
	}
	return true, nil
}

// ClaimLinkEvents leases up to n undelivered link events of every tenant
// whose next attempt has come to owner until lease. An event waits while
// an earlier one of its link is neither delivered nor abandoned, so each
// link's events go out in order; no other owner claims them meanwhile.
func (t *Tx) ClaimLinkEvents(ctx context.Context, owner string, n int, lease time.Duration) ([]LinkEvent, error) {
	skip := ""
	if t.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	rows, err := t.QueryContext(ctx, `UPDATE link_events SET lease_owner = $1, lease_until = $2 WHERE id IN (
		SELECT e.id FROM link_events e WHERE e.next_at <= $3 AND e.delivered_at IS NULL AND e.abandoned_at IS NULL
			AND (e.lease_until IS NULL OR e.lease_until <= $3)
			AND NOT EXISTS (SELECT 1 FROM link_events p WHERE p.link_id = e.link_id AND p.seq < e.seq
				AND p.delivered_at IS NULL AND p.abandoned_at IS NULL)
		ORDER BY e.next_at, e.seq LIMIT $4`+skip+`) RETURNING `+linkEventCols, owner, t.now.Add(lease), t.now, n)
	if err != nil {
		return nil, fmt.Errorf("claim link events: %w", err)
	}
	defer rows.Close()
	var out []LinkEvent
	for rows.Next() {
		e, err := scanLinkEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// FinishLinkEvent records an attempt at delivering e while owner holds its
// lease, and ends the lease: delivered, abandoned, or its next attempt. A
// lost lease is a conflict.
func (t *Tx) FinishLinkEvent(ctx context.Context, e *LinkEvent, owner string) error {
	res, err := t.ExecContext(ctx, `UPDATE link_events SET attempts = $3, next_at = $4, delivered_at = $5, abandoned_at = $6, last_error = $7,
		lease_owner = '', lease_until = NULL WHERE id = $1 AND lease_owner = $2 AND lease_until > $8`,
		e.ID, owner, e.Attempts, e.NextAt, nullTime(e.DeliveredAt), nullTime(e.AbandonedAt), e.LastError, t.now)
	if err != nil {
		return fmt.Errorf("finish link event: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.Conflict("event_id", "the event's lease ran out before its delivery was recorded")
	}
	e.LeaseOwner, e.LeaseUntil = "", nil
	return nil
}

// ReleaseLinkEvent gives up owner's lease of an event without changing it.
func (t *Tx) ReleaseLinkEvent(ctx context.Context, id, owner string) error {
	_, err := t.ExecContext(ctx, `UPDATE link_events SET lease_owner = '', lease_until = NULL WHERE id = $1 AND lease_owner = $2`, id, owner)
	return err
}

// LinkEvents lists tenant's latest link events, newest first, at most n.
func (t *Tx) LinkEvents(ctx context.Context, tenant string, n int) ([]LinkEvent, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+linkEventCols+` FROM link_events WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, tenant, n)
	if err != nil {
		return nil, fmt.Errorf("list link events: %w", err)
	}
	defer rows.Close()
	var out []LinkEvent
	for rows.Next() {
		e, err := scanLinkEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneLinkEvents removes the delivered and abandoned link events older
// than before.
func (t *Tx) PruneLinkEvents(ctx context.Context, before time.Time) error {
	_, err := t.ExecContext(ctx, `DELETE FROM link_events WHERE at < $1 AND (delivered_at IS NOT NULL OR abandoned_at IS NOT NULL)`, before)
	if err != nil {
		return fmt.Errorf("prune link events: %w", err)
	}
	return nil
}
