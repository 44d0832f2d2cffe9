package openid

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid/backchannel"
	"github.com/usherhq/usher/signin"
)

// pathLogoutConfirm is where the sign-out confirmation page posts; the
// shell mounts it behind its cross-origin protection, unlike the logout
// endpoint, which products may post to from their own origins.
const pathLogoutConfirm = pathLogout + "/confirm"

// SignOutRequest is what the page asking a person to confirm a product's
// sign-out request shows and posts.
type SignOutRequest struct {
	// ClientName is the product that asked, "" when it did not say.
	ClientName string
	// Login is who is signed in on the browser.
	Login string
	// Action is where the form posts, with Fields hidden in it and
	// "answer" set to "signout" or "stay".
	Action string
	Fields []Field
	// Return is where the person goes after signing out: a product's
	// registered post-logout address, or usher's signed-out page. The page
	// lets its forms end there (form-action).
	Return string
}

// Field is a hidden form field.
type Field struct{ Name, Value string }

// SignedOut is the page that tells a person they are signed out while the
// products' front-channel logout URIs load in hidden frames.
type SignedOut struct {
	// Frames are the front-channel logout URIs, with iss and sid.
	Frames []string
	// Continue is where the person goes next.
	Continue string
}

// logout is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
// A post_logout_redirect_uri is followed only when it is registered
// (exactly) for the client named by client_id or the id_token_hint, with
// the state added. With a hint for the account signed in on this browser,
// the browser's session ends at once; without a hint, the person is asked
// to confirm (logoutConfirm answers). Ending the session revokes the
// grants made through it and tells the products that got tokens in it
// (back-channel logout tokens, front-channel frames). A request with a
// hint but without the browser's session (a product's server calling) is
// answered with this endpoint again, for the browser to bring its session.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request, pg Pages) {
	ctx := r.Context()
	rs := stateOf(ctx)
	req, end, ok := p.endSessionRequest(w, r, pg, false)
	if !ok {
		return
	}
	to := afterLogout(rs, req, end)
	cur, err := pg.Session(r, rs.tenant)
	if err != nil && !errors.Is(err, signin.ErrNoSession) && !errors.Is(err, signin.ErrNeedsSSO) {
		p.fail(w, r, pg, "logout: session", err)
		return
	}
	signedIn := err == nil
	if end.UserID == "" {
		if !signedIn || pg.ConfirmSignOut == nil {
			// Nobody is signed in here: nothing to end.
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		c := SignOutRequest{Login: cur.Account.Email, Action: rs.issuer + pathLogoutConfirm, Return: to}
		if c.Login == "" {
			c.Login = cur.Account.Username
		}
		if end.ClientID != "" {
			if cl, err := p.client(ctx, rs, end.ClientID); err == nil {
				c.ClientName = cl.Name
				c.Fields = append(c.Fields, Field{"client_id", cl.ID})
				if req.PostLogoutRedirectURI != "" {
					c.Fields = append(c.Fields, Field{"post_logout_redirect_uri", req.PostLogoutRedirectURI})
				}
			}
		}
		if req.State != "" {
			c.Fields = append(c.Fields, Field{"state", clip(req.State, 2000)})
		}
		pg.ConfirmSignOut(w, r, rs.tenant, c)
		return
	}
	if !signedIn && r.Form.Get("continue") == "" {
		// No browser session here: perhaps the product called this from its
		// server (as zitadel/oidc's relying party does) and will send the
		// browser where this answers. Send it here again, with its cookies.
		q := url.Values{"continue": {"1"}}
		for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales"} {
			if v := r.Form.Get(k); v != "" {
				q.Set(k, v)
			}
		}
		http.Redirect(w, r, rs.issuer+pathLogout+"?"+q.Encode(), http.StatusFound)
		return
	}
	if signedIn && cur.Account.ID == end.UserID {
		p.endBrowserSession(w, r, pg, cur, to)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// logoutConfirm answers the confirmation page: "signout" ends the
// browser's session and goes where the product asked (checked again);
// anything else keeps the person signed in, on their account page.
func (p *Provider) logoutConfirm(w http.ResponseWriter, r *http.Request, pg Pages) {
	rs := stateOf(r.Context())
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	// The shell's cross-origin protection guards this address too; checked
	// here as well, since a cross-site form must never sign anyone out.
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		http.Error(w, "this form must be sent from usher's own page", http.StatusForbidden)
		return
	}
	req, end, ok := p.endSessionRequest(w, r, pg, true)
	if !ok {
		return
	}
	if r.PostForm.Get("answer") != "signout" {
		http.Redirect(w, r, rs.issuer+"/", http.StatusSeeOther)
		return
	}
	to := afterLogout(rs, req, end)
	cur, err := pg.Session(r, rs.tenant)
	switch {
	case errors.Is(err, signin.ErrNoSession) || errors.Is(err, signin.ErrNeedsSSO):
		http.Redirect(w, r, to, http.StatusSeeOther) // signed out meanwhile
	case err != nil:
		p.fail(w, r, pg, "logout: session", err)
	default:
		p.endBrowserSession(w, r, pg, cur, to)
	}
}

// endSessionRequest reads and checks a logout request: its client (of
// this tenant) and its post-logout address, registered exactly. confirmed
// ignores an id_token_hint (the confirmation page never sends one). It
// answers the person itself when the request cannot go on.
func (p *Provider) endSessionRequest(w http.ResponseWriter, r *http.Request, pg Pages, confirmed bool) (*oidc.EndSessionRequest, *op.EndSessionRequest, bool) {
	ctx := r.Context()
	rs := stateOf(ctx)
	req, err := op.ParseEndSessionRequest(r, p.op.Decoder())
	if err != nil {
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "This sign-out request cannot be read.")
		return nil, nil, false
	}
	if confirmed {
		req.IdTokenHint = ""
	}
	if req.ClientID != "" {
		if _, err := p.client(ctx, rs, req.ClientID); errors.Is(err, usher.ErrNotFound) {
			errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "The application that sent you here is not registered with "+rs.tenant.Name+".")
			return nil, nil, false
		} else if err != nil {
			p.fail(w, r, pg, "logout: read client", err)
			return nil, nil, false
		}
	}
	end, err := op.ValidateEndSessionRequest(ctx, req, p.op)
	if err != nil {
		errorPage(w, r, pg, rs.tenant, http.StatusBadRequest, "The application that sent you here asked for something usher cannot do: "+oidc.DefaultToServerError(err, "").Description)
		return nil, nil, false
	}
	return req, end, true
}

// afterLogout is where a logout request ends: the client's registered
// post-logout address with the state, or usher's signed-out page.
func afterLogout(rs *request, req *oidc.EndSessionRequest, end *op.EndSessionRequest) string {
	if req.PostLogoutRedirectURI != "" && end.ClientID != "" {
		if _, err := url.Parse(end.RedirectURI); err == nil {
			return end.RedirectURI
		}
	}
	return rs.issuer + "/?signed_out"
}

// endBrowserSession signs the browser out (which, in its transaction,
// revokes the session's grants and queues their logout tokens) and sends
// the person to, through a page framing the products' front-channel
// logout URIs when there are any.
func (p *Provider) endBrowserSession(w http.ResponseWriter, r *http.Request, pg Pages, cur signin.Current, to string) {
	rs := stateOf(r.Context())
	var frames []string
	if pg.SignedOut != nil {
		var err error
		if frames, err = p.FrontChannelFrames(r.Context(), rs.tenant, cur.Session); err != nil {
			p.fail(w, r, pg, "logout: front-channel clients", err)
			return
		}
	}
	if err := pg.SignOut(w, r); err != nil {
		p.fail(w, r, pg, "logout: sign out", err)
		return
	}
	if len(frames) > 0 {
		pg.SignedOut(w, r, rs.tenant, SignedOut{Frames: frames, Continue: to})
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// FrontChannelFrames are the front-channel logout URIs (with iss and sid)
// of tn's products that got tokens through session, for the page that
// signs it out; read them before the session ends.
func (p *Provider) FrontChannelFrames(ctx context.Context, tn usher.Tenant, session usher.Session) ([]string, error) {
	fcs, err := p.st.Read().FrontChannelLogouts(ctx, tn.ID, session.IdentityID, session.ID)
	if err != nil {
		return nil, err
	}
	issuer := strings.TrimSuffix(p.issuer(tn), "/")
	var out []string
	for _, f := range fcs {
		out = append(out, frontChannelURI(f.URI, issuer, backchannel.SID(tn.ID, session.ID)))
	}
	return out, nil
}

// frontChannelURI is a client's front-channel logout URI with iss and sid
// added to its query (sent whether or not the client requires them).
func frontChannelURI(uri, issuer, sid string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	q.Set("iss", issuer)
	if sid != "" {
		q.Set("sid", sid)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// FrameOrigins are the origins of a SignedOut page's frames, for its
// Content-Security-Policy's frame-src.
func (s SignedOut) FrameOrigins() []string {
	var out []string
	for _, f := range s.Frames {
		if u, err := url.Parse(f); err == nil && u.Scheme != "" && u.Host != "" {
			o := u.Scheme + "://" + u.Host
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}
