// Package clients owns the OpenID Connect provider's clients (the
// products a tenant registers): their rules, secrets and private_key_jwt
// keys (registered, or read from a jwks_uri), their management by tenant
// administrators (audited), and each client as zitadel/oidc's op package
// sees it, cached per replica.
package clients

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// ScopeUsher asks for usher's directory claims: tenant, role, plan,
// groups (primary first), department, job profile, organization and the
// contact roles per site.
const ScopeUsher = "usher"

// Defaults of new clients and the limits of what a client may set.
const (
	DefaultAccessTokenTTL  = 10 * time.Minute
	DefaultIDTokenTTL      = time.Hour
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	// MaxRefreshTokenTTL bounds a refresh token's lifetime.
	MaxRefreshTokenTTL = 365 * 24 * time.Hour
)

// Grant types a client may be allowed. The implicit flow is not offered.
const (
	GrantCode              = string(oidc.GrantTypeCode)
	GrantRefresh           = string(oidc.GrantTypeRefreshToken)
	GrantClientCredentials = string(oidc.GrantTypeClientCredentials)
)

// Token endpoint authentication methods.
const (
	AuthSecretBasic = string(oidc.AuthMethodBasic)
	AuthSecretPost  = string(oidc.AuthMethodPost)
	AuthPrivateKey  = string(oidc.AuthMethodPrivateKeyJWT)
	AuthNone        = string(oidc.AuthMethodNone)
)

// ClientInput creates a client or changes one; on a change, what is left
// out stays as it was.
type ClientInput struct {
	Name *string `json:"name,omitempty"`
	// Type is confidential or public; it cannot change.
	Type string `json:"type,omitempty"`
	// AuthMethod defaults to client_secret_basic (confidential) or none (public).
	AuthMethod             string   `json:"token_endpoint_auth_method,omitempty"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	GrantTypes []string `json:"grant_types,omitempty"`
	// Scopes it may ask for: openid, profile, email, phone, offline_access, usher.
	Scopes     []string `json:"scopes,omitempty"`
	ThirdParty *bool    `json:"third_party,omitempty"`
	IDTokenAlg string   `json:"id_token_signed_response_alg,omitempty"`
	// Lifetimes in seconds.
	AccessTokenSeconds  *int `json:"access_token_lifetime,omitempty"`
	IDTokenSeconds      *int `json:"id_token_lifetime,omitempty"`
	RefreshTokenSeconds *int `json:"refresh_token_lifetime,omitempty"`
	// BackchannelLogoutURI receives a logout token when a person's usher
	// session ends (https, or http to localhost; "" removes it).
	BackchannelLogoutURI             *string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired *bool   `json:"backchannel_logout_session_required,omitempty"`
	// FrontchannelLogoutURI is framed, with iss and sid, by the page that
	// ends a person's session at a product's request ("" removes it).
	FrontchannelLogoutURI             *string `json:"frontchannel_logout_uri,omitempty"`
	FrontchannelLogoutSessionRequired *bool   `json:"frontchannel_logout_session_required,omitempty"`
	// JWKS: the public keys of a private_key_jwt client, a JSON Web Key Set.
	JWKS map[string]any `json:"jwks,omitempty"`
	// JWKSURI is where a client that rotates its keys publishes its JWKS
	// (https), instead of jwks; "" stops using it.
	JWKSURI *string `json:"jwks_uri,omitempty"`
	// JWKSText is the same as pasted in the console (JWKS wins when both
	// are given): text that is not JSON is refused naming the field.
	JWKSText string `json:"-"`
	// RotateSecret gives a confidential client a new secret (on a change),
	// shown once; the old one stops working.
	RotateSecret bool `json:"rotate_secret,omitempty"`
	// Deleted false restores a deleted client.
	Deleted *bool `json:"deleted,omitempty"`
}

// CreatedClient is a client with its secret, shown this once.
type CreatedClient struct {
	usher.Client
	ClientSecret string `json:"client_secret,omitempty"`
}

// knownScopes are the scopes a client may be allowed.
var knownScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess, ScopeUsher}

// Service is the clients of every tenant.
type Service struct {
	st  *store.Store
	now func() time.Time
	log *slog.Logger
	// http reads clients' published keys.
	http    *http.Client
	clients *clientCache
	remote  *remoteKeys
}

// New returns the clients in st; client reads the keys clients publish at
// their jwks_uri (give the guarded egress client).
func New(st *store.Store, now func() time.Time, log *slog.Logger, client *http.Client) *Service {
	return &Service{st: st, now: now, log: log, http: client, clients: &clientCache{m: map[string]cachedClient{}},
		remote: &remoteKeys{m: map[string]*remoteSet{}}}
}

// CreateClient registers a client for tenant and returns its secret (for a
// confidential client with a secret), shown once and stored as a hash.
func (p *Service) CreateClient(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in ClientInput) (CreatedClient, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return CreatedClient{}, err
	}
	c := usher.Client{Type: in.Type, IDTokenAlg: keys.ES256, AccessTokenSeconds: int(DefaultAccessTokenTTL / time.Second),
		IDTokenSeconds: int(DefaultIDTokenTTL / time.Second), RefreshTokenSeconds: int(DefaultRefreshTokenTTL / time.Second)}
	if c.Type == "" {
		c.Type = usher.ClientConfidential
	}
	if in.GrantTypes == nil {
		in.GrantTypes = []string{GrantCode, GrantRefresh}
	}
	if in.Scopes == nil {
		in.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, ScopeUsher}
		if slices.Contains(in.GrantTypes, GrantRefresh) {
			in.Scopes = append(in.Scopes, oidc.ScopeOfflineAccess)
		}
	}
	if err := apply(&c, in, true); err != nil {
		return CreatedClient{}, err
	}
	if err := p.checkAddresses(ctx, in, usher.Client{}); err != nil {
		return CreatedClient{}, err
	}
	out := CreatedClient{}
	hash := ""
	if usesSecret(c) {
		out.ClientSecret, hash = secret.New()
	}
	err := p.st.Write(ctx, func(tx *store.Tx) error {
		c.ID = "" // a retried write makes a new id
		if err := tx.InsertClient(ctx, tenant.ID, &c, hash); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("client.created", "client", c.ID, map[string]string{"name": c.Name, "type": c.Type}))
	})
	out.Client = c
	return out, err
}

// UpdateClient changes a client of tenant; a new secret, when asked for,
// is returned once.
func (p *Service) UpdateClient(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in ClientInput) (CreatedClient, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return CreatedClient{}, err
	}
	old, _, err := p.st.Read().Client(ctx, tenant.ID, id)
	if err != nil {
		return CreatedClient{}, err // another tenant's client is not found, whatever its input
	}
	if err := p.checkAddresses(ctx, in, old); err != nil {
		return CreatedClient{}, err
	}
	var out CreatedClient
	err = p.st.Write(ctx, func(tx *store.Tx) error {
		c, _, err := tx.Client(ctx, tenant.ID, id)
		if err != nil {
			return err
		}
		before := c
		if in.Type != "" && in.Type != c.Type {
			return usher.Invalid("type", "cannot be changed; register a new client")
		}
		if err := apply(&c, in, false); err != nil {
			return err
		}
		action := "client.updated"
		if in.Deleted != nil {
			switch {
			case *in.Deleted && c.DeletedAt == nil:
				now := tx.Now()
				c.DeletedAt, action = &now, "client.deleted"
			case !*in.Deleted && c.DeletedAt != nil:
				c.DeletedAt, action = nil, "client.restored"
			}
		}
		var hash *string
		out.ClientSecret = ""
		if in.RotateSecret {
			if !usesSecret(c) {
				return usher.Invalid("rotate_secret", "this client has no secret (its authentication method is %s)", c.AuthMethod)
			}
			var h string
			out.ClientSecret, h = secret.New()
			hash = &h
		} else if usesSecret(c) && !usesSecret(before) {
			return usher.Invalid("rotate_secret", "a client that starts using a secret needs one: send rotate_secret")
		} else if !usesSecret(c) && usesSecret(before) {
			none := ""
			hash = &none
		}
		if err := tx.UpdateClient(ctx, tenant.ID, &c, hash); err != nil {
			return err
		}
		if action == "client.deleted" {
			// What it was given stops working with it.
			if _, err := tx.RevokeClientGrants(ctx, tenant.ID, c.ID, "client deleted"); err != nil {
				return err
			}
		}
		details := map[string]string{"name": c.Name}
		if in.RotateSecret {
			details["secret"] = "rotated"
		}
		out.Client = c
		return tx.InsertAudit(ctx, tenant.ID, actor.Event(action, "client", c.ID, details))
	})
	p.clients.forget(tenant.ID, id)
	// Its published keys are read anew: a save is how an administrator
	// says the client changed (say, rotated its keys).
	p.remote.forget(tenant.ID, id)
	return out, err
}

// checkAddresses checks the addresses usher will connect to that in sets
// or changes from old's (the zero client for a new one), outside any
// transaction, so that a wrong one is refused now, not at the client's
// first sign-in or sign-out.
func (p *Service) checkAddresses(ctx context.Context, in ClientInput, old usher.Client) error {
	if in.BackchannelLogoutURI != nil && *in.BackchannelLogoutURI != old.BackchannelLogoutURI {
		if err := p.checkLogoutURI(ctx, *in.BackchannelLogoutURI); err != nil {
			return err
		}
	}
	if in.JWKSURI != nil && *in.JWKSURI == old.JWKSURI {
		return nil // unchanged: the console sends it with every save
	}
	return p.checkPublished(ctx, in)
}

// checkLogoutURI refuses a back-channel logout URI on a host the
// provider's HTTP client would not connect to (inside usher's own network,
// unless the operator allows it), as a jwks_uri is when read. Only a name
// that resolves to a non-public address is tried, with the client's own
// dialer (which decides), and the connection closed at once; an address
// that does not answer now is not refused.
func (p *Service) checkLogoutURI(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil // apply reports it
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := egress.Check(ctx, u.Hostname()); !errors.Is(err, egress.ErrPrivate) {
		return nil
	}
	t, ok := p.http.Transport.(*http.Transport)
	if !ok || t.DialContext == nil {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	conn, err := t.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err == nil {
		conn.Close()
	}
	if errors.Is(err, egress.ErrPrivate) {
		return usher.Invalid("backchannel_logout_uri", "%v", err)
	}
	return nil
}

// checkPublished reads the keys at a jwks_uri being set, so that an
// address that does not serve usable keys is refused now, not at the
// client's first sign-in. It is read outside any transaction.
func (p *Service) checkPublished(ctx context.Context, in ClientInput) error {
	if in.JWKSURI == nil || *in.JWKSURI == "" || in.JWKS != nil || strings.TrimSpace(in.JWKSText) != "" {
		return nil
	}
	if _, err := checkKeysURI(*in.JWKSURI); err != nil {
		return err
	}
	if _, err := p.fetchKeys(ctx, *in.JWKSURI); err != nil {
		return usher.Invalid("jwks_uri", "does not serve keys usher can use: %v", err)
	}
	return nil
}

// DeleteClient deletes a client of tenant: it can no longer sign anyone in,
// and what it was given is revoked. It is kept, marked deleted.
func (p *Service) DeleteClient(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string) (usher.Client, error) {
	yes := true
	c, err := p.UpdateClient(ctx, actor, tenant, id, ClientInput{Deleted: &yes})
	return c.Client, err
}

// Client reads a client of tenant (never its secret).
func (p *Service) Client(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string) (usher.Client, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Client{}, err
	}
	c, _, err := p.st.Read().Client(ctx, tenant.ID, id)
	return c, err
}

// Clients lists tenant's clients.
func (p *Service) Clients(ctx context.Context, actor usher.Actor, tenant usher.Tenant, active bool, o store.ListOptions) ([]usher.Client, string, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return nil, "", err
	}
	return p.st.Read().Clients(ctx, tenant.ID, active, o)
}

func usesSecret(c usher.Client) bool {
	return c.Type == usher.ClientConfidential && (c.AuthMethod == AuthSecretBasic || c.AuthMethod == AuthSecretPost)
}

// apply validates in onto c: every problem is reported at once, each
// naming its field.
func apply(c *usher.Client, in ClientInput, create bool) error {
	var errs usher.Errors
	add := func(err error) {
		var e *usher.Error
		if errors.As(err, &e) {
			errs = append(errs, e)
		}
	}
	if in.Name != nil || create {
		name := ""
		if in.Name != nil {
			name = *in.Name
		}
		if n, err := usher.CleanText("name", name, 200); err != nil {
			add(err)
		} else if n == "" {
			add(usher.Invalid("name", "is required"))
		} else {
			c.Name = n
		}
	}
	if c.Type != usher.ClientConfidential && c.Type != usher.ClientPublic {
		add(usher.Invalid("type", "must be %s or %s", usher.ClientConfidential, usher.ClientPublic))
	}
	if in.AuthMethod != "" || create {
		m := in.AuthMethod
		if m == "" {
			m = AuthSecretBasic
			if c.Type == usher.ClientPublic {
				m = AuthNone
			}
		}
		switch {
		case c.Type == usher.ClientPublic && m != AuthNone:
			add(usher.Invalid("token_endpoint_auth_method", "a public client keeps no secret: it must be none"))
		case c.Type == usher.ClientConfidential && !slices.Contains([]string{AuthSecretBasic, AuthSecretPost, AuthPrivateKey}, m):
			add(usher.Invalid("token_endpoint_auth_method", "must be %s, %s or %s", AuthSecretBasic, AuthSecretPost, AuthPrivateKey))
		default:
			c.AuthMethod = m
		}
	}
	if in.GrantTypes != nil {
		ok := true
		for i, g := range in.GrantTypes {
			field := fmt.Sprintf("grant_types[%d]", i)
			switch g {
			case GrantCode, GrantRefresh:
			case GrantClientCredentials:
				if c.Type == usher.ClientPublic {
					add(usher.Invalid(field, "a public client cannot use client_credentials"))
					ok = false
				}
			case "implicit":
				add(usher.Invalid(field, "the implicit flow is not offered: use authorization_code with PKCE"))
				ok = false
			default:
				add(usher.Invalid(field, "%q is not a grant type usher offers (%s, %s, %s)", g, GrantCode, GrantRefresh, GrantClientCredentials))
				ok = false
			}
		}
		if len(in.GrantTypes) == 0 {
			add(usher.Invalid("grant_types", "needs at least one grant type"))
			ok = false
		}
		if slices.Contains(in.GrantTypes, GrantRefresh) && !slices.Contains(in.GrantTypes, GrantCode) {
			add(usher.Invalid("grant_types", "refresh_token needs authorization_code"))
			ok = false
		}
		if ok {
			c.GrantTypes = dedupe(in.GrantTypes)
		}
	}
	if in.RedirectURIs != nil {
		if uris, ok := checkURIs("redirect_uris", in.RedirectURIs, c.Type, add); ok {
			c.RedirectURIs = uris
		}
	}
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{}
	}
	if slices.Contains(c.GrantTypes, GrantCode) && len(c.RedirectURIs) == 0 {
		add(usher.Invalid("redirect_uris", "authorization_code needs at least one redirect URI"))
	}
	if in.PostLogoutRedirectURIs != nil {
		if uris, ok := checkURIs("post_logout_redirect_uris", in.PostLogoutRedirectURIs, c.Type, add); ok {
			c.PostLogoutRedirectURIs = uris
		}
	}
	if c.PostLogoutRedirectURIs == nil {
		c.PostLogoutRedirectURIs = []string{}
	}
	if in.Scopes != nil {
		ok := true
		for i, s := range in.Scopes {
			if !slices.Contains(knownScopes, s) {
				add(usher.Invalid(fmt.Sprintf("scopes[%d]", i), "%q is not a scope usher offers (%s)", s, strings.Join(knownScopes, ", ")))
				ok = false
			}
		}
		if ok {
			c.Scopes = dedupe(in.Scopes)
		}
	}
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	if in.ThirdParty != nil {
		c.ThirdParty = *in.ThirdParty
	}
	if in.IDTokenAlg != "" {
		if in.IDTokenAlg != keys.ES256 && in.IDTokenAlg != keys.RS256 {
			add(usher.Invalid("id_token_signed_response_alg", "must be %s or %s", keys.ES256, keys.RS256))
		} else {
			c.IDTokenAlg = in.IDTokenAlg
		}
	}
	seconds := func(field string, v *int, min, max time.Duration, into *int) {
		if v == nil {
			return
		}
		if *v < int(min/time.Second) || *v > int(max/time.Second) {
			add(usher.Invalid(field, "must be between %d and %d seconds", int(min/time.Second), int(max/time.Second)))
			return
		}
		*into = *v
	}
	seconds("access_token_lifetime", in.AccessTokenSeconds, time.Minute, keys.MaxTokenTTL, &c.AccessTokenSeconds)
	seconds("id_token_lifetime", in.IDTokenSeconds, time.Minute, keys.MaxTokenTTL, &c.IDTokenSeconds)
	seconds("refresh_token_lifetime", in.RefreshTokenSeconds, 5*time.Minute, MaxRefreshTokenTTL, &c.RefreshTokenSeconds)
	logoutURI := func(field string, v *string, into *string) {
		if v == nil {
			return
		}
		u, err := usher.CheckURL(field, *v, false)
		switch {
		case err != nil:
			add(err)
		case strings.Contains(u, "#"):
			add(usher.Invalid(field, "must not have a fragment (#…)"))
		default:
			*into = u
		}
	}
	logoutURI("backchannel_logout_uri", in.BackchannelLogoutURI, &c.BackchannelLogoutURI)
	logoutURI("frontchannel_logout_uri", in.FrontchannelLogoutURI, &c.FrontchannelLogoutURI)
	if in.BackchannelLogoutSessionRequired != nil {
		c.BackchannelLogoutSessionRequired = *in.BackchannelLogoutSessionRequired
	}
	if in.FrontchannelLogoutSessionRequired != nil {
		c.FrontchannelLogoutSessionRequired = *in.FrontchannelLogoutSessionRequired
	}
	jwks := in.JWKS != nil || strings.TrimSpace(in.JWKSText) != ""
	uri := in.JWKSURI != nil && *in.JWKSURI != ""
	switch {
	case jwks && uri:
		add(usher.Invalid("jwks_uri", "give the keys or the address they are published at, not both"))
	case jwks:
		if raw, err := jwksOf(in); err != nil {
			add(err)
		} else if _, err := parseJWKS(raw); err != nil {
			add(usher.Invalid("jwks", "%v", err))
		} else {
			c.JWKS, c.JWKSURI = raw, ""
		}
	case uri:
		if u, err := checkKeysURI(*in.JWKSURI); err != nil {
			add(err)
		} else {
			c.JWKSURI, c.JWKS = u, ""
		}
	case in.JWKSURI != nil:
		c.JWKSURI = ""
	}
	if c.AuthMethod == AuthPrivateKey && c.JWKS == "" && c.JWKSURI == "" && !jwks && !uri {
		add(usher.Invalid("jwks", "private_key_jwt needs the client's public keys: paste them, or give the jwks_uri it publishes them at"))
	}
	return errs.Err()
}

// jwksOf is in's key set as JSON, from the API's object or the console's text.
func jwksOf(in ClientInput) (string, error) {
	if in.JWKS != nil {
		raw, err := json.Marshal(in.JWKS)
		return string(raw), err
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(in.JWKSText), &m); err != nil {
		return "", usher.Invalid("jwks", "is not a JSON object ({\"keys\": [...]}): %v", err)
	}
	raw, err := json.Marshal(m)
	return string(raw), err
}

func dedupe(xs []string) []string {
	out := []string{}
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// checkURIs holds redirect URIs to what usher accepts: absolute, without a
// fragment, https — or http on this machine's loopback only; a public
// (native) client may also use its own scheme (com.example.app:/cb).
// They are compared exactly when used.
func checkURIs(field string, uris []string, typ string, add func(error)) ([]string, bool) {
	ok := true
	if len(uris) > 20 {
		add(usher.Invalid(field, "at most 20"))
		return nil, false
	}
	for i, raw := range uris {
		f := fmt.Sprintf("%s[%d]", field, i)
		u, err := url.Parse(raw)
		switch {
		case len(raw) > 2000:
			add(usher.Invalid(f, "is longer than 2000 characters"))
		case err != nil || !u.IsAbs():
			add(usher.Invalid(f, "%q is not an absolute URL", raw))
		case u.Fragment != "" || strings.Contains(raw, "#"):
			add(usher.Invalid(f, "must not have a fragment (#…)"))
		case u.Scheme == "https" && u.Host != "":
			continue
		case u.Scheme == "http" && loopback(u.Hostname()):
			continue
		case u.Scheme == "http":
			add(usher.Invalid(f, "must use https (plain http only on localhost)"))
		case typ == usher.ClientPublic && strings.Contains(u.Scheme, "."):
			continue // a native app's private-use scheme (RFC 8252)
		default:
			add(usher.Invalid(f, "must use https (or, for a public native app, a reverse-domain scheme)"))
		}
		ok = false
	}
	if !ok {
		return nil, false
	}
	return dedupe(uris), true
}

// checkKeysURI holds a jwks_uri to what usher fetches: https, or http on
// this machine's loopback only. The egress client decides at connect time
// which addresses it may reach.
func checkKeysURI(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > 2000:
		return "", usher.Invalid("jwks_uri", "is longer than 2000 characters")
	case err != nil || !u.IsAbs() || u.Host == "":
		return "", usher.Invalid("jwks_uri", "%q is not an absolute URL", raw)
	case u.User != nil || u.Fragment != "":
		return "", usher.Invalid("jwks_uri", "must have neither credentials nor a fragment")
	case u.Scheme == "https", u.Scheme == "http" && loopback(u.Hostname()):
		return raw, nil
	}
	return "", usher.Invalid("jwks_uri", "must use https (plain http only on localhost)")
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AssertionAlgs are the algorithms a private_key_jwt client may sign its
// assertions with (what the library verifies).
var AssertionAlgs = []string{keys.ES256, keys.RS256, string(jose.PS256)}

// parseJWKS reads a client's public keys and says what is wrong with them,
// naming the key: each must be a public RSA (2048 bits or more) or P-256
// key for signing, with a kid unless it is the only one.
func parseJWKS(s string) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return nil, fmt.Errorf("is not a JSON Web Key Set ({\"keys\": [...]}) of keys usher reads: %v", err)
	}
	if len(set.Keys) == 0 || len(set.Keys) > 10 {
		return nil, fmt.Errorf("has %d keys: it needs one to ten", len(set.Keys))
	}
	kids := map[string]bool{}
	for i, k := range set.Keys {
		name := fmt.Sprintf("key %d", i+1)
		if k.KeyID != "" {
			name += fmt.Sprintf(" (kid %q)", k.KeyID)
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("%s holds a private key: paste only the public keys", name)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("%s is for use %q: a client assertion key is for \"sig\"", name, k.Use)
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				return nil, fmt.Errorf("%s is an RSA key of %d bits: at least 2048 are needed", name, pub.N.BitLen())
			}
			if k.Algorithm != "" && k.Algorithm != keys.RS256 && k.Algorithm != string(jose.PS256) {
				return nil, fmt.Errorf("%s is an RSA key for %s: usher verifies RS256 and PS256", name, k.Algorithm)
			}
		case *ecdsa.PublicKey:
			if pub.Curve != elliptic.P256() {
				return nil, fmt.Errorf("%s is an EC key on %s: usher verifies ES256 (P-256)", name, pub.Curve.Params().Name)
			}
			if k.Algorithm != "" && k.Algorithm != keys.ES256 {
				return nil, fmt.Errorf("%s is a P-256 key for %s: it can only be ES256", name, k.Algorithm)
			}
		default:
			return nil, fmt.Errorf("%s is of a type usher does not verify (%T): use RSA or EC P-256 keys", name, k.Key)
		}
		if k.KeyID == "" && len(set.Keys) > 1 {
			return nil, fmt.Errorf("%s has no kid: with several keys, each needs one", name)
		}
		if kids[k.KeyID] {
			return nil, fmt.Errorf("%s: another key has the same kid", name)
		}
		kids[k.KeyID] = true
	}
	return &set, nil
}

// ClientKey describes a public key of a private_key_jwt client.
type ClientKey struct {
	ID   string `json:"kid"`
	Type string `json:"kty"`
	// Alg is the key's algorithm, or those it may sign with when it names none.
	Alg string `json:"alg"`
}

func describeKeys(set *jose.JSONWebKeySet) []ClientKey {
	var out []ClientKey
	for _, k := range set.Keys {
		ck := ClientKey{ID: k.KeyID, Alg: k.Algorithm}
		switch k.Key.(type) {
		case *rsa.PublicKey:
			ck.Type = "RSA"
			if ck.Alg == "" {
				ck.Alg = keys.RS256 + " or " + string(jose.PS256)
			}
		case *ecdsa.PublicKey:
			ck.Type = "EC P-256"
			if ck.Alg == "" {
				ck.Alg = keys.ES256
			}
		}
		out = append(out, ck)
	}
	return out
}

// Client is a stored client as the library sees it (op.Client).
type Client struct {
	usher.Client
	secretHash string
	keys       *jose.JSONWebKeySet
	loginURL   string
}

var _ op.Client = (*Client)(nil)

func (c *Client) GetID() string                    { return c.ID }
func (c *Client) RedirectURIs() []string           { return c.Client.RedirectURIs }
func (c *Client) PostLogoutRedirectURIs() []string { return c.Client.PostLogoutRedirectURIs }

// ApplicationType: redirect URIs were checked when registered and are
// matched exactly before the library sees them, so the library's per-type
// URI policy (which lets a native client's loopback port vary) is not used.
func (c *Client) ApplicationType() op.ApplicationType {
	if c.Type == usher.ClientPublic {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c *Client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethod(c.Client.AuthMethod) }
func (c *Client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *Client) LoginURL(id string) string { return c.loginURL + url.QueryEscape(id) }
func (c *Client) IDTokenLifetime() time.Duration {
	return time.Duration(c.IDTokenSeconds) * time.Second
}
func (c *Client) DevMode() bool                        { return true }
func (c *Client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *Client) ClockSkew() time.Duration             { return 0 }
func (c *Client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.Scopes, scope) }
func (c *Client) AccessTTL() time.Duration             { return time.Duration(c.AccessTokenSeconds) * time.Second }
func (c *Client) RefreshTTL() time.Duration {
	return time.Duration(c.RefreshTokenSeconds) * time.Second
}
func (c *Client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *Client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// AccessTokenType: usher signs its own access tokens (see tokenCrypto).
func (c *Client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }

func (c *Client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, len(c.Client.GrantTypes))
	for i, g := range c.Client.GrantTypes {
		out[i] = oidc.GrantType(g)
	}
	return out
}

// CheckSecret reports whether s is the client's secret.
func (c *Client) CheckSecret(s string) bool {
	if c.secretHash == "" || s == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(secret.Hash(s)), []byte(c.secretHash)) == 1
}

// clientCacheTTL bounds how long a change made through another replica
// (a deleted client, a new secret) takes to reach this one.
const clientCacheTTL = 2 * time.Second

type cachedClient struct {
	c    Client
	read time.Time
}

type clientCache struct {
	mu sync.Mutex
	m  map[string]cachedClient // by tenant id + "/" + client id
}

func (cc *clientCache) forget(tenant, id string) {
	cc.mu.Lock()
	delete(cc.m, tenant+"/"+id)
	cc.mu.Unlock()
}

// Lookup returns client id of tenant, as the library sees it, its login
// URL loginURL followed by the request's id; a deleted client or another
// tenant's is not found.
func (p *Service) Lookup(ctx context.Context, tenant, id, loginURL string) (*Client, error) {
	if id == "" || len(id) > 200 {
		return nil, usher.NotFound("client_id", "client")
	}
	key := tenant + "/" + id
	now := p.now()
	p.clients.mu.Lock()
	e, ok := p.clients.m[key]
	p.clients.mu.Unlock()
	if !ok || now.Sub(e.read) > clientCacheTTL || now.Before(e.read) {
		c, hash, err := p.st.Read().Client(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		e = cachedClient{c: Client{Client: c, secretHash: hash}, read: now}
		if c.JWKS != "" {
			if e.c.keys, err = parseJWKS(c.JWKS); err != nil {
				return nil, fmt.Errorf("client %s: jwks: %w", id, err)
			}
		}
		p.clients.mu.Lock()
		if len(p.clients.m) > 10_000 {
			p.clients.m = map[string]cachedClient{}
		}
		p.clients.m[key] = e
		p.clients.mu.Unlock()
	}
	if e.c.DeletedAt != nil {
		return nil, usher.NotFound("client_id", "client")
	}
	c := e.c
	c.loginURL = loginURL
	return &c, nil
}
