// Package openid is usher's OpenID Connect provider: one issuer per tenant,
// with discovery, JWKS, authorization (code with PKCE), token (code,
// refresh with rotation, client credentials), userinfo, revocation,
// introspection and RP-initiated logout, and back- and front-channel logout
// at the products when a session ends. The protocol is zitadel/oidc's op
// package; this package adapts its storage interface to usher's store, owns
// its tables (clients, keys, authorization requests and codes, grants and
// refresh tokens, consents, logout events) and signs people in with usher's
// own sessions. Its clients (openid/clients), signing keys (openid/keys)
// and back-channel logout deliveries (openid/backchannel) are packages of
// their own.
// It never writes the directory and never imports the web shell: the shell
// resolves the tenant, mounts the handler and lends it the people's pages.
package openid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/openid/backchannel"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// Config tunes the provider; zero values take the defaults.
type Config struct {
	// KeyRotation is how long a signing key signs before a successor
	// replaces it (default 90 days).
	KeyRotation time.Duration
	// KeyLead is how long a new key is published in the JWKS before it
	// signs, so that relying parties and every replica know it first
	// (default 1 hour; it must exceed keys.CacheTTL).
	KeyLead time.Duration
}

// check refuses a rotation whose lead is too short for every replica to
// see a new key before it signs, or longer than the period.
func (c Config) check() error {
	if c.KeyLead <= keys.CacheTTL {
		return fmt.Errorf("openid: the signing key lead %s must exceed the key cache's %s", c.KeyLead, keys.CacheTTL)
	}
	if c.KeyRotation < 2*c.KeyLead {
		return fmt.Errorf("openid: the signing key rotation %s must be at least twice the lead %s", c.KeyRotation, c.KeyLead)
	}
	return nil
}

// Lifetimes of what the provider keeps.
const (
	// CodeTTL is how long an authorization code works.
	CodeTTL = 60 * time.Second
	// authRequestTTL is how long a person has to sign in for a request; a
	// used code's request is kept as long, so a second use is recognized.
	authRequestTTL = time.Hour
	// grantTTL bounds how long one sign-in lasts through refresh tokens.
	grantTTL = clients.MaxRefreshTokenTTL
)

// Deps is what the provider needs.
type Deps struct {
	Log   *slog.Logger
	Store *store.Store
	// Box seals the signing keys' private halves.
	Box *secret.Box
	// Clock is the time (time.Now when nil).
	Clock func() time.Time
	// Issuer is a tenant's issuer: https://<slug>.<base domain>, or
	// <public URL>/t/<slug>; its pages are at Issuer + "/".
	Issuer func(usher.Tenant) string
	Config Config
	// Provision and Signin, when given, tell the provider in their own
	// transactions that an account was suspended or deactivated, or that an
	// identity signed out everywhere: what was given to products then is
	// revoked at once.
	Provision *provision.Service
	Signin    *signin.Service
	// HTTP reads the keys private_key_jwt clients publish at their
	// jwks_uri and posts logout tokens to the clients' back-channel logout
	// URIs: give the guarded egress client (the default keeps out of
	// private addresses).
	HTTP *http.Client
}

// Provider is the OpenID Connect provider of every tenant.
type Provider struct {
	log     *slog.Logger
	st      *store.Store
	now     func() time.Time
	issuer  func(usher.Tenant) string
	op      *op.Provider
	keys    *keys.Service
	clients *clients.Service
	logouts *backchannel.Service
}

// Paths of the endpoints below a tenant's issuer.
const (
	pathDiscovery  = "/.well-known/openid-configuration"
	pathAuthorize  = "/oauth/authorize"
	pathLogin      = "/oauth/login"
	pathToken      = "/oauth/token"
	pathUserinfo   = "/oauth/userinfo"
	pathIntrospect = "/oauth/introspect"
	pathRevoke     = "/oauth/revoke"
	pathLogout     = "/oauth/logout"
	pathKeys       = "/oauth/jwks"
)

// New returns the provider.
func New(d Deps) (*Provider, error) {
	if d.Store == nil || d.Box == nil || d.Issuer == nil {
		return nil, errors.New("openid: a store, a secret box and an issuer function are required")
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Config.KeyRotation <= 0 {
		d.Config.KeyRotation = 90 * 24 * time.Hour
	}
	if d.Config.KeyLead <= 0 {
		d.Config.KeyLead = time.Hour
	}
	if err := d.Config.check(); err != nil {
		return nil, err
	}
	if d.HTTP == nil {
		d.HTTP = egress.Client(false, 10*time.Second)
	}
	p := &Provider{log: d.Log, st: d.Store, now: d.Clock, issuer: d.Issuer}
	p.keys = keys.New(d.Store, d.Box, d.Clock, d.Config.KeyRotation, d.Config.KeyLead)
	p.logouts = backchannel.New(d.Log, d.Store, p.keys, d.Clock, d.Issuer, d.HTTP)
	p.hooks(d)
	p.clients = clients.New(d.Store, d.Clock, d.Log, d.HTTP)
	config := &op.Config{
		CodeMethodS256:          true,
		AuthMethodPost:          true,
		AuthMethodPrivateKeyJWT: true,
		GrantTypeRefreshToken:   true,
		SupportedScopes:         []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess, clients.ScopeUsher},
		SupportedClaims:         supportedClaims,
	}
	issuer := func(bool) (op.IssuerFromRequest, error) {
		return func(r *http.Request) string {
			if rs := stateOf(r.Context()); rs != nil {
				return rs.issuer
			}
			return ""
		}, nil
	}
	var err error
	p.op, err = op.NewProvider(config, &storage{p}, issuer,
		op.WithCustomEndpoints(op.NewEndpoint(pathAuthorize), op.NewEndpoint(pathToken), op.NewEndpoint(pathUserinfo),
			op.NewEndpoint(pathRevoke), op.NewEndpoint(pathLogout), op.NewEndpoint(pathKeys)),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(pathIntrospect)),
		// usher answers CORS itself: any origin, never with credentials.
		op.WithCORSOptions(nil),
		// Codes are random secrets, and access tokens usher's own JWTs; see tokenCrypto.
		op.WithCrypto(tokenCrypto{}),
		// The issuer may be plain http on localhost (the embedded default).
		op.WithAllowInsecure(),
	)
	if err != nil {
		return nil, fmt.Errorf("openid: %w", err)
	}
	return p, nil
}

// Clients is the tenants' clients, for their administrators.
func (p *Provider) Clients() *clients.Service { return p.clients }

// client returns client id of the request's tenant, as the library sees
// it; a deleted client or another tenant's is not found.
func (p *Provider) client(ctx context.Context, rs *request, id string) (*clients.Client, error) {
	return p.clients.Lookup(ctx, rs.tenant.ID, id, rs.issuer+pathLogin+"?id=")
}

// BackChannel is the back-channel logouts of the tenants' clients: their
// delivery worker and, for administrators, their deliveries.
func (p *Provider) BackChannel() *backchannel.Service { return p.logouts }

// SigningKeys is the tenants' signing keys, for their administrators.
func (p *Provider) SigningKeys() *keys.Service { return p.keys }

// Pages is what the provider borrows from the people's pages, which the
// shell owns.
type Pages struct {
	// Tenant resolves the tenant of a request (its "tenant" path value);
	// an unknown or deactivated tenant is usher.ErrNotFound.
	Tenant func(r *http.Request) (usher.Tenant, error)
	// Session is the browser's session valid in tn: signin.ErrNoSession
	// when there is none (or its account is not active there),
	// signin.ErrNeedsSSO when the account signs in with its company.
	Session func(r *http.Request, tn usher.Tenant) (signin.Current, error)
	// SignOut ends the browser's session and clears its cookie.
	SignOut func(w http.ResponseWriter, r *http.Request) error
	// Error shows a person a page saying what went wrong.
	Error func(w http.ResponseWriter, r *http.Request, tn usher.Tenant, status int, message string)
	// ConfirmSignOut asks the person signed in whether to sign out of tn,
	// for a product's logout request without an id_token_hint.
	ConfirmSignOut func(w http.ResponseWriter, r *http.Request, tn usher.Tenant, c SignOutRequest)
	// SignedOut tells the person they are signed out while the products'
	// front-channel logout URIs load in hidden frames, then sends them on.
	SignedOut func(w http.ResponseWriter, r *http.Request, tn usher.Tenant, s SignedOut)
}

// request is what one request to a tenant's endpoints carries through the
// library to the storage adapter.
type request struct {
	tenant usher.Tenant
	issuer string
	r      *http.Request
	// client is the client the library looked up for this request.
	client *clients.Client
	// subject is the account whose claims this request read, for scopes
	// subjectKey: the access token and the ID token of one answer share it.
	subject    *subject
	subjectKey string
	// assertion is the client assertion this request verified and
	// recorded: the library verifies it again.
	assertion string
}

type ctxKey struct{}

func stateOf(ctx context.Context) *request {
	rs, _ := ctx.Value(ctxKey{}).(*request)
	return rs
}

// mustState is the request state of a storage call; the library calls
// storage only from handlers this package wrapped.
func mustState(ctx context.Context) (*request, error) {
	rs := stateOf(ctx)
	if rs == nil || rs.tenant.ID == "" {
		return nil, oidc.ErrServerError().WithDescription("no tenant")
	}
	return rs, nil
}

// Handler serves the tenants' endpoints at /t/{tenant}/.well-known/… and
// /t/{tenant}/oauth/… (the shell maps <slug>.<base domain> there).
func (p *Provider) Handler(pg Pages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn, err := pg.Tenant(r)
		if err != nil || tn.DeactivatedAt != nil {
			if err != nil && !errors.Is(err, usher.ErrNotFound) {
				p.log.ErrorContext(r.Context(), "openid: resolve tenant", "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			http.NotFound(w, r)
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/t/"+tn.Slug)
		rs := &request{tenant: tn, issuer: strings.TrimSuffix(p.issuer(tn), "/")}
		// The library reads the issuer from the context; its own router
		// would put it there, but most endpoints are called directly.
		r2 := r.Clone(op.ContextWithIssuer(context.WithValue(r.Context(), ctxKey{}, rs), rs.issuer))
		r2.URL.Path, r2.URL.RawPath = path, ""
		rs.r = r2
		// Parsed once here, so the library's copies of the request and the
		// storage adapter read the same form.
		r2.Body = http.MaxBytesReader(w, r2.Body, 64<<10)
		if err := r2.ParseForm(); err != nil {
			http.Error(w, "the request's form cannot be read", http.StatusBadRequest)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if cors(w, r2, path) {
			return
		}
		switch path {
		case pathDiscovery:
			p.discovery(w, r2)
		case pathAuthorize:
			p.authorize(w, r2, pg)
		case pathLogin:
			p.login(w, r2, pg)
		case pathToken:
			p.token(w, r2)
		case pathIntrospect:
			p.introspect(w, r2)
		case pathLogout:
			p.logout(w, r2, pg)
		case pathLogoutConfirm:
			p.logoutConfirm(w, r2, pg)
		case pathKeys, pathUserinfo, pathRevoke:
			p.op.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	})
}

// cors answers cross-origin calls of the endpoints a browser application
// calls directly (public clients): any origin, never with cookies. It
// reports whether it answered a preflight.
func cors(w http.ResponseWriter, r *http.Request, path string) bool {
	switch path {
	case pathDiscovery, pathKeys, pathToken, pathUserinfo, pathRevoke, pathIntrospect:
	default:
		return false
	}
	if r.Header.Get("Origin") == "" {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// issParam adds RFC 9207's iss to the authorization responses (success and
// error) the library writes as redirects to a client; the library has no
// option for it.
type issParam struct {
	http.ResponseWriter
	issuer string
}

func (w *issParam) WriteHeader(code int) {
	if code >= 300 && code < 400 {
		if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, w.issuer+"/") {
			if u, err := url.Parse(loc); err == nil {
				q := u.Query()
				// An error for a response type usher does not offer goes in
				// the fragment, where the library puts it.
				f, _ := url.ParseQuery(u.RawFragment)
				switch {
				case (q.Has("code") || q.Has("error")) && !q.Has("iss"):
					q.Set("iss", w.issuer)
					u.RawQuery = q.Encode()
				case f.Has("error") && !f.Has("iss"):
					f.Set("iss", w.issuer)
					u.RawFragment = f.Encode()
					u.Fragment, _ = url.PathUnescape(u.RawFragment)
				}
				w.Header().Set("Location", u.String())
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// errorPage answers a person whose request cannot go back to a client.
func errorPage(w http.ResponseWriter, r *http.Request, pg Pages, tn usher.Tenant, status int, msg string) {
	if pg.Error != nil {
		pg.Error(w, r, tn, status, msg)
		return
	}
	http.Error(w, msg, status)
}

// A sweep deletes up to sweepBatch rows per table per transaction, and
// goes on while a table had that many, for at most sweepPasses
// transactions: a backlog (after a burst, or downtime) clears within a few
// sweeps, and no transaction or sweep runs long.
var (
	sweepBatch  = 1000
	sweepPasses = 20
)

// Sweep deletes what expired more than an hour ago (authorization
// requests and their codes, refresh tokens, revoked tokens' records,
// grants), a batch at a time; any replica may run it.
func (p *Provider) Sweep(ctx context.Context) (int, error) {
	total := 0
	for range sweepPasses {
		var n int
		var more bool
		err := p.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			n, more, err = tx.SweepOpenID(ctx, p.now().Add(-time.Hour), sweepBatch)
			return err
		})
		total += n
		if err != nil || !more {
			return total, err
		}
	}
	return total, nil
}

// RunSweeper sweeps every interval until ctx ends.
func (p *Provider) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := p.Sweep(ctx); err != nil && ctx.Err() == nil {
				p.log.Error("openid: sweep expired rows", "err", err)
			}
		}
	}
}
