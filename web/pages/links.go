package pages

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/web/view"
)

// linkCookie holds the state of an authorization of a linked account,
// binding the provider's answer to the browser that asked.
const linkCookie = "usher_link"

// linkData is what a linked account's pages show.
type linkData struct {
	System     string // the external system's name
	Expected   string // the login the link is for
	Got        string // the account the person signed in to there, when another
	ConnectURL string
}

// LinkPage is the page a link's message leads to: for its own signed-in
// person only, it says what will be connected and offers to go on. Opening
// it changes nothing (mail scanners open links first).
func (h *Handler) LinkPage(w http.ResponseWriter, r *http.Request) {
	tn, cur, ok := h.SignedIn(w, r)
	if !ok {
		return
	}
	p, err := h.linked.ForPerson(r.Context(), tn, r.PathValue("id"), cur.Account.ID)
	if err != nil {
		h.linkFail(w, r, tn, err, linked.Page{})
		return
	}
	if p.System.Kind == usher.ExternalExchange {
		// Exchange on-premises takes the person's password on a form of
		// its own, which is not here yet.
		d := pageData{Page: "links", Title: "Connect your " + p.System.Name + " account", Tenant: tn, Mode: "refused",
			Problem: "Connecting an Exchange account is not available yet. Ask your administrator."}
		h.render(w, r, http.StatusNotImplemented, d)
		return
	}
	d := pageData{Page: "links", Title: "Connect your " + p.System.Name + " account", Tenant: tn, Mode: "connect"}
	d.linkData = linkData{System: p.System.Name, Expected: p.Link.Login,
		ConnectURL: h.links.TenantBase(tn) + "links/" + url.PathEscape(p.Link.ID) + "/connect"}
	if p.Link.State == usher.LinkAuthorized {
		d.Notice = "Your " + p.System.Name + " account is connected. Connect it again only if you were asked to."
	}
	h.render(w, r, http.StatusOK, d)
}

// LinkConnect sends the person to the provider. It is a GET, reached by
// the page's link: a form's redirect to another site would be stopped by
// the pages' form-action policy.
func (h *Handler) LinkConnect(w http.ResponseWriter, r *http.Request) {
	tn, cur, ok := h.SignedIn(w, r)
	if !ok {
		return
	}
	start, err := h.linked.Begin(r.Context(), tn, r.PathValue("id"), cur.Account.ID)
	if err != nil {
		h.linkFail(w, r, tn, err, linked.Page{})
		return
	}
	h.setCookie(w, linkCookie, start.State, 15*time.Minute)
	http.Redirect(w, r, start.URL, http.StatusSeeOther)
}

// LinkCallback is where the provider sends the person back.
func (h *Handler) LinkCallback(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	p, err := h.linked.Callback(r.Context(), tn, r.URL.Query(), view.Cookie(r, linkCookie))
	h.setCookie(w, linkCookie, "", -1)
	if err != nil {
		h.linkFail(w, r, tn, err, p)
		return
	}
	d := pageData{Page: "links", Title: "Your " + p.System.Name + " account is connected", Tenant: tn, Mode: "connected"}
	d.linkData = linkData{System: p.System.Name, Expected: p.Link.Login}
	h.render(w, r, http.StatusOK, d)
}

// linkFail says why an authorization did not work; what the provider got
// wrong is logged, not shown.
func (h *Handler) linkFail(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error, p linked.Page) {
	var wrong *linked.WrongAccount
	var pe *linked.ProviderError
	d := pageData{Page: "links", Tenant: tn, Mode: "refused"}
	d.linkData = linkData{System: p.System.Name, Expected: p.Link.Login}
	switch {
	case errors.As(err, &wrong):
		d.Title = "This is not the account to connect"
		d.Got, d.Expected = wrong.Got, wrong.Expected
		d.Problem = "You signed in to " + wrong.System + " as " + wrong.Got + "; this link is for " + wrong.Expected +
			". Nothing was connected. Sign out of " + wrong.System + ", then open your message's link again and sign in as " + wrong.Expected + "."
		h.render(w, r, http.StatusForbidden, d)
	case errors.As(err, &pe):
		h.log.WarnContext(r.Context(), "linked account not authorized", "tenant", tn.Slug, "link_id", p.Link.ID, "why", pe.Error(), "detail", pe.Detail)
		d.Title, d.Problem = "The connection did not work", sentence(pe.Message)
		h.render(w, r, http.StatusBadGateway, d)
	case errors.Is(err, linked.ErrExpired) || errors.Is(err, linked.ErrBrowser):
		d.Title, d.Problem = "Start again", sentence(err.(*usher.Error).Message)
		h.render(w, r, http.StatusBadRequest, d)
	case errors.Is(err, usher.ErrNotFound):
		d.Title, d.Problem = "There is nothing to connect here", "This link is not yours, or it was removed. Check that you are signed in as the person the message was for."
		h.render(w, r, http.StatusNotFound, d)
	default:
		h.failPage(w, r, tn, err)
	}
}
