package sso

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

func (s *Service) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	p, err := s.oidc.Provider(ctx, issuer)
	if err != nil {
		return nil, refused("the issuer's discovery document could not be read", err)
	}
	return p, nil
}

func (s *Service) oauth2Config(tenant usher.Tenant, c usher.Connection, p *oidc.Provider, clientSecret string) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	for _, sc := range append([]string{"email", "profile"}, c.Scopes...) {
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: clientSecret, Endpoint: p.Endpoint(), RedirectURL: s.CallbackURL(tenant, c), Scopes: scopes}
}

// beginOIDC: the authorization code flow with PKCE (S256), state and nonce.
func (s *Service) beginOIDC(ctx context.Context, tenant usher.Tenant, c usher.Connection, q *store.SSORequest, state, loginHint string) (Start, error) {
	p, err := s.provider(ctx, c.Issuer)
	if err != nil {
		return Start{}, err
	}
	nonce, _ := secret.New()
	q.Nonce, q.Verifier = nonce, oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(q.Verifier)}
	if loginHint != "" && len(loginHint) <= 320 {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	if q.Purpose == PurposeTest {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	return Start{URL: s.oauth2Config(tenant, c, p, "").AuthCodeURL(state, opts...)}, nil
}

// Callback completes an OpenID Connect sign-in: the browser's state, the
// issuer (RFC 9207), the code exchanged with the PKCE verifier, and the ID
// token verified by go-oidc (signature from the issuer's keys, iss, aud,
// exp) with its nonce; the userinfo endpoint's claims added where the
// connection says so.
func (s *Service) Callback(ctx context.Context, tenant usher.Tenant, connID string, query url.Values, cookie string) (Answer, error) {
	c, err := s.Connection(ctx, tenant, connID)
	if err != nil {
		return Answer{}, err
	}
	if c.Protocol != "oidc" {
		return Answer{}, ErrDisabled
	}
	q, err := s.use(ctx, tenant, c.ID, query.Get("state"), cookie, false)
	if err != nil {
		return Answer{}, err
	}
	if e := query.Get("error"); e != "" {
		return Answer{}, refused("the identity provider refused: "+clip(e+" "+query.Get("error_description"), 300), nil)
	}
	if iss := query.Get("iss"); iss != "" && iss != c.Issuer {
		return Answer{}, refused(fmt.Sprintf("the answer came from issuer %q, not %q", clip(iss, 200), c.Issuer), nil)
	}
	code := query.Get("code")
	if code == "" {
		return Answer{}, refused("the identity provider sent no code", nil)
	}
	p, err := s.provider(ctx, c.Issuer)
	if err != nil {
		return Answer{}, err
	}
	cs, err := s.clientSecret(c)
	if err != nil {
		return Answer{}, err
	}
	octx := oidc.ClientContext(ctx, s.client)
	cfg := s.oauth2Config(tenant, c, p, cs)
	tok, err := cfg.Exchange(octx, code, oauth2.VerifierOption(q.Verifier))
	if err != nil {
		return Answer{}, refused("the code could not be exchanged at the token endpoint", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Answer{}, refused("the token endpoint sent no ID token", nil)
	}
	idt, err := p.VerifierContext(octx, &oidc.Config{ClientID: c.ClientID, Now: s.now}).Verify(octx, raw)
	if err != nil {
		return Answer{}, refused("the ID token did not pass the checks", err)
	}
	if idt.Nonce != q.Nonce {
		return Answer{}, refused("the ID token's nonce is not this sign-in's", nil)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Answer{}, refused("the ID token's claims could not be read", err)
	}
	got := received{Subject: idt.Subject, Claims: flatten(claims)}
	if c.UserInfo && p.UserInfoEndpoint() != "" {
		ui, err := p.UserInfo(octx, cfg.TokenSource(octx, tok))
		if err != nil {
			return Answer{}, refused("the userinfo endpoint could not be read", err)
		}
		if ui.Subject != idt.Subject {
			return Answer{}, refused("the userinfo endpoint speaks of another subject", nil)
		}
		var more map[string]any
		if err := ui.Claims(&more); err == nil {
			for k, v := range flatten(more) {
				if _, ok := got.Claims[k]; !ok {
					got.Claims[k] = v
				}
			}
		}
	}
	// An identity provider that says the email is not verified does not
	// vouch for it.
	if v := lookup(got.Claims, "email_verified"); len(v) == 1 && v[0] == "false" {
		return Answer{}, refused("the identity provider says the email is not verified", nil)
	}
	return s.answer(c, q, got)
}

// clientSecret opens the connection's client secret.
func (s *Service) clientSecret(c usher.Connection) (string, error) {
	return s.box.Reveal(c.ClientSecret, provision.ConnectionSecretPurpose(c.TenantID, c.ID), "connection "+c.ID+"'s client secret")
}

// flatten turns JSON claims into lists of strings: strings as they are,
// lists item by item, numbers and booleans as written.
func flatten(claims map[string]any) map[string][]string {
	out := make(map[string][]string, len(claims))
	for k, v := range claims {
		switch x := v.(type) {
		case string:
			out[k] = []string{x}
		case bool:
			out[k] = []string{strconv.FormatBool(x)}
		case float64:
			out[k] = []string{strconv.FormatFloat(x, 'f', -1, 64)}
		case []any:
			for _, e := range x {
				switch y := e.(type) {
				case string:
					out[k] = append(out[k], y)
				case map[string]any, []any:
					b, _ := json.Marshal(y)
					out[k] = append(out[k], string(b))
				default:
					out[k] = append(out[k], fmt.Sprint(y))
				}
			}
		case nil:
		default:
			b, _ := json.Marshal(x)
			out[k] = []string{string(b)}
		}
	}
	return out
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
