package usher

import "time"

// Kinds of external system a person links their own account in (seed 001:
// a calendar the product synchronizes with).
const (
	ExternalGoogle    = "google"    // Google Workspace (OAuth 2.0, OpenID Connect)
	ExternalMicrosoft = "microsoft" // Microsoft 365 (the Microsoft identity platform)
	ExternalOAuth2    = "oauth2"    // another OAuth 2.0 / OpenID Connect provider
	ExternalExchange  = "exchange"  // Exchange on-premises (EWS, user name and password)
)

// ExternalSystem is a system a tenant's people link their accounts in. OAuth
// kinds hold usher's client there and the endpoints (preset for Google and
// Microsoft, overridable); Exchange holds its EWS address.
type ExternalSystem struct {
	ID           string   `json:"id"`
	TenantID     string   `json:"-"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"` // write-only: blanked on read, sealed at rest
	Scopes       []string `json:"scopes,omitempty"`
	// Endpoints; empty ones take the kind's preset (or the issuer's
	// discovery document for oauth2 with an issuer).
	Issuer           string `json:"issuer,omitempty"`
	AuthorizationURL string `json:"authorization_url,omitempty"`
	TokenURL         string `json:"token_url,omitempty"`
	UserInfoURL      string `json:"userinfo_url,omitempty"`
	RevocationURL    string `json:"revocation_url,omitempty"`
	// JWKSURL holds the keys of the ID tokens when there is no issuer to
	// discover them from (Microsoft's multi-tenant endpoint).
	JWKSURL string `json:"jwks_url,omitempty"`
	// EWSURL is Exchange on-premises' EWS address (…/EWS/Exchange.asmx).
	EWSURL string `json:"ews_url,omitempty"`
	// ReminderDays: a link that needs the person again is reminded after
	// this many days (0: no reminder).
	ReminderDays  int        `json:"reminder_days"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
}

// States of a link.
const (
	LinkPending     = "pending"     // waiting for the person to authorize
	LinkAuthorized  = "authorized"  // tokens (or Exchange credentials) held and working
	LinkReauthorize = "reauthorize" // the provider refused for good: the person must authorize again
	LinkRevoked     = "revoked"     // the person revoked it
	LinkUnlinked    = "unlinked"    // an administrator removed it
)

// Link ties a person's account to their account in an external system, with
// their consent. Tokens and credentials are never part of it.
type Link struct {
	ID               string `json:"id"`
	TenantID         string `json:"-"`
	AccountID        string `json:"account_id"`
	ExternalSystemID string `json:"external_system_id"`
	// Login is the account in the external system, usually the work email.
	Login string `json:"login"`
	State string `json:"state"`
	// Subject is the external system's stable id of the authorized account.
	Subject      string     `json:"subject,omitempty"`
	Scopes       []string   `json:"scopes,omitempty"` // as granted
	AuthorizedAt *time.Time `json:"authorized_at,omitempty"`
	ExpiresAt    *time.Time `json:"access_expires_at,omitempty"`
	RefreshedAt  *time.Time `json:"refreshed_at,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	NotifiedAt   *time.Time `json:"notified_at,omitempty"`
	RemindedAt   *time.Time `json:"reminded_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}
