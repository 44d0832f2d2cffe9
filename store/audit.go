package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/usherhq/usher"
)

// InsertAudit writes e in the transaction of the change it records.
func (t *Tx) InsertAudit(ctx context.Context, tenant string, e *usher.AuditEvent) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	e.TenantID, e.At = tenant, t.now
	details := ""
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return err
		}
		details = string(b)
	}
	return t.insertThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert audit event: %w", err)
		}
		return nil
	}, `INSERT INTO audit_events (id, tenant_id, at, actor_kind, actor_id, action, target_kind, target_id, source, details) VALUES `, ``, 10, e.ID, tenant, t.now, e.ActorKind, e.ActorID, e.Action, e.TargetKind, e.TargetID, e.Source, details)
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	ActorID  string
	TargetID string
	// AlsoTarget is a second target that matches too: a person's page
	// shows the events of the person and of their account.
	AlsoTarget string
	Action     string // exact, or a prefix ending in "." ("account.")
}

// AuditEvents lists tenant's audit events, oldest first.
func (t *Tx) AuditEvents(ctx context.Context, tenant string, f AuditFilter, o ListOptions) ([]usher.AuditEvent, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.ActorID != "" {
		w.add("actor_id = ?", f.ActorID)
	}
	switch {
	case f.TargetID != "" && f.AlsoTarget != "":
		w.add("target_id IN (?, ?)", f.TargetID, f.AlsoTarget)
	case f.TargetID != "":
		w.add("target_id = ?", f.TargetID)
	}
	if f.Action != "" {
		if f.Action[len(f.Action)-1] == '.' {
			w.add(`action LIKE ? ESCAPE '\'`, likePrefix(f.Action))
		} else {
			w.add("action = ?", f.Action)
		}
	}
	return page(ctx, t, `SELECT id, tenant_id, at, actor_kind, actor_id, action, target_kind, target_id, source, details FROM audit_events`, w, o,
		func(r scanner) (usher.AuditEvent, error) {
			var e usher.AuditEvent
			var details string
			if err := r.Scan(&e.ID, &e.TenantID, &e.At, &e.ActorKind, &e.ActorID, &e.Action, &e.TargetKind, &e.TargetID, &e.Source, &details); err != nil {
				return e, err
			}
			e.At = e.At.UTC()
			if details != "" {
				if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
					return e, err
				}
			}
			return e, nil
		}, func(x usher.AuditEvent) string { return x.ID })
}
