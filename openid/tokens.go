package openid

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// tokenCrypto is the library's Crypto. The library makes two opaque
// strings with it: an authorization code (from the request's id) and a
// bearer access token (from "<token id>:<subject>"). Codes here are random
// secrets, found again by their hash, never decrypted; and the "token id"
// the storage adapter returns is already usher's own signed access token
// (RFC 9068: typed at+jwt, ES256, usher's claims), which passes through.
// The library's own JWT access tokens cannot be typed at+jwt nor signed
// apart from ID tokens, hence this.
type tokenCrypto struct{}

func (tokenCrypto) Encrypt(s string) (string, error) {
	if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Count(s[:i], ".") == 2 {
		return s[:i], nil
	}
	code, _ := secret.New()
	return code, nil
}

// Decrypt fails: access tokens are verified as JWTs by the library.
func (tokenCrypto) Decrypt(string) (string, error) {
	return "", errors.New("usher's tokens are signed, not encrypted")
}

// jti kinds: an access token given through a grant names it, one given
// by client credentials names its client; introspection, userinfo and
// revocation read them back.
const (
	jtiGrant  = "g"
	jtiClient = "c"
)

func newJTI(kind, id string) string {
	b := make([]byte, 9)
	rand.Read(b)
	return kind + "." + id + "." + base64.RawURLEncoding.EncodeToString(b)
}

func parseJTI(jti string) (kind, id string, ok bool) {
	parts := strings.Split(jti, ".")
	if len(parts) != 3 || (parts[0] != jtiGrant && parts[0] != jtiClient) || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// accessToken signs an RFC 9068 access token for c.
func (p *Provider) accessToken(ctx context.Context, rs *request, c *clients.Client, sub, jti string, scopes []string, authTime *time.Time, extra map[string]any) (string, time.Time, error) {
	ring, err := p.keys.Ring(ctx, rs.tenant.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	now := p.now()
	k, err := ring.Signer(keys.ES256, now)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(c.AccessTTL())
	claims := map[string]any{"iss": rs.issuer, "sub": sub, "aud": []string{c.ID}, "client_id": c.ID, "iat": now.Unix(), "exp": exp.Unix(),
		"jti": jti, "scope": strings.Join(scopes, " ")}
	if authTime != nil {
		claims["auth_time"] = authTime.Unix()
	}
	for k, v := range extra {
		claims[k] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", time.Time{}, err
	}
	sig, err := k.At.Sign(payload)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("openid: sign access token: %w", err)
	}
	tok, err := sig.CompactSerialize()
	return tok, exp, err
}

// extraFor is what an access token of a grant carries beyond RFC 9068's
// claims: with the usher scope, tenant, role, plan and groups.
func (p *Provider) extraFor(ctx context.Context, rs *request, account string, scopes []string) (map[string]any, error) {
	s, err := p.loadSubject(ctx, rs.tenant, account, scopes)
	if err != nil || !slices.Contains(scopes, clients.ScopeUsher) {
		return nil, err
	}
	return s.accessClaims(rs.tenant), nil
}

func (p *Provider) activeAccount(ctx context.Context, rs *request, account string) error {
	a, err := p.st.Read().Account(ctx, rs.tenant.ID, account)
	if errors.Is(err, usher.ErrNotFound) || (err == nil && a.State != usher.StateActive) {
		return errInactive
	}
	return err
}

// exchangeCode issues the tokens of an authorization code: a grant, its
// first refresh token when asked for, and an access token. The code's use
// is claimed in the same write, so of two uses exactly one issues
// anything; the other revokes what it issued.
func (p *Provider) exchangeCode(ctx context.Context, rs *request, ar *authRequest, withRefresh bool) (access, refresh string, exp time.Time, err error) {
	c := rs.client
	if c == nil || c.ID != ar.ClientID {
		return "", "", time.Time{}, oidc.ErrInvalidGrant()
	}
	extra, err := p.extraFor(ctx, rs, ar.AccountID, ar.d.Scopes)
	if err != nil {
		return "", "", time.Time{}, grantError(err)
	}
	now := p.now()
	g := store.Grant{ID: store.NewID(), TenantID: rs.tenant.ID, ClientID: c.ID, AccountID: ar.AccountID, IdentityID: ar.IdentityID,
		SessionID: ar.SessionID, Scopes: ar.d.Scopes, AuthTime: *ar.AuthTime, ExpiresAt: now.Add(grantTTL)}
	var rt store.RefreshToken
	if withRefresh {
		refresh, rt.Hash = secret.New()
		rt.TenantID, rt.GrantID, rt.ExpiresAt = rs.tenant.ID, g.ID, minTime(now.Add(c.RefreshTTL()), g.ExpiresAt)
	}
	// Grouped: concurrent exchanges share a commit on PostgreSQL.
	err = p.st.WriteGrouped(ctx, func(tx *store.Tx) error {
		if err := tx.UseCode(ctx, rs.tenant.ID, ar.ID, g.ID); err != nil {
			return err
		}
		if err := tx.InsertGrant(ctx, &g); err != nil {
			return err
		}
		if withRefresh {
			return tx.InsertRefreshToken(ctx, &rt)
		}
		return nil
	})
	if errors.Is(err, usher.ErrConflict) {
		// Used meanwhile by another request: that one's grant goes too.
		p.revokeReused(ctx, rs, ar.ID)
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the code was used already")
	}
	if err != nil {
		return "", "", time.Time{}, err
	}
	access, exp, err = p.accessToken(ctx, rs, c, ar.AccountID, newJTI(jtiGrant, g.ID), ar.d.Scopes, ar.AuthTime, extra)
	return access, refresh, exp, err
}

// revokeReused revokes what the first use of an authorization request's
// code issued.
func (p *Provider) revokeReused(ctx context.Context, rs *request, id string) {
	err := p.st.Write(ctx, func(tx *store.Tx) error {
		ar, err := tx.AuthRequest(ctx, rs.tenant.ID, id)
		if err != nil || ar.GrantID == "" {
			return err
		}
		return tx.RevokeGrant(ctx, rs.tenant.ID, ar.GrantID, "code used twice")
	})
	if err != nil {
		p.log.ErrorContext(ctx, "openid: revoke what a reused code issued", "tenant", rs.tenant.Slug, "err", err)
	}
}

// rotate exchanges a refresh token for a new one of the same grant and an
// access token. Its use is claimed in the write that stores its
// successor: of two uses at once exactly one wins, and the other revokes
// the grant, as any reuse does.
func (p *Provider) rotate(ctx context.Context, rs *request, rr *refreshRequest, current string) (access, refresh string, exp time.Time, err error) {
	c := rs.client
	g := rr.grant
	if c == nil || c.ID != g.ClientID || secret.Hash(current) != rr.hash {
		return "", "", time.Time{}, oidc.ErrInvalidGrant()
	}
	extra, err := p.extraFor(ctx, rs, g.AccountID, rr.scopes)
	if err != nil {
		return "", "", time.Time{}, grantError(err)
	}
	now := p.now()
	var rt store.RefreshToken
	refresh, rt.Hash = secret.New()
	rt.TenantID, rt.GrantID, rt.ExpiresAt = rs.tenant.ID, g.ID, minTime(now.Add(c.RefreshTTL()), g.ExpiresAt)
	err = p.st.WriteGrouped(ctx, func(tx *store.Tx) error {
		if err := tx.UseRefreshToken(ctx, rs.tenant.ID, rr.hash); err != nil {
			return err
		}
		return tx.InsertRefreshToken(ctx, &rt)
	})
	if errors.Is(err, usher.ErrConflict) {
		p.revokeGrant(ctx, rs, g.ID, "refresh token used twice")
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the refresh token was used already")
	}
	if err != nil {
		return "", "", time.Time{}, err
	}
	access, exp, err = p.accessToken(ctx, rs, c, g.AccountID, newJTI(jtiGrant, g.ID), rr.scopes, &g.AuthTime, extra)
	return access, refresh, exp, err
}

func (p *Provider) revokeGrant(ctx context.Context, rs *request, id, reason string) {
	err := p.st.Write(ctx, func(tx *store.Tx) error { return tx.RevokeGrant(ctx, rs.tenant.ID, id, reason) })
	if err != nil {
		p.log.ErrorContext(ctx, "openid: revoke grant", "tenant", rs.tenant.Slug, "reason", reason, "err", err)
	}
}

// grantError answers an account that can no longer be given tokens.
func grantError(err error) error {
	if errors.Is(err, errInactive) {
		return oidc.ErrInvalidGrant().WithDescription("the account is not active")
	}
	return err
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// liveToken says whether an access token, by its jti and subject, is still
// good at now: not revoked, its grant not revoked, its account active, or
// its client not deleted. It returns the grant (for a user's token).
func (p *Provider) liveToken(ctx context.Context, rs *request, jti, sub string) (*store.Grant, error) {
	kind, id, ok := parseJTI(jti)
	if !ok {
		return nil, errors.New("not an access token of this issuer")
	}
	r := p.st.Read()
	if kind == jtiClient {
		revoked, err := r.AccessTokenRevoked(ctx, rs.tenant.ID, jti)
		if err != nil {
			return nil, err
		}
		if revoked {
			return nil, errors.New("the access token was revoked")
		}
		if sub != id {
			return nil, errors.New("the access token's subject is not its client")
		}
		if _, err := p.client(ctx, rs, id); err != nil {
			return nil, err
		}
		return nil, nil
	}
	// A user's token: its grant and its revocation in one query.
	g, revoked, err := r.GrantOfToken(ctx, rs.tenant.ID, id, jti)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, errors.New("the access token was revoked")
	}
	switch {
	case g.RevokedAt != nil:
		return nil, errors.New("the grant was revoked: " + g.RevokedReason)
	case !p.now().Before(g.ExpiresAt):
		return nil, errors.New("the grant expired")
	case g.AccountID != sub:
		return nil, errors.New("the access token's subject is not its grant's")
	}
	if _, err := p.client(ctx, rs, g.ClientID); err != nil {
		return nil, err
	}
	// The account's state is checked where its claims are read.
	return &g, nil
}
