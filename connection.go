package usher

import "time"

// Connection is a tenant's corporate identity provider: an OpenID Connect
// or SAML 2.0 identity provider its people sign in with. The common fields
// are the directory's; the protocol's own settings are read by its
// connector in package sso.
type Connection struct {
	ID       string   `json:"id"`
	TenantID string   `json:"-"`
	Name     string   `json:"name"`
	Protocol string   `json:"protocol"` // "oidc" or "saml"
	Domains  []string `json:"domains"`
	// Enforced: accounts with an email in the domains never use a password.
	Enforced bool `json:"enforced"`
	// Just-in-time creation at first sign-in, with its defaults.
	JIT             bool   `json:"jit"`
	JITRoleID       string `json:"jit_role_id,omitempty"`
	JITPlanID       string `json:"jit_plan_id,omitempty"`
	JITDepartmentID string `json:"jit_department_id,omitempty"`
	JITJobProfileID string `json:"jit_job_profile_id,omitempty"`
	// Mapping says which claim or SAML attribute gives which field.
	Mapping AttributeMapping `json:"mapping"`
	// UpdateOnSignIn brings the mapped fields up to date at each sign-in.
	UpdateOnSignIn bool `json:"update_on_signin"`

	// OpenID Connect: the issuer (discovery), the client usher is there,
	// the scopes asked for beyond openid, and whether the userinfo
	// endpoint adds claims to the ID token's.
	Issuer       string   `json:"issuer,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"` // write-only: blanked on read
	Scopes       []string `json:"scopes,omitempty"`
	UserInfo     bool     `json:"userinfo,omitempty"`

	// SAML 2.0: the identity provider's metadata, from a URL (refreshed)
	// or pasted; IdP-initiated sign-in (off unless set).
	MetadataURL  string `json:"metadata_url,omitempty"`
	MetadataXML  string `json:"metadata_xml,omitempty"`
	IdPInitiated bool   `json:"idp_initiated,omitempty"`
	// SPCertificate is usher's certificate for this connection (PEM), made
	// with the connection; its private key is kept sealed and never shown.
	SPCertificate string `json:"sp_certificate,omitempty"`
	SPKey         string `json:"-"`

	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
}

// AttributeMapping names, for each field of a person, the ID token claim or
// SAML attribute that holds it. Empty names take the preset's.
type AttributeMapping struct {
	// Preset is "entra", "okta", "google" or "generic" (the default).
	Preset     string `json:"preset,omitempty"`
	Subject    string `json:"subject,omitempty"` // the stable id: "sub" or the SAML NameID unless set
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Username   string `json:"username,omitempty"`
	Department string `json:"department,omitempty"`
	JobProfile string `json:"job_profile,omitempty"`
	Language   string `json:"language,omitempty"`
	Groups     string `json:"groups,omitempty"`
	// GroupRules turn the identity provider's groups into usher groups and
	// a role, by name.
	GroupRules []GroupRule `json:"group_rules,omitempty"`
}

// GroupRule: members of the identity provider's group IdPGroup join the
// usher group GroupID and/or get the role RoleID.
type GroupRule struct {
	IdPGroup string `json:"idp_group"`
	GroupID  string `json:"group_id,omitempty"`
	RoleID   string `json:"role_id,omitempty"`
}
