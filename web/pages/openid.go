package pages

import (
	"errors"
	"net/http"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/web/view"
)

// The people's side of the OpenID Connect provider: the consent page for
// third-party products, the error page of a request that cannot go back to
// its product, and the sign-out the logout endpoint asks for.

// consentData is what the consent page shows.
type consentData struct {
	ClientName string
	ScopeText  []string
}

// scopeText says what a scope shows a product, as a person reads it.
var scopeText = map[string]string{
	"profile":          "your name, username and language",
	"email":            "your email address",
	"phone":            "your phone number",
	"offline_access":   "your account while you are away (it stays signed in)",
	clients.ScopeUsher: "your organization, role, plan, groups, department and job profile",
}

// signoutData is what the sign-out confirmation and signed-out pages show.
type signoutData struct {
	// Fields are the confirmation form's hidden fields.
	Fields []openid.Field
	// Frames are the products' front-channel logout URIs, loaded hidden.
	Frames []string
	// Continue is where the signed-out page sends the person.
	Continue string
	// RefreshSeconds delays the layout's Refresh (the frames load first).
	RefreshSeconds int
}

// UseOpenID lets the pages serve the OpenID Connect provider's sign-ins.
func (h *Handler) UseOpenID(oid *openid.Provider) { h.oid = oid }

// formTarget allows, on a page whose sign-in continues a product's
// authorization request (next), the product's redirect origin as a form
// target: the sign-in's redirects end there.
func (h *Handler) formTarget(r *http.Request, next string) *http.Request {
	if h.oid == nil || next == "" {
		return r
	}
	tn, err := h.tenants.BySlug(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return r
	}
	return view.AllowFormTarget(r, h.oid.FormTarget(r.Context(), tn, next))
}

// ProtocolError shows a person why a product's request cannot continue.
func (h *Handler) ProtocolError(w http.ResponseWriter, r *http.Request, tn usher.Tenant, status int, msg string) {
	d := h.signinPage(tn, "closed")
	d.Title, d.Problem = "This sign-in cannot continue", msg
	h.render(w, r, status, d)
}

// EndSession signs the browser out (the logout endpoint's sign-out).
func (h *Handler) EndSession(w http.ResponseWriter, r *http.Request) error {
	if v := view.Cookie(r, view.SessionCookie); v != "" {
		if err := h.auth.SignOut(r.Context(), v); err != nil {
			return err
		}
	}
	h.setCookie(w, view.SessionCookie, "", -1)
	return nil
}

// ConfirmSignOut asks the signed-in person whether to sign out, for a
// product's logout request that did not say who it signs out (no
// id_token_hint). The form posts back to the provider, same-origin; its
// redirects may end at the product's registered post-logout address.
func (h *Handler) ConfirmSignOut(w http.ResponseWriter, r *http.Request, tn usher.Tenant, c openid.SignOutRequest) {
	d := pageData{Page: "signout", Mode: "confirm", Title: "Sign out of " + tn.Name + "?", Tenant: tn, Login: c.Login, Action: c.Action}
	d.ClientName, d.Fields = c.ClientName, c.Fields
	h.view.Person(w, view.AllowFormTarget(r, origin(c.Return)), http.StatusOK, d.Page, d)
}

// SignedOut tells the person they are signed out while the products'
// front-channel logout URIs load in hidden frames (allowed by this page's
// Content-Security-Policy only), then sends them on after a moment.
func (h *Handler) SignedOut(w http.ResponseWriter, r *http.Request, tn usher.Tenant, s openid.SignedOut) {
	d := pageData{Page: "signout", Mode: "done", Title: "You are signed out", Tenant: tn}
	d.Frames, d.Continue = s.Frames, s.Continue
	d.Refresh, d.RefreshSeconds = s.Continue, 2
	h.view.Person(w, view.AllowFrames(r, s.FrameOrigins()), http.StatusOK, d.Page, d)
}

// Consent asks a signed-in person whether a third-party product may sign
// them in and see what it asked for; the answer goes back to the provider.
func (h *Handler) Consent(oid *openid.Provider) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.oid == nil {
			h.oid = oid
		}
		tn, cur, ok := h.SignedIn(w, r)
		if !ok {
			return
		}
		req, err := oid.PendingConsent(r.Context(), tn, r.PathValue("id"))
		if errors.Is(err, usher.ErrNotFound) {
			h.ProtocolError(w, r, tn, http.StatusBadRequest, "This sign-in request has expired or is unknown. Go back to the application and start again.")
			return
		} else if err != nil {
			h.failPage(w, r, tn, err)
			return
		}
		if r.Method == http.MethodPost {
			answer := "denied"
			if r.PostFormValue("answer") == "allow" {
				if err := oid.Consent(r.Context(), tn, cur.Account, r.PathValue("id")); err != nil {
					h.failPage(w, r, tn, err)
					return
				}
				answer = "given"
			}
			http.Redirect(w, r, req.Continue+"&consent="+answer, http.StatusSeeOther)
			return
		}
		d := pageData{Page: "consent", Title: "Allow " + req.ClientName + "?", Tenant: tn, Login: cur.Account.Email, Action: r.URL.Path}
		d.Next = req.Continue
		if d.Login == "" {
			d.Login = cur.Account.Username
		}
		d.ClientName = req.ClientName
		for _, s := range req.Scopes {
			if t := scopeText[s]; t != "" {
				d.ScopeText = append(d.ScopeText, t)
			}
		}
		if len(d.ScopeText) == 0 {
			d.ScopeText = []string{"who you are (an identifier for your account)"}
		}
		h.render(w, r, http.StatusOK, d)
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
