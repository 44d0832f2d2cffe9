package usher

import "time"

// Account states.
const (
	StateInvited     = "invited"
	StateActive      = "active"
	StateSuspended   = "suspended"
	StateDeactivated = "deactivated"
)

// HoldsSeat reports whether an account in state occupies a seat of its plan.
func HoldsSeat(state string) bool { return state != StateDeactivated }

// Authentication systems.
const (
	AuthPassword   = "password"   // usher's own password
	AuthConnection = "connection" // the tenant's corporate SSO connection
)

// Console roles: what an account may administer in usher itself.
const (
	AdminNone   = ""
	AdminUser   = "user_administrator"
	AdminTenant = "tenant_administrator"
)

// Account is a person's access to the tenant.
type Account struct {
	ID             string   `json:"id"`
	TenantID       string   `json:"-"`
	PersonID       string   `json:"person_id"`
	IdentityID     string   `json:"identity_id,omitempty"`
	State          string   `json:"state"`
	AuthSystem     string   `json:"auth_system"`
	ConnectionID   string   `json:"connection_id,omitempty"`
	Email          string   `json:"email,omitempty"`
	Username       string   `json:"username,omitempty"`
	Phone          string   `json:"phone,omitempty"`
	RoleID         string   `json:"role_id,omitempty"`
	PlanID         string   `json:"plan_id"`
	PrimaryGroupID string   `json:"primary_group_id,omitempty"`
	GroupIDs       []string `json:"group_ids"`
	AdminRole      string   `json:"admin_role,omitempty"`
	Language       string   `json:"language"`
	// ManagedBy is the provisioning source (its API token's id) that
	// manages the account; "" when managed by hand.
	ManagedBy     string     `json:"managed_by,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ActivatedAt   *time.Time `json:"activated_at,omitempty"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
	// InviteExpiresAt is when the newest activation secret of an invited
	// account expires; Invitation is "pending" before then, "expired" after
	// (or when the secrets were revoked), and empty for other states.
	InviteExpiresAt *time.Time `json:"invite_expires_at,omitempty"`
	Invitation      string     `json:"invitation,omitempty"`
}

// Invitation states of an invited account.
const (
	InvitationPending = "pending"
	InvitationExpired = "expired"
)

// Identity is one login that can stand behind accounts in several tenants.
// It holds the credentials, never tenant data.
type Identity struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}
