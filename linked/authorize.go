package linked

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// requestTTL bounds how long a person may spend at the provider.
const requestTTL = 15 * time.Minute

// Errors a person may meet on the way back.
var (
	ErrExpired = &usher.Error{Code: usher.CodeInvalid, Field: "state", Message: "this authorization took too long or was already used; start again"}
	ErrBrowser = &usher.Error{Code: usher.CodeInvalid, Field: "state", Message: "this authorization was started in another browser; start again here"}
)

// WrongAccount is the refusal of an authorization by another external
// account than the linked one: nothing is stored.
type WrongAccount struct {
	System   string // the system's name
	Got      string // the account the person signed in to there
	Expected string // the link's login
}

func (e *WrongAccount) Error() string {
	return fmt.Sprintf("you signed in to %s as %s; this link is for %s", e.System, e.Got, e.Expected)
}

// ProviderError is the provider's refusal or an answer that does not pass
// the checks; Detail is for the log, the person reads Error.
type ProviderError struct {
	Message string // what the person reads
	Detail  error
}

func (e *ProviderError) Error() string { return e.Message }
func (e *ProviderError) Unwrap() error { return e.Detail }

func refused(msg string, err error) error { return &ProviderError{Message: msg, Detail: err} }

// Page is what a link's page shows: the link, its system, its tenant.
type Page struct {
	Link   usher.Link
	System usher.ExternalSystem
}

// ForPerson returns a link and its system for its own person's page:
// another person's link, or one ended, is not found.
func (s *Service) ForPerson(ctx context.Context, tenant usher.Tenant, linkID, accountID string) (Page, error) {
	r := s.st.Read()
	l, err := r.Link(ctx, tenant.ID, linkID)
	if err != nil {
		return Page{}, err
	}
	if l.AccountID != accountID || accountID == "" || !live(l.State) {
		return Page{}, usher.NotFound("link_id", "link")
	}
	x, err := r.ExternalSystem(ctx, tenant.ID, l.ExternalSystemID)
	if err != nil {
		return Page{}, err
	}
	x.ClientSecret = ""
	return Page{Link: l.Link, System: x}, nil
}

// Start is where the browser goes, and the state its cookie keeps.
type Start struct {
	URL   string
	State string
}

// Begin starts the authorization of a link by its own person (signed in
// to usher as accountID): a request kept under the hash of a new state,
// and the provider's address (authorization code with PKCE S256, offline
// access, the link's login as the hint).
func (s *Service) Begin(ctx context.Context, tenant usher.Tenant, linkID, accountID string) (Start, error) {
	p, err := s.ForPerson(ctx, tenant, linkID, accountID)
	if err != nil {
		return Start{}, err
	}
	x, err := s.st.Read().ExternalSystem(ctx, tenant.ID, p.System.ID)
	if err != nil {
		return Start{}, err
	}
	if x.DeactivatedAt != nil {
		return Start{}, usher.Conflict("external_system_id", "%s is switched off in this organization", x.Name)
	}
	if x.Kind == usher.ExternalExchange {
		return Start{}, usher.Invalid("external_system_id", "%s signs in with a password, not through a provider", x.Name)
	}
	e, err := s.endpoints(ctx, x)
	if err != nil {
		return Start{}, refused("the provider cannot be reached now; try again later", err)
	}
	state, hash := secret.New()
	nonce, _ := secret.New()
	q := store.LinkRequest{ID: hash, TenantID: tenant.ID, LinkID: linkID, Verifier: oauth2.GenerateVerifier(), Nonce: nonce,
		ExpiresAt: s.now().Add(requestTTL)}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(q.Verifier), oauth2.AccessTypeOffline, oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("login_hint", p.Link.Login)}
	if x.Kind == usher.ExternalGoogle {
		// Google gives a refresh token only at consent.
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.InsertLinkRequest(ctx, &q) }); err != nil {
		return Start{}, err
	}
	return Start{URL: s.oauth2Config(tenant, e, "").AuthCodeURL(state, opts...), State: state}, nil
}

// Callback completes an authorization: the state must be the browser's
// (its cookie) and unused; the code is exchanged with the PKCE verifier;
// the external account must be the linked one (the ID token's email,
// preferred_username or upn, verified with go-oidc, or else the userinfo
// endpoint's); the granted scopes must cover the system's. Then the tokens
// are sealed and the link is authorized. It returns the link. A grant
// refused after the exchange is revoked at the provider (RFC 7009), where
// it has a revocation endpoint.
func (s *Service) Callback(ctx context.Context, tenant usher.Tenant, query url.Values, cookie string) (Page, error) {
	state := query.Get("state")
	if state == "" || len(state) > 100 {
		return Page{}, ErrExpired
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(cookie)) != 1 {
		return Page{}, ErrBrowser
	}
	var q store.LinkRequest
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		q, err = tx.UseLinkRequest(ctx, tenant.ID, secret.Hash(state))
		return err
	})
	if errors.Is(err, usher.ErrNotFound) {
		return Page{}, ErrExpired
	} else if err != nil {
		return Page{}, err
	}
	r := s.st.Read()
	l, err := r.Link(ctx, tenant.ID, q.LinkID)
	if err != nil {
		return Page{}, err
	}
	x, err := r.ExternalSystem(ctx, tenant.ID, l.ExternalSystemID)
	if err != nil {
		return Page{}, err
	}
	page := Page{Link: l.Link, System: x}
	page.System.ClientSecret = ""
	if !live(l.State) {
		return page, usher.NotFound("link_id", "link")
	}
	if e := query.Get("error"); e != "" {
		return page, refused(x.Name+" did not give access ("+clip(e, 100)+")", errors.New(clip(e+" "+query.Get("error_description"), 300)))
	}
	code := query.Get("code")
	if code == "" {
		return page, refused(x.Name+" sent no authorization code", nil)
	}
	e, err := s.endpoints(ctx, x)
	if err != nil {
		return page, refused("the provider cannot be reached now; try again later", err)
	}
	cs, err := s.clientSecret(x)
	if err != nil {
		return page, err
	}
	octx := oidc.ClientContext(ctx, s.client)
	cfg := s.oauth2Config(tenant, e, cs)
	tok, err := cfg.Exchange(octx, code, oauth2.VerifierOption(q.Verifier))
	if err != nil {
		return page, refused(x.Name+" did not accept the authorization code", err)
	}
	// A grant refused below is revoked at the provider: usher keeps none
	// of its tokens.
	refuse := func(err error) (Page, error) {
		s.revokeGrant(ctx, x, l.ID, tok)
		return page, err
	}
	who, err := s.identify(octx, e, cfg, tok, q.Nonce)
	if err != nil {
		return refuse(err)
	}
	if !who.matches(l.Login) {
		return refuse(&WrongAccount{System: x.Name, Got: who.name(), Expected: l.Login})
	}
	granted := grantedScopes(tok, e.x.Scopes)
	if miss := missingScopes(e.x.Scopes, granted); len(miss) > 0 {
		return refuse(refused(fmt.Sprintf("%s did not grant everything asked for: %s is missing; authorize again and allow it", x.Name, strings.Join(miss, ", ")), nil))
	}
	if tok.RefreshToken == "" {
		return refuse(refused(x.Name+" gave no refresh token (offline access), so usher could not keep the link working", nil))
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Link(ctx, tenant.ID, l.ID)
		if err != nil {
			return err
		}
		if !live(cur.State) {
			return usher.NotFound("link_id", "link")
		}
		was := cur.State
		now := tx.Now()
		s.keepTokens(&cur, tok, now)
		cur.State, cur.Subject, cur.Scopes, cur.AuthorizedAt, cur.LastError, cur.Attempts = usher.LinkAuthorized, who.subject, granted, &now, "", 0
		if err := tx.UpdateLink(ctx, tenant.ID, &cur, ""); err != nil {
			return err
		}
		if err := changed(ctx, tx, cur, was); err != nil {
			return err
		}
		l = cur
		return audit(ctx, tx, tenant.ID, usher.Actor{Kind: usher.ActorAccount, ID: l.AccountID}, "link.authorized", "link", l.ID,
			map[string]string{"from": was, "subject": who.subject, "scopes": strings.Join(granted, " ")})
	})
	page.Link = l.Link
	return page, err
}

// idleRefresh is the longest a grant goes unrefreshed: Microsoft drops
// refresh tokens unused for 90 days, Google for six months.
const idleRefresh = 7 * 24 * time.Hour

// keepTokens seals a token response into l and schedules its refresh. A
// response without a refresh token keeps the one held (not every
// provider rotates them).
func (s *Service) keepTokens(l *store.LinkRecord, tok *oauth2.Token, now time.Time) {
	l.AccessToken = s.box.Keep(tok.AccessToken, accessPurpose(l.TenantID, l.ID))
	if tok.RefreshToken != "" {
		l.RefreshToken = s.box.Keep(tok.RefreshToken, refreshPurpose(l.TenantID, l.ID))
	}
	next := now.Add(idleRefresh)
	// The expiry on usher's clock: oauth2 computes it on the wall clock.
	exp := tok.Expiry
	if in := expiresIn(tok); in > 0 {
		exp = now.Add(in)
	}
	if !exp.IsZero() {
		exp := exp.UTC()
		l.ExpiresAt = &exp
		if due := exp.Add(-tokenMargin); due.Before(next) {
			next = due
		}
	} else {
		l.ExpiresAt = nil
	}
	if next.Before(now) {
		next = now
	}
	l.NextAt, l.RefreshedAt = &next, &now
}

// who is the external account an authorization came from.
type who struct {
	subject string
	logins  []string // email, preferred_username, upn
}

func (w who) matches(login string) bool {
	for _, l := range w.logins {
		if l != "" && strings.EqualFold(strings.TrimSpace(l), strings.TrimSpace(login)) {
			return true
		}
	}
	return false
}

func (w who) name() string {
	for _, l := range w.logins {
		if l != "" {
			return clip(l, 320)
		}
	}
	return "an account without an email (" + clip(w.subject, 100) + ")"
}

type idClaims struct {
	Subject           string `json:"sub"`
	Email             string `json:"email"`
	EmailVerified     *bool  `json:"email_verified"`
	PreferredUsername string `json:"preferred_username"`
	UPN               string `json:"upn"`
	Issuer            string `json:"iss"`
	Nonce             string `json:"nonce"`
	// EmailDomainOwnerVerified is Microsoft's optional claim xms_edov:
	// the email's domain is verified by the directory that issued it.
	EmailDomainOwnerVerified *bool `json:"xms_edov"`
}

// who are the logins the provider vouches for. An email counts only when
// the provider says it verified it (Microsoft: when the directory owns
// its domain): an unverified email is whatever a directory's
// administrator typed, and would let anyone's directory claim anyone's
// address. Microsoft's user principal name counts, since Entra accepts
// one only in a domain the directory verified; other providers' user
// names are chosen by their users and count for nothing.
func (c idClaims) who(kind string) who {
	w := who{subject: c.Subject}
	switch {
	case c.EmailVerified != nil && *c.EmailVerified:
		w.logins = append(w.logins, c.Email)
	case kind == usher.ExternalMicrosoft && c.EmailDomainOwnerVerified != nil && *c.EmailDomainOwnerVerified:
		w.logins = append(w.logins, c.Email)
	}
	if kind == usher.ExternalMicrosoft {
		w.logins = append(w.logins, c.PreferredUsername, c.UPN)
	}
	return w
}

// identify says which external account authorized: from the ID token
// when the provider sent one and its keys are known, else from the
// userinfo endpoint.
func (s *Service) identify(ctx context.Context, e endpoints, cfg *oauth2.Config, tok *oauth2.Token, nonce string) (who, error) {
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" && e.keys != nil {
		v := oidc.NewVerifier(e.issuer, e.keys, &oidc.Config{ClientID: e.x.ClientID, Now: s.now, SkipIssuerCheck: e.issuer == ""})
		idt, err := v.Verify(ctx, raw)
		if err != nil {
			return who{}, refused("the provider's ID token did not pass the checks", err)
		}
		var c idClaims
		if err := idt.Claims(&c); err != nil {
			return who{}, refused("the provider's ID token could not be read", err)
		}
		// Microsoft's multi-tenant endpoint has no one issuer: each
		// directory's is under login.microsoftonline.com.
		if e.issuer == "" && e.x.Kind == usher.ExternalMicrosoft && !strings.HasPrefix(c.Issuer, "https://login.microsoftonline.com/") {
			return who{}, refused("the ID token comes from an unexpected issuer", fmt.Errorf("issuer %q", clip(c.Issuer, 200)))
		}
		if idt.Nonce != nonce {
			return who{}, refused("the provider's ID token is not this authorization's", errors.New("nonce mismatch"))
		}
		return c.who(e.x.Kind), nil
	}
	if e.userinfo == "" {
		return who{}, refused("the provider says nothing of the account that authorized (no ID token, no userinfo endpoint)", nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.userinfo, nil)
	if err != nil {
		return who{}, err
	}
	resp, err := cfg.Client(ctx, tok).Do(req)
	if err != nil {
		return who{}, refused("the provider's userinfo endpoint could not be read", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return who{}, refused("the provider's userinfo endpoint refused", fmt.Errorf("status %d", resp.StatusCode))
	}
	var c idClaims
	if err := jsonDecode(resp, &c); err != nil {
		return who{}, refused("the provider's userinfo answer could not be read", err)
	}
	return c.who(e.x.Kind), nil
}

// expiresIn is the token response's expires_in.
func expiresIn(tok *oauth2.Token) time.Duration {
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		return time.Duration(v) * time.Second
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// PersonLinks lists a person's own links in tenant with their systems, for
// their account page: those an administrator removed are left out.
func (s *Service) PersonLinks(ctx context.Context, tenant usher.Tenant, accountID string) ([]Page, error) {
	if accountID == "" {
		return nil, nil
	}
	r := s.st.Read()
	systems := map[string]usher.ExternalSystem{}
	var out []Page
	o := store.ListOptions{Limit: 500}
	for {
		recs, next, err := r.Links(ctx, tenant.ID, store.LinkFilter{AccountID: accountID}, o)
		if err != nil {
			return nil, err
		}
		for _, l := range recs {
			if l.State == usher.LinkUnlinked {
				continue
			}
			x, ok := systems[l.ExternalSystemID]
			if !ok {
				if x, err = r.ExternalSystem(ctx, tenant.ID, l.ExternalSystemID); err != nil {
					return nil, err
				}
				x.ClientSecret = ""
				systems[x.ID] = x
			}
			out = append(out, Page{Link: l.Link, System: x})
		}
		if next == "" {
			return out, nil
		}
		o.After = next
	}
}
