package usher

import "time"

// AuditEvent records who did what to whom, when and from where.
type AuditEvent struct {
	ID         string            `json:"id"`
	TenantID   string            `json:"-"`
	At         time.Time         `json:"at"`
	ActorKind  string            `json:"actor_kind"` // "operator", "token", "account", "system", "scim", ...
	ActorID    string            `json:"actor_id,omitempty"`
	Action     string            `json:"action"` // "account.created", ...
	TargetKind string            `json:"target_kind"`
	TargetID   string            `json:"target_id"`
	Source     string            `json:"source,omitempty"` // client address
	Details    map[string]string `json:"details,omitempty"`
}
