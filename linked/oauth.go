package linked

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// endpoints is what talking to an OAuth external system needs.
type endpoints struct {
	x        usher.ExternalSystem // with its preset
	auth     oauth2.Endpoint
	userinfo string
	keys     oidc.KeySet // nil: no ID token checks possible
	issuer   string      // "" with keys: not checked by go-oidc (Microsoft's common endpoint: checked by form)
}

func (s *Service) endpoints(ctx context.Context, x usher.ExternalSystem) (endpoints, error) {
	x = withPreset(x)
	e := endpoints{x: x, userinfo: x.UserInfoURL, issuer: x.Issuer,
		auth: oauth2.Endpoint{AuthURL: x.AuthorizationURL, TokenURL: x.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	if x.Issuer != "" {
		p, err := s.provider(ctx, x.Issuer)
		if err != nil {
			if x.AuthorizationURL == "" || x.TokenURL == "" {
				return e, err
			}
		} else {
			pe := p.Endpoint()
			if e.auth.AuthURL == "" {
				e.auth.AuthURL = pe.AuthURL
			}
			if e.auth.TokenURL == "" {
				e.auth.TokenURL = pe.TokenURL
			}
			if e.userinfo == "" {
				e.userinfo = p.UserInfoEndpoint()
			}
			var meta struct {
				JWKS       string `json:"jwks_uri"`
				Revocation string `json:"revocation_endpoint"`
			}
			if p.Claims(&meta) == nil {
				if e.x.RevocationURL == "" {
					e.x.RevocationURL = meta.Revocation
				}
				if x.JWKSURL == "" {
					x.JWKSURL = meta.JWKS
				}
			}
		}
	}
	if x.JWKSURL != "" {
		e.keys = oidc.NewRemoteKeySet(oidc.ClientContext(context.WithoutCancel(ctx), s.client), x.JWKSURL)
	}
	if e.auth.AuthURL == "" || e.auth.TokenURL == "" {
		return e, fmt.Errorf("external system %s has no authorization or token endpoint", x.ID)
	}
	return e, nil
}

func (s *Service) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	p, err := s.providers.Provider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("the discovery document of %s could not be read: %w", issuer, err)
	}
	return p, nil
}

func (s *Service) oauth2Config(tenant usher.Tenant, e endpoints, secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: e.x.ClientID, ClientSecret: secret, Endpoint: e.auth, RedirectURL: s.CallbackURL(tenant), Scopes: e.x.Scopes}
}

// identityScopes say who the person is; the others are what the product
// needs, and must all be granted.
var identityScopes = []string{"openid", "email", "profile", "offline_access"}

// missingScopes are the system's scopes beyond identity that granted lacks.
func missingScopes(want, granted []string) []string {
	var miss []string
	for _, w := range want {
		if !slices.Contains(identityScopes, w) && !slices.Contains(granted, w) {
			miss = append(miss, w)
		}
	}
	return miss
}

// grantedScopes are the scopes a token response says it granted; one that
// says nothing granted those asked for (RFC 6749, section 5.1).
func grantedScopes(tok *oauth2.Token, asked []string) []string {
	if sc, ok := tok.Extra("scope").(string); ok && strings.TrimSpace(sc) != "" {
		return strings.Fields(sc)
	}
	return asked
}

// refusal is a provider's final "no" to a refresh: the person must
// authorize again.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

// classify tells a refused refresh (invalid_grant, RFC 6749 section 5.2;
// Dex answers a refresh token it no longer holds with invalid_request)
// from what may pass (the provider or the network failing). A refused
// client (invalid_client) is the administrator's to fix, not the person's:
// it is retried.
func classify(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		switch {
		// invalid_request means a misconfiguration at Microsoft (and would
		// wipe every link over one typo); only a refusal that names the
		// refresh token (Dex's for one rotated away) counts as final.
		case code == "invalid_grant", code == "invalid_scope",
			code == "invalid_request" && status == http.StatusBadRequest && strings.Contains(strings.ToLower(re.ErrorDescription), "refresh token"):
			desc := code
			if re.ErrorDescription != "" {
				desc += ": " + clip(re.ErrorDescription, 200)
			}
			return &refusal{reason: "the provider refused the refresh token (" + desc + ")"}
		}
		return fmt.Errorf("the token endpoint answered %d %s", status, clip(code+" "+re.ErrorDescription, 200))
	}
	return err
}

// revokeAtProvider asks the provider to forget a link's tokens (RFC 7009)
// where it has a revocation endpoint; a failure is logged, for the link is
// ended in usher whatever the provider says.
func (s *Service) revokeAtProvider(ctx context.Context, x usher.ExternalSystem, l store.LinkRecord) {
	if x.Kind == usher.ExternalExchange {
		return
	}
	var toks []heldToken
	for _, t := range []struct{ kept, purpose, hint string }{
		{l.RefreshToken, refreshPurpose(l.TenantID, l.ID), "refresh_token"}, {l.AccessToken, accessPurpose(l.TenantID, l.ID), "access_token"}} {
		tok, err := s.box.Reveal(t.kept, t.purpose, "link "+l.ID+"'s "+t.hint)
		if err == nil && tok != "" {
			toks = append(toks, heldToken{tok, t.hint})
		}
	}
	s.revokeTokens(ctx, x, l.ID, toks)
}

// revokeGrant asks the provider to forget the tokens of an authorization
// usher refused (another account, scopes missing): usher keeps none of
// them, so nothing is left live at the provider.
func (s *Service) revokeGrant(ctx context.Context, x usher.ExternalSystem, linkID string, tok *oauth2.Token) {
	s.revokeTokens(ctx, x, linkID, []heldToken{{tok.RefreshToken, "refresh_token"}, {tok.AccessToken, "access_token"}})
}

// heldToken is a token and its RFC 7009 token_type_hint.
type heldToken struct{ token, hint string }

// revokeTokens revokes toks in order at x's revocation endpoint, if it has
// one, stopping after a refresh token (revoking the grant's refresh token
// revokes its access tokens too).
func (s *Service) revokeTokens(ctx context.Context, x usher.ExternalSystem, linkID string, toks []heldToken) {
	x = withPreset(x)
	rev := x.RevocationURL
	if rev == "" && x.Issuer != "" {
		if e, err := s.endpoints(ctx, x); err == nil {
			rev = e.x.RevocationURL
		}
	}
	if rev == "" {
		return
	}
	secret, err := s.clientSecret(x)
	if err != nil {
		s.log.Warn("linked: cannot revoke a link's tokens at the provider", "link_id", linkID, "err", err)
		return
	}
	for _, t := range toks {
		if t.token == "" {
			continue
		}
		form := url.Values{"token": {t.token}, "token_type_hint": {t.hint}, "client_id": {x.ClientID}}
		if secret != "" {
			form.Set("client_secret", secret)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rev, strings.NewReader(form.Encode()))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := s.client.Do(req)
		if err != nil {
			s.log.Warn("linked: the provider's revocation endpoint failed", "link_id", linkID, "err", err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			s.log.Warn("linked: the provider's revocation endpoint refused", "link_id", linkID, "status", resp.StatusCode)
		}
		if t.hint == "refresh_token" {
			return
		}
	}
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) > n {
		return s[:n]
	}
	return s
}

func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
