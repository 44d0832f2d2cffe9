package openid

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// authorize is the authorization endpoint. A request whose client or
// redirect URI is not registered (exactly) never goes back to that URI: the
// person gets an error page. Everything else is the library's, with
// RFC 9207's iss added to what goes back.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, pg Pages) {
	rs := stateOf(r.Context())
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	id, redirect := r.Form.Get("client_id"), r.Form.Get("redirect_uri")
	c, err := p.client(r.Context(), rs, id)
	switch {
	case id == "":
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "The application that sent you here did not say who it is (no client_id). Go back and try again, or tell the application's provider.")
		return
	case errors.Is(err, usher.ErrNotFound):
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "The application that sent you here is not registered with "+rs.tenant.Name+". Tell the application's provider.")
		return
	case err != nil:
		p.log.ErrorContext(r.Context(), "openid: authorize: read client", "tenant", rs.tenant.Slug, "err", err)
		errorPage(w, r, pg, rs.tenant, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
		return
	case !slices.Contains(c.Client.RedirectURIs, redirect):
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "The application that sent you here asked to return to an address that is not registered for it, so you are not sent there. Tell the application's provider.")
		return
	}
	rs.client = c
	op.Authorize(&issParam{ResponseWriter: w, issuer: rs.issuer}, r, p.op)
}

// login is where the library sends a person for an authorization request
// (the client's LoginURL): signed in with usher's session, consented if the
// client is third-party, the request is answered; otherwise the person
// goes to the sign-in or consent page, which come back here.
func (p *Provider) login(w http.ResponseWriter, r *http.Request, pg Pages) {
	ctx := r.Context()
	rs := stateOf(ctx)
	ar, err := p.authRequest(ctx, rs, r.URL.Query().Get("id"))
	if errors.Is(err, usher.ErrNotFound) {
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "This sign-in request has expired or is unknown. Go back to the application and start again.")
		return
	} else if err != nil {
		p.fail(w, r, pg, "read authorization request", err)
		return
	}
	if ar.CodeHash != "" {
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "This sign-in request was answered already. Go back to the application and start again.")
		return
	}
	c, err := p.client(ctx, rs, ar.ClientID)
	if err != nil {
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "The application of this sign-in request is no longer registered.")
		return
	}
	rs.client = c
	iw := &issParam{ResponseWriter: w, issuer: rs.issuer}
	none := slices.Contains(ar.d.Prompt, oidc.PromptNone)
	cur, err := pg.Session(r, rs.tenant)
	signedIn := err == nil
	if err != nil && !errors.Is(err, signin.ErrNoSession) && !errors.Is(err, signin.ErrNeedsSSO) {
		p.fail(w, r, pg, "session", err)
		return
	}
	// A sign-in made after the request satisfies prompt=login and max_age
	// (which prompt=login sets to 0): the person just proved who they are.
	fresh := signedIn && !cur.Session.CreatedAt.Before(ar.CreatedAt)
	force := false
	if signedIn && !fresh {
		if slices.Contains(ar.d.Prompt, oidc.PromptLogin) {
			force = true
		}
		if ar.d.MaxAge != nil && p.now().Sub(cur.Session.CreatedAt) > time.Duration(*ar.d.MaxAge)*time.Second {
			force = true
		}
	}
	if !signedIn || force {
		if none {
			op.AuthRequestError(iw, r, ar, oidc.ErrLoginRequired().WithDescription("the person is not signed in"), p.op)
			return
		}
		q := url.Values{"next": {p.localPath(rs, pathLogin+"?id="+url.QueryEscape(ar.ID))}}
		if ar.d.LoginHint != "" {
			q.Set("login_hint", ar.d.LoginHint)
		}
		if force {
			q.Set("prompt", "login")
		}
		http.Redirect(w, r, rs.issuer+"/?"+q.Encode(), http.StatusSeeOther)
		return
	}
	if c.ThirdParty {
		switch r.URL.Query().Get("consent") {
		case "denied":
			op.AuthRequestError(iw, r, ar, oidc.ErrAccessDenied().WithDescription("the person did not consent"), p.op)
			return
		}
		given, err := p.st.Read().Consent(ctx, rs.tenant.ID, cur.Account.ID, c.ID)
		if err != nil {
			p.fail(w, r, pg, "consent", err)
			return
		}
		if !covers(given, ar.d.Scopes) || slices.Contains(ar.d.Prompt, oidc.PromptConsent) && r.URL.Query().Get("consent") != "given" {
			if none {
				op.AuthRequestError(iw, r, ar, &oidc.Error{ErrorType: "consent_required", Description: "the person has not consented"}, p.op)
				return
			}
			http.Redirect(w, r, rs.issuer+"/consent/"+url.PathEscape(ar.ID), http.StatusSeeOther)
			return
		}
	}
	authTime := cur.Session.CreatedAt
	err = p.st.Write(ctx, func(tx *store.Tx) error {
		return tx.SignInAuthRequest(ctx, rs.tenant.ID, ar.ID, cur.Account.ID, cur.Session.IdentityID, cur.Session.ID, authTime)
	})
	if errors.Is(err, usher.ErrConflict) {
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "This sign-in request was answered already. Go back to the application and start again.")
		return
	} else if err != nil {
		p.fail(w, r, pg, "sign in authorization request", err)
		return
	}
	ar.AccountID, ar.IdentityID, ar.SessionID, ar.AuthTime = cur.Account.ID, cur.Session.IdentityID, cur.Session.ID, &authTime
	op.AuthResponse(ar, p.op, iw, r)
}

// localPath is path below the tenant's issuer as a path on this server,
// for the sign-in page's "next".
func (p *Provider) localPath(rs *request, path string) string {
	if u, err := url.Parse(rs.issuer); err == nil {
		return strings.TrimSuffix(u.Path, "/") + path
	}
	return path
}

func (p *Provider) fail(w http.ResponseWriter, r *http.Request, pg Pages, what string, err error) {
	rs := stateOf(r.Context())
	p.log.ErrorContext(r.Context(), "openid: "+what, "tenant", rs.tenant.Slug, "err", err)
	errorPage(w, r, pg, rs.tenant, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
}

func covers(given, asked []string) bool {
	for _, s := range asked {
		if s != oidc.ScopeOpenID && !slices.Contains(given, s) {
			return false
		}
	}
	return true
}

// ConsentRequest is what the consent page shows.
type ConsentRequest struct {
	ClientName string
	Scopes     []string
	// Continue is where the page sends the person back, with
	// "&consent=given" or "&consent=denied" added.
	Continue string
}

// PendingConsent returns what a signed-in account is asked to consent to
// for authorization request id of tn.
func (p *Provider) PendingConsent(ctx context.Context, tn usher.Tenant, id string) (ConsentRequest, error) {
	rs := &request{tenant: tn, issuer: strings.TrimSuffix(p.issuer(tn), "/")}
	ar, err := p.authRequest(ctx, rs, id)
	if err != nil {
		return ConsentRequest{}, err
	}
	c, err := p.client(ctx, rs, ar.ClientID)
	if err != nil {
		return ConsentRequest{}, err
	}
	return ConsentRequest{ClientName: c.Name, Scopes: ar.d.Scopes, Continue: p.localPath(rs, pathLogin+"?id="+url.QueryEscape(ar.ID))}, nil
}

// Consent remembers that account consented to the scopes of authorization
// request id for its client.
func (p *Provider) Consent(ctx context.Context, tn usher.Tenant, account usher.Account, id string) error {
	rs := &request{tenant: tn, issuer: strings.TrimSuffix(p.issuer(tn), "/")}
	ar, err := p.authRequest(ctx, rs, id)
	if err != nil {
		return err
	}
	return p.st.Write(ctx, func(tx *store.Tx) error {
		given, err := tx.Consent(ctx, tn.ID, account.ID, ar.ClientID)
		if err != nil {
			return err
		}
		for _, s := range ar.d.Scopes {
			if !slices.Contains(given, s) {
				given = append(given, s)
			}
		}
		if err := tx.SaveConsent(ctx, tn.ID, account.ID, ar.ClientID, given); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tn.ID, usher.Actor{Kind: usher.ActorAccount, ID: account.ID}.Event("client.consented", "client", ar.ClientID,
			map[string]string{"scopes": strings.Join(ar.d.Scopes, " ")}))
	})
}

// FormTarget is the origin of the redirect URI of the authorization
// request a sign-in page continues (its "next" address, which leads to the
// login step), or "".
func (p *Provider) FormTarget(ctx context.Context, tn usher.Tenant, next string) string {
	_, q, ok := strings.Cut(next, pathLogin+"?")
	if !ok {
		return ""
	}
	v, err := url.ParseQuery(q)
	if err != nil || v.Get("id") == "" {
		return ""
	}
	rs := &request{tenant: tn, issuer: strings.TrimSuffix(p.issuer(tn), "/")}
	ar, err := p.authRequest(ctx, rs, v.Get("id"))
	if err != nil {
		return ""
	}
	u, err := url.Parse(ar.d.RedirectURI)
	switch {
	case err != nil || u.Scheme == "":
		return ""
	case u.Host == "":
		return u.Scheme + ":" // a native app's own scheme
	}
	return u.Scheme + "://" + u.Host
}
