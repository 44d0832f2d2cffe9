package usher

import "time"

// Connection is a tenant's corporate identity provider, as configuration.
type Connection struct {
	ID       string   `json:"id"`
	TenantID string   `json:"-"`
	Name     string   `json:"name"`
	Protocol string   `json:"protocol"` // "oidc" or "saml"
	Domains  []string `json:"domains"`
	Enforced bool     `json:"enforced"`
	// Just-in-time creation at first sign-in, with its defaults.
	JIT             bool       `json:"jit"`
	JITRoleID       string     `json:"jit_role_id,omitempty"`
	JITPlanID       string     `json:"jit_plan_id,omitempty"`
	JITDepartmentID string     `json:"jit_department_id,omitempty"`
	JITJobProfileID string     `json:"jit_job_profile_id,omitempty"`
	Issuer          string     `json:"issuer,omitempty"`
	ClientID        string     `json:"client_id,omitempty"`
	ClientSecret    string     `json:"client_secret,omitempty"` // write-only: blanked on read
	MetadataURL     string     `json:"metadata_url,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	DeactivatedAt   *time.Time `json:"deactivated_at,omitempty"`
}
