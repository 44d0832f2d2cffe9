package pages

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	// The Exchange credential form: where it posts, the user name to show.
	FormURL  string
	Username string
	// Linked is the person's own links, on their account page.
	Linked []linkRow
}

// linkRow is one of the person's links on their account page.
type linkRow struct {
	System, Login, State string
	Attention, Ended     bool   // waiting for the person; revoked
	Action, ActionURL    string // "Connect" or "Reconnect", to the link's page
	RevokeURL            string
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
		h.render(w, r, http.StatusOK, h.exchangeForm(tn, p, ""))
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

// exchangeForm is an Exchange link's page: the person's own Exchange
// credentials instead of a provider's consent. problem is the last
// attempt's refusal.
func (h *Handler) exchangeForm(tn usher.Tenant, p linked.Page, problem string) pageData {
	d := pageData{Page: "links", Title: "Connect your " + p.System.Name + " account", Tenant: tn, Mode: "exchange"}
	d.linkData = linkData{System: p.System.Name, Expected: p.Link.Login, Username: p.Link.Login,
		FormURL: h.links.TenantBase(tn) + "links/" + url.PathEscape(p.Link.ID) + "/exchange"}
	if p.Link.Subject != "" {
		d.Username = p.Link.Subject
	}
	switch p.Link.State {
	case usher.LinkAuthorized:
		d.Notice = "Your " + p.System.Name + " account is connected. Enter your credentials again only if you changed your password or were asked to."
	case usher.LinkReauthorize:
		d.Problem = p.System.Name + " no longer accepts the password usher kept (it was changed, perhaps). Enter your credentials again."
	}
	if problem != "" {
		d.Errors = map[string]string{"password": problem}
	}
	return d
}

// LinkExchange checks the Exchange credentials the person entered and, when
// Exchange accepts them, keeps them for the link. The password is never
// logged or shown again.
func (h *Handler) LinkExchange(w http.ResponseWriter, r *http.Request) {
	tn, cur, ok := h.SignedIn(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	user, pw := r.PostFormValue("username"), r.PostFormValue("password")
	p, err := h.linked.AuthorizeExchange(r.Context(), tn, id, cur.Account.ID, user, pw)
	if err == nil {
		d := pageData{Page: "links", Title: "Your " + p.System.Name + " account is connected", Tenant: tn, Mode: "connected"}
		d.linkData = linkData{System: p.System.Name, Expected: p.Link.Login}
		h.render(w, r, http.StatusOK, d)
		return
	}
	if p.Link.ID == "" { // not this person's, or ended
		h.linkFail(w, r, tn, err, p)
		return
	}
	if user != "" {
		p.Link.Subject = user // shown again as typed
	}
	var xe *linked.ExchangeError
	var ue *usher.Error
	var te *linked.ExchangeThrottled
	var wrong *linked.WrongAccount
	status, problem := http.StatusUnprocessableEntity, ""
	switch {
	case errors.As(err, &wrong):
		problem = "You signed in to " + wrong.System + " as " + wrong.Got + ", but this link is for " + wrong.Expected + ". Use that account's user name and password."
	case errors.As(err, &te):
		mins := int(te.RetryAfter.Minutes() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		status, problem = http.StatusTooManyRequests, "Too many attempts. Try again in "+strconv.Itoa(mins)+" minutes."
		if mins <= 1 {
			problem = "Too many attempts. Try again in a minute."
		}
	case errors.Is(err, linked.ErrExchangeCredentials):
		problem = "The user name or password was not accepted by " + p.System.Name + "."
	case errors.Is(err, linked.ErrExchangeUnreachable):
		status, problem = http.StatusBadGateway, "Could not reach "+p.System.Name+"; try again later."
	case errors.As(err, &xe):
		status, problem = http.StatusBadGateway, p.System.Name+" accepted the sign-in but would not open your calendar ("+xe.Code+"). Check the user name, or ask your administrator."
	case errors.As(err, &ue) && ue.Code == usher.CodeInvalid && (ue.Field == "username" || ue.Field == "password"):
		problem = "Enter your " + p.System.Name + " user name and password."
	case errors.As(err, &ue) && ue.Code == usher.CodeConflict:
		status, problem = http.StatusConflict, sentence(ue.Message)
	case strings.HasPrefix(err.Error(), "exchange: "):
		// The system's EWS address is not usable: for the administrator.
		h.log.WarnContext(r.Context(), "linked account not authorized", "tenant", tn.Slug, "link_id", p.Link.ID, "err", err.Error())
		status, problem = http.StatusBadGateway, "Could not reach "+p.System.Name+"; try again later."
	default:
		h.linkFail(w, r, tn, err, p)
		return
	}
	h.render(w, r, status, h.exchangeForm(tn, p, problem))
}

// LinkRevoke ends one of the person's own links on their word, from their
// account page.
func (h *Handler) LinkRevoke(w http.ResponseWriter, r *http.Request) {
	tn, cur, ok := h.SignedIn(w, r)
	if !ok {
		return
	}
	_, err := h.linked.Revoke(r.Context(), usher.Actor{Kind: usher.ActorAccount, ID: cur.Account.ID}, tn, cur.Account.ID, r.PathValue("id"))
	switch {
	case err == nil:
		http.Redirect(w, r, h.links.TenantBase(tn)+"account?revoked#linked", http.StatusSeeOther)
	case usher.ErrorCode(err) == usher.CodeConflict: // already ended
		http.Redirect(w, r, h.links.TenantBase(tn)+"account#linked", http.StatusSeeOther)
	default:
		h.linkFail(w, r, tn, err, linked.Page{})
	}
}

// linkRows are the person's own links for their account page.
func (h *Handler) linkRows(ctx context.Context, tn usher.Tenant, accountID string) ([]linkRow, error) {
	if h.linked == nil {
		return nil, nil
	}
	ps, err := h.linked.PersonLinks(ctx, tn, accountID)
	if err != nil {
		return nil, err
	}
	rows := make([]linkRow, 0, len(ps))
	for _, p := range ps {
		page := h.links.TenantBase(tn) + "links/" + url.PathEscape(p.Link.ID)
		row := linkRow{System: p.System.Name, Login: p.Link.Login, RevokeURL: page + "/revoke"}
		switch p.Link.State {
		case usher.LinkPending:
			row.State, row.Action, row.Attention = "waiting for you", "Connect", true
		case usher.LinkAuthorized:
			row.State = "connected"
		case usher.LinkReauthorize:
			row.State, row.Action, row.Attention = "needs you to reconnect", "Reconnect", true
		case usher.LinkRevoked:
			row.State, row.RevokeURL, row.Ended = "revoked", "", true
		default:
			row.State, row.RevokeURL = p.Link.State, ""
		}
		if row.Action != "" {
			row.ActionURL = page
		}
		rows = append(rows, row)
	}
	return rows, nil
}
