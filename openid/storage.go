package openid

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid/backchannel"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// storage adapts the library's storage interface to usher's store. Every
// call finds its tenant in the request state the handler put in ctx.
type storage struct{ p *Provider }

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.ClientCredentialsStorage  = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

// authData is an authorization request's parameters, kept as JSON.
type authData struct {
	RedirectURI     string   `json:"redirect_uri"`
	Scopes          []string `json:"scopes"`
	State           string   `json:"state,omitempty"`
	Nonce           string   `json:"nonce,omitempty"`
	ResponseMode    string   `json:"response_mode,omitempty"`
	Challenge       string   `json:"code_challenge,omitempty"`
	ChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Prompt          []string `json:"prompt,omitempty"`
	MaxAge          *uint    `json:"max_age,omitempty"`
	LoginHint       string   `json:"login_hint,omitempty"`
}

// authRequest is a stored authorization request (op.AuthRequest).
type authRequest struct {
	store.AuthRequest
	d authData
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                      { return a.ID }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *authRequest) GetClientID() string                { return a.ClientID }
func (a *authRequest) GetNonce() string                   { return a.d.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.d.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.d.ResponseMode) }
func (a *authRequest) GetScopes() []string                { return a.d.Scopes }
func (a *authRequest) GetState() string                   { return a.d.State }
func (a *authRequest) GetSubject() string                 { return a.AccountID }
func (a *authRequest) Done() bool                         { return a.AccountID != "" }

func (a *authRequest) GetAMR() []string {
	if a.Done() {
		return []string{"pwd"}
	}
	return nil
}

func (a *authRequest) GetAuthTime() time.Time {
	if a.AuthTime == nil {
		return time.Time{}
	}
	return *a.AuthTime
}

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.d.Challenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.d.Challenge, Method: oidc.CodeChallengeMethod(a.d.ChallengeMethod)}
}

func wrapAuthRequest(ar store.AuthRequest) (*authRequest, error) {
	a := &authRequest{AuthRequest: ar}
	if err := json.Unmarshal([]byte(ar.Data), &a.d); err != nil {
		return nil, fmt.Errorf("authorization request %s: %w", ar.ID, err)
	}
	return a, nil
}

// refreshRequest is a refresh token's grant (op.RefreshTokenRequest).
type refreshRequest struct {
	grant  store.Grant
	hash   string
	scopes []string
}

func (r *refreshRequest) GetAMR() []string            { return []string{"pwd"} }
func (r *refreshRequest) GetAudience() []string       { return []string{r.grant.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.grant.AccountID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// machineRequest is a client credentials request (op.TokenRequest): the
// client is its own subject.
type machineRequest struct {
	client *clients.Client
	scopes []string
}

func (m *machineRequest) GetSubject() string    { return m.client.ID }
func (m *machineRequest) GetAudience() []string { return []string{m.client.ID} }
func (m *machineRequest) GetScopes() []string   { return m.scopes }

// CreateAuthRequest holds the request to usher's rules before keeping it:
// PKCE with S256 (required of public clients; plain is refused), the
// query response mode (where RFC 9207's iss is added), openid among the
// scopes, and only the scopes the client may ask for.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	c := rs.client
	if c == nil || c.ID != req.ClientID {
		if c, err = s.p.client(ctx, rs, req.ClientID); err != nil {
			return nil, oidc.ErrInvalidClient().WithParent(err)
		}
	}
	switch {
	case req.CodeChallenge == "" && c.Type == usher.ClientPublic:
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	case !slices.Contains(req.Scopes, oidc.ScopeOpenID):
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	case !slices.Contains(c.Client.GrantTypes, clients.GrantCode):
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not use the authorization code flow")
	}
	scopes := []string{}
	for _, sc := range req.Scopes {
		switch {
		case slices.Contains(scopes, sc):
		case sc == oidc.ScopeOpenID:
			scopes = append(scopes, sc)
		case sc == oidc.ScopeOfflineAccess && !slices.Contains(c.Client.GrantTypes, clients.GrantRefresh):
		case c.IsScopeAllowed(sc):
			scopes = append(scopes, sc)
		}
	}
	d := authData{RedirectURI: req.RedirectURI, Scopes: scopes, State: req.State, Nonce: req.Nonce, ResponseMode: string(req.ResponseMode),
		Challenge: req.CodeChallenge, ChallengeMethod: string(req.CodeChallengeMethod), Prompt: req.Prompt, MaxAge: req.MaxAge,
		LoginHint: clip(req.LoginHint, 200)}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	ar := store.AuthRequest{ID: store.NewID(), TenantID: rs.tenant.ID, ClientID: c.ID, Data: string(data), ExpiresAt: s.p.now().Add(authRequestTTL)}
	if err := s.p.st.Write(ctx, func(tx *store.Tx) error { return tx.InsertAuthRequest(ctx, &ar) }); err != nil {
		return nil, err
	}
	return &authRequest{AuthRequest: ar, d: d}, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	return s.p.authRequest(ctx, rs, id)
}

// authRequest reads a live authorization request of the request's tenant.
func (p *Provider) authRequest(ctx context.Context, rs *request, id string) (*authRequest, error) {
	ar, err := p.st.Read().AuthRequest(ctx, rs.tenant.ID, id)
	if err != nil {
		return nil, err
	}
	if !p.now().Before(ar.ExpiresAt) {
		return nil, usher.NotFound("id", "authorization request")
	}
	return wrapAuthRequest(ar)
}

// AuthRequestByCode finds a code's request. A code used before revokes
// what its first use issued; an expired one is refused.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	// The account's claims come with the request: the exchange needs them.
	ar, os, err := s.p.st.Read().AuthRequestByCodeWithSubject(ctx, rs.tenant.ID, secret.Hash(code))
	if err != nil {
		return nil, err
	}
	switch {
	case ar.CodeUsedAt != nil:
		s.p.revokeReused(ctx, rs, ar.ID)
		return nil, errors.New("the code was used already; what it issued is revoked")
	case ar.CodeExpiry == nil || !s.p.now().Before(*ar.CodeExpiry):
		return nil, errors.New("the code expired")
	}
	a, err := wrapAuthRequest(ar)
	if err != nil {
		return nil, err
	}
	s.p.keepSubject(ctx, rs, os, a.d.Scopes)
	return a, nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	rs, err := mustState(ctx)
	if err != nil {
		return err
	}
	return s.p.st.Write(ctx, func(tx *store.Tx) error {
		return tx.SaveCode(ctx, rs.tenant.ID, id, secret.Hash(code), s.p.now().Add(CodeTTL))
	})
}

// DeleteAuthRequest keeps the request: its used code must still be
// recognized if it comes again. Expired requests are swept.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	switch r := req.(type) {
	case *authRequest:
		access, _, exp, err := s.p.exchangeCode(ctx, rs, r, false)
		return access, exp, err
	case *machineRequest:
		return s.p.accessToken(ctx, rs, r.client, r.client.ID, newJTI(jtiClient, r.client.ID), r.scopes, nil, map[string]any{"tenant": rs.tenant.Slug})
	}
	return "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return "", "", time.Time{}, err
	}
	switch r := req.(type) {
	case *authRequest:
		return s.p.exchangeCode(ctx, rs, r, true)
	case *refreshRequest:
		return s.p.rotate(ctx, rs, r, current)
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

// TokenRequestByRefreshToken finds a refresh token's grant. A used token
// presented again revokes the grant: the whole family stops working.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	rt, g, os, err := s.p.st.Read().RefreshTokenWithSubject(ctx, rs.tenant.ID, secret.Hash(token))
	if err != nil {
		return nil, err
	}
	now := s.p.now()
	switch {
	case rt.UsedAt != nil:
		s.p.revokeGrant(ctx, rs, rt.GrantID, "refresh token used twice")
		return nil, errors.New("the refresh token was used already; its family is revoked")
	case !now.Before(rt.ExpiresAt):
		return nil, errors.New("the refresh token expired")
	}
	switch {
	case g.RevokedAt != nil:
		return nil, errors.New("the refresh token was revoked: " + g.RevokedReason)
	case !now.Before(g.ExpiresAt):
		return nil, errors.New("the sign-in behind the refresh token expired")
	}
	// The account's state is checked where its claims are used (rotate).
	s.p.keepSubject(ctx, rs, os, g.Scopes)
	return &refreshRequest{grant: g, hash: rt.Hash, scopes: g.Scopes}, nil
}

// TerminateSession is not used: the logout endpoint is usher's (logout.go).
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

const refreshPrefix = "refresh."

// GetRefreshTokenInfo names a refresh token for revocation; another
// client's token, or none, is not a refresh token here.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return "", "", err
	}
	r := s.p.st.Read()
	rt, err := r.RefreshTokenByHash(ctx, rs.tenant.ID, secret.Hash(token))
	if errors.Is(err, usher.ErrNotFound) {
		return "", "", op.ErrInvalidRefreshToken
	} else if err != nil {
		return "", "", err
	}
	g, err := r.Grant(ctx, rs.tenant.ID, rt.GrantID)
	if errors.Is(err, usher.ErrNotFound) || (err == nil && g.ClientID != clientID) {
		return "", "", op.ErrInvalidRefreshToken
	} else if err != nil {
		return "", "", err
	}
	return g.AccountID, refreshPrefix + g.ID, nil
}

// RevokeToken revokes a refresh token's grant (its family and the access
// tokens it issued), or one access token. Unknown tokens are no error (RFC
// 7009); a token of another client is refused.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, _, clientID string) *oidc.Error {
	rs, err := mustState(ctx)
	if err != nil {
		return oidc.ErrServerError()
	}
	if grant, ok := strings.CutPrefix(tokenOrID, refreshPrefix); ok {
		if err := s.p.st.Write(ctx, func(tx *store.Tx) error { return tx.RevokeGrant(ctx, rs.tenant.ID, grant, "revoked by the client") }); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	}
	kind, id, ok := parseJTI(tokenOrID)
	if !ok {
		return nil
	}
	owner := id
	if kind == jtiGrant {
		g, err := s.p.st.Read().Grant(ctx, rs.tenant.ID, id)
		if errors.Is(err, usher.ErrNotFound) {
			return nil
		} else if err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		owner = g.ClientID
	}
	if owner != clientID {
		return oidc.ErrInvalidRequest().WithDescription("the token was not issued to this client")
	}
	err = s.p.st.Write(ctx, func(tx *store.Tx) error {
		return tx.RevokeAccessToken(ctx, rs.tenant.ID, tokenOrID, s.p.now().Add(keys.MaxTokenTTL))
	})
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// SigningKey is the key that signs the ID token of the request's client,
// in the algorithm it registered.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	alg := keys.ES256
	if rs.client != nil && rs.client.IDTokenAlg != "" {
		alg = rs.client.IDTokenAlg
	}
	ring, err := s.p.keys.Ring(ctx, rs.tenant.ID)
	if err != nil {
		return nil, err
	}
	return ring.Signer(alg, s.p.now())
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256, jose.RS256}, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	ring, err := s.p.keys.Ring(ctx, rs.tenant.ID)
	if err != nil {
		return nil, err
	}
	return ring.Public, nil
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.p.client(ctx, rs, id)
	if err != nil {
		return nil, clientError(err)
	}
	rs.client = c
	return c, nil
}

// clientError keeps "not found" a client's fault and anything else the
// server's, as the library asks.
func clientError(err error) error {
	if errors.Is(err, usher.ErrNotFound) {
		return errors.New("unknown client")
	}
	return oidc.ErrServerError().WithParent(err)
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, sec string) error {
	rs, err := mustState(ctx)
	if err != nil {
		return err
	}
	c, err := s.p.client(ctx, rs, id)
	if err != nil {
		return clientError(err)
	}
	if !c.CheckSecret(sec) {
		return errors.New("wrong client secret")
	}
	rs.client = c
	return nil
}

// ClientCredentials authenticates a machine client by its secret or, for
// private_key_jwt, by the assertion in the request.
func (s *storage) ClientCredentials(ctx context.Context, id, sec string) (op.Client, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	if assertion := rs.r.PostForm.Get("client_assertion"); assertion != "" {
		if rs.r.PostForm.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion {
			return nil, errors.New("unknown client_assertion_type")
		}
		req, err := op.VerifyJWTAssertion(ctx, assertion, s.p.op.JWTProfileVerifier(ctx))
		if err != nil {
			return nil, err
		}
		c, err := s.p.client(ctx, rs, req.Issuer)
		if err != nil {
			return nil, clientError(err)
		}
		if id != "" && id != c.ID {
			return nil, errors.New("client_id is not the assertion's issuer")
		}
		rs.client = c
		return c, nil
	}
	c, err := s.p.client(ctx, rs, id)
	if err != nil {
		return nil, clientError(err)
	}
	if !c.CheckSecret(sec) {
		return nil, errors.New("wrong client secret")
	}
	rs.client = c
	return c, nil
}

// ClientCredentialsTokenRequest grants a machine the scopes it asks for
// among those it may have; the people's scopes mean nothing to it.
func (s *storage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	c := rs.client
	if c == nil || (id != "" && c.ID != id) {
		return nil, oidc.ErrInvalidClient()
	}
	granted := []string{}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess:
			continue
		}
		if !c.IsScopeAllowed(sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("this client may not ask for %s", sc)
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	return &machineRequest{client: c, scopes: granted}, nil
}

// SetUserinfoFromScopes is the library's deprecated hook; see
// SetUserinfoFromRequest.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	rs, err := mustState(ctx)
	if err != nil {
		return err
	}
	sub, err := s.p.loadSubject(ctx, rs.tenant, req.GetSubject(), scopes)
	if err != nil {
		return grantError(err)
	}
	sub.fill(rs.tenant, scopes, info)
	// The ID token names the usher session it came through, which logout
	// tokens and front-channel logout name again.
	if s := backchannel.SID(rs.tenant.ID, sessionOf(req)); s != "" {
		info.AppendClaims("sid", s)
	}
	return nil
}

// sessionOf is the session an ID token request came through.
func sessionOf(req any) string {
	switch r := req.(type) {
	case *authRequest:
		return r.SessionID
	case *refreshRequest:
		return r.grant.SessionID
	}
	return ""
}

// SetUserinfoFromToken answers the userinfo endpoint for a live access token.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, jti, subject, _ string) error {
	rs, err := mustState(ctx)
	if err != nil {
		return err
	}
	g, err := s.p.liveToken(ctx, rs, jti, subject)
	if err != nil {
		return oidc.ErrAccessDenied().WithDescription("the access token is not active").WithParent(err)
	}
	if g == nil {
		return oidc.ErrAccessDenied().WithDescription("a client's own token has no user")
	}
	sub, err := s.p.loadSubject(ctx, rs.tenant, g.AccountID, g.Scopes)
	if err != nil {
		return oidc.ErrAccessDenied().WithDescription("the account is not active").WithParent(err)
	}
	sub.fill(rs.tenant, g.Scopes, info)
	return nil
}

// SetIntrospectionFromToken answers introspection of a live access token
// (introspect.go reads the token's own claims into the answer).
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, jti, subject, _ string) error {
	rs, err := mustState(ctx)
	if err != nil {
		return err
	}
	g, err := s.p.liveToken(ctx, rs, jti, subject)
	if err != nil {
		return err
	}
	resp.Subject, resp.JWTID = subject, jti
	if g != nil {
		sub, err := s.p.loadSubject(ctx, rs.tenant, g.AccountID, g.Scopes)
		if err != nil {
			return err
		}
		info := &oidc.UserInfo{}
		sub.fill(rs.tenant, g.Scopes, info)
		resp.SetUserInfo(info)
	}
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID is a private_key_jwt client's public key. The
// library has checked the assertion's audience, expiry and issue time by
// now, and verifies its signature with the key returned; it does not keep
// an assertion from being used twice, so that is done here: the
// assertion of the request is verified with the same key and its jti
// recorded until it expires.
func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	rs, err := mustState(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.p.client(ctx, rs, clientID)
	if err != nil {
		return nil, clientError(err)
	}
	if c.Client.AuthMethod != clients.AuthPrivateKey {
		return nil, errNotKeyClient
	}
	k, err := s.p.clients.Key(ctx, rs.tenant.ID, c, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.p.useAssertion(ctx, rs, c, k); err != nil {
		return nil, err
	}
	return k, nil
}

// useAssertion verifies the request's client assertion with key and
// records its jti: a second use is refused.
func (p *Provider) useAssertion(ctx context.Context, rs *request, c *clients.Client, key *jose.JSONWebKey) error {
	assertion := rs.r.PostForm.Get("client_assertion")
	if assertion != "" && assertion == rs.assertion {
		return nil // verified and recorded for this request already
	}
	algs := make([]jose.SignatureAlgorithm, len(clients.AssertionAlgs))
	for i, a := range clients.AssertionAlgs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(assertion, algs)
	if err != nil {
		return fmt.Errorf("the client assertion cannot be read: %w", err)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return fmt.Errorf("the client assertion's signature: %w", err)
	}
	var claims struct {
		Issuer   string    `json:"iss"`
		JTI      string    `json:"jti"`
		Expires  oidc.Time `json:"exp"`
		IssuedAt oidc.Time `json:"iat"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("the client assertion's claims: %w", err)
	}
	switch {
	case claims.Issuer != c.ID:
		return errors.New("the client assertion was issued by another client")
	case claims.JTI == "" || len(claims.JTI) > 200:
		return errAssertionNoJTI
	}
	// The jti is kept while the library would accept the assertion: until
	// exp, but not past an hour after iat (it refuses older ones), and iat
	// may be a little ahead of now (the library's leeway, replicas'
	// clocks), so that hour counts from the later of iat and now, with
	// assertionSkew to spare.
	expires, from := claims.Expires.AsTime(), p.now()
	if iat := claims.IssuedAt.AsTime(); iat.After(from) {
		from = minTime(iat, from.Add(assertionSkew))
	}
	if max := from.Add(time.Hour + assertionSkew); expires.After(max) {
		expires = max
	}
	var fresh bool
	err = p.st.Write(ctx, func(tx *store.Tx) error {
		fresh, err = tx.UseAssertion(ctx, rs.tenant.ID, c.ID, claims.JTI, expires)
		return err
	})
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if !fresh {
		return errAssertionReplayed
	}
	rs.assertion = assertion
	return nil
}

// assertionSkew is the spare time on how long an assertion's jti is kept.
const assertionSkew = 5 * time.Minute

var (
	errAssertionReplayed = errors.New("the client assertion was used before (its jti is spent)")
	errAssertionNoJTI    = errors.New("the client assertion has no jti (of at most 200 characters)")
	errNotKeyClient      = errors.New("the client does not authenticate with private_key_jwt")
)

// ValidateJWTProfileScopes: the JWT bearer grant is not offered.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnsupportedGrantType()
}

func (s *storage) Health(ctx context.Context) error { return s.p.st.Ping(ctx) }
