package usher

import "time"

// Client types: a confidential client keeps a secret (a server-side
// product); a public one cannot (a single-page or native app) and must use
// PKCE.
const (
	ClientConfidential = "confidential"
	ClientPublic       = "public"
)

// Client is a product that signs the tenant's people in through usher's
// OpenID Connect provider (a relying party). Its secret, when it has one,
// is shown once and stored only as a hash.
type Client struct {
	ID       string `json:"client_id"`
	TenantID string `json:"-"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	// AuthMethod is how it authenticates at the token endpoint:
	// client_secret_basic, client_secret_post, private_key_jwt, or none
	// (public clients).
	AuthMethod             string   `json:"token_endpoint_auth_method"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	// Scopes it may ask for, beyond openid.
	Scopes []string `json:"scopes"`
	// ThirdParty clients show a consent page, remembered per account.
	ThirdParty bool `json:"third_party"`
	// IDTokenAlg signs its ID tokens: ES256 (the default) or RS256.
	IDTokenAlg          string `json:"id_token_signed_response_alg"`
	AccessTokenSeconds  int    `json:"access_token_lifetime"`
	IDTokenSeconds      int    `json:"id_token_lifetime"`
	RefreshTokenSeconds int    `json:"refresh_token_lifetime"`
	// BackchannelLogoutURI receives a logout token (OpenID Connect
	// Back-Channel Logout) when a person's usher session ends; "" for none.
	BackchannelLogoutURI             string `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required"`
	// FrontchannelLogoutURI is framed by the sign-out page, with iss and
	// sid (OpenID Connect Front-Channel Logout); "" for none.
	FrontchannelLogoutURI             string `json:"frontchannel_logout_uri"`
	FrontchannelLogoutSessionRequired bool   `json:"frontchannel_logout_session_required"`
	// JWKS holds the public keys of a private_key_jwt client, as a JSON Web Key Set.
	JWKS string `json:"jwks,omitempty"`
	// JWKSURI is where a private_key_jwt client that rotates its keys
	// publishes them, instead of JWKS.
	JWKSURI   string     `json:"jwks_uri,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}
