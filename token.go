package usher

import "time"

// Principal roles for API tokens.
const (
	PrincipalOperator = "operator"
	// PrincipalSCIM is a tenant's provisioning source: its token reaches
	// the tenant's SCIM endpoint and nothing else.
	PrincipalSCIM = "scim"
)

// APIToken authorizes API calls: an operator token (no tenant) or a tenant
// token with an administrator role. Only the hash of its secret is stored.
type APIToken struct {
	ID        string     `json:"id"`
	TenantID  string     `json:"-"`
	Name      string     `json:"name"`
	Role      string     `json:"role"` // PrincipalOperator, AdminTenant, AdminUser or PrincipalSCIM
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// PatchResponse is how SCIM answers this provisioning source's
	// successful PATCH (scim tokens only): PatchNoContent or PatchResource.
	PatchResponse string `json:"patch_response,omitempty"`
}

// How SCIM answers a provisioning source's successful PATCH; RFC 7644
// §3.5.2 allows either, and sources expect one or the other.
const (
	// PatchNoContent is 204 without a body, as Entra ID expects (the default).
	PatchNoContent = "no_content"
	// PatchResource is 200 with the whole resource, as Okta documents.
	PatchResource = "resource"
)

// Session is a signed-in browser of an identity. The secret is in the
// browser's cookie; only its hash is stored.
type Session struct {
	ID         string `json:"id"`
	IdentityID string `json:"identity_id"`
	TenantID   string `json:"tenant_id"` // where it signed in
	Method     string `json:"method"`    // "password" or "connection"
	// ConnectionID is the SSO connection it signed in through.
	ConnectionID string    `json:"connection_id,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	LastSeenAt   time.Time `json:"last_seen_at"`
	Source       string    `json:"source,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
}
