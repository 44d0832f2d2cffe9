// Package external is the tenant console's linked accounts: the external
// systems (calendars) the tenant's people link their accounts in, the
// links, and the webhook for link events. Tenant administrators set the
// systems up; user administrators see them, link people and unlink them.
// Package linked holds the rules and writes the audit events; a client
// secret and a link's tokens are never shown. A person's links are shown
// and made on their page (package people).
package external

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "linked", "external_system", "link_users")

// Handler serves the tenant console's linked accounts.
type Handler struct {
	*console.Console
	linked *linked.Service
}

// New returns the handler of linked accounts.
func New(con *console.Console, lk *linked.Service) *Handler {
	return &Handler{Console: con, linked: lk}
}

// externalKinds name the kinds of external system, in the form's order.
var externalKinds = []console.Option{
	{ID: usher.ExternalGoogle, Name: "Google Workspace"},
	{ID: usher.ExternalMicrosoft, Name: "Microsoft 365"},
	{ID: usher.ExternalOAuth2, Name: "Another OAuth 2.0 provider"},
	{ID: usher.ExternalExchange, Name: "Exchange on-premises (EWS)"},
}

func kindName(kind string) string {
	for _, k := range externalKinds {
		if k.ID == kind {
			return k.Name
		}
	}
	return kind
}

// linkStates name the states of a link.
var linkStates = []console.Option{
	{ID: usher.LinkPending, Name: "pending"}, {ID: usher.LinkAuthorized, Name: "authorized"}, {ID: usher.LinkReauthorize, Name: "needs re-authorization"},
	{ID: usher.LinkRevoked, Name: "revoked"}, {ID: usher.LinkUnlinked, Name: "unlinked"},
}

// StateName says a link's state in words.
func StateName(state string) string {
	for _, s := range linkStates {
		if s.ID == state {
			return s.Name
		}
	}
	return state
}

// externalFields are the external system form's fields but the secret.
var externalFields = []string{"name", "client_id", "scopes", "issuer", "authorization_url", "token_url", "userinfo_url", "revocation_url",
	"jwks_url", "ews_url", "reminder_days"}

// ExternalSystems lists the tenant's external systems, with the webhook
// for link events and its latest deliveries.
func (h *Handler) ExternalSystems(w http.ResponseWriter, r *http.Request, c *console.Call) {
	c.Data.Notice = h.Flash(w, r)
	h.linkedPage(w, r, c, http.StatusOK, "")
}

// linkedPage shows the Linked accounts page; secret is a webhook secret
// just made, shown this once.
func (h *Handler) linkedPage(w http.ResponseWriter, r *http.Request, c *console.Call, status int, secret string) {
	ctx := r.Context()
	list, next, err := h.linked.ExternalSystems(ctx, c.Tenant, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	hook, err := h.linked.Webhook(ctx, c.Actor, c.Tenant)
	hasHook := err == nil
	if err != nil && !errors.Is(err, usher.ErrNotFound) {
		h.Fail(w, r, c, err)
		return
	}
	if _, ok := c.Data.Values["webhook_url"]; !ok {
		c.Data.Values["webhook_url"] = hook.URL
	}
	events, err := h.linked.WebhookDeliveries(ctx, c.Actor, c.Tenant, 10)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	deliveries := make([]deliveryRow, len(events))
	for i, e := range events {
		deliveries[i] = deliveryRow{LinkEvent: e, FromName: cmp.Or(StateName(e.From), "new"), ToName: StateName(e.To)}
		switch {
		case e.DeliveredAt != nil:
			deliveries[i].Status, deliveries[i].StatusClass = "delivered", "active"
		case e.AbandonedAt != nil:
			deliveries[i].Status, deliveries[i].StatusClass = "abandoned", "suspended"
		case e.Attempts > 0:
			deliveries[i].Status, deliveries[i].StatusClass = "retrying", "expired"
		default:
			deliveries[i].Status, deliveries[i].StatusClass = "waiting", "invited"
		}
	}
	c.Data.Title, c.Data.Section = "Linked accounts", "linked"
	kinds := map[string]string{}
	for _, k := range externalKinds {
		kinds[k.ID] = k.Name
	}
	c.Data.Data = map[string]any{"Systems": list, "Next": console.NextURL(r, next), "Kinds": externalKinds, "KindNames": kinds, "CallbackURL": h.linked.CallbackURL(c.Tenant),
		"Webhook": hook, "HasWebhook": hasHook, "WebhookSecret": secret, "Deliveries": deliveries}
	h.View.Console(w, r, status, pages["linked"], c.Data)
}

// deliveryRow is a link event in the list of recent deliveries.
type deliveryRow struct {
	store.LinkEvent
	FromName, ToName    string
	Status, StatusClass string
}

// LinkWebhook sets, rotates the secret of, or removes the webhook for
// link events (tenant administrators). A secret made is shown on the page
// that made it, never carried in a cookie or an address.
func (h *Handler) LinkWebhook(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	err := c.Actor.Require(usher.AdminTenant)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	switch r.PathValue("action") {
	case "save":
		v := c.Form(r, "webhook_url")
		var hook linked.Webhook
		if hook, err = h.linked.SaveWebhook(ctx, c.Actor, c.Tenant, linked.WebhookInput{URL: v["webhook_url"]}); err == nil {
			if hook.Secret != "" {
				c.Data.Notice = "The webhook is set. Copy its signing secret below now: it is shown this once."
				h.linkedPage(w, r, c, http.StatusOK, hook.Secret)
				return
			}
			h.Redirect(w, r, c.Data.Admin+"linked", "The webhook's address is saved.")
			return
		}
		// The address's problem is shown next to the field.
		var ue *usher.Error
		if errors.As(err, &ue) && ue.Field == "url" {
			ue2 := *ue
			ue2.Field = "webhook_url"
			err = &ue2
		}
	case "rotate":
		var hook linked.Webhook
		if hook, err = h.linked.RotateWebhookSecret(ctx, c.Actor, c.Tenant); err == nil {
			c.Data.Notice = "The webhook has a new signing secret; deliveries are signed with it from now on. Copy it below now: it is shown this once."
			h.linkedPage(w, r, c, http.StatusOK, hook.Secret)
			return
		}
	case "delete":
		if err = h.linked.DeleteWebhook(ctx, c.Actor, c.Tenant); err == nil {
			h.Redirect(w, r, c.Data.Admin+"linked", "The webhook is removed: no more link events are sent.")
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	if !h.FormErrors(w, r, c, err) {
		return
	}
	h.linkedPage(w, r, c, console.FormStatus(err), "")
}

// ExternalSystemNew is the form of a new external system of the kind in
// ?kind=, and makes it.
func (h *Handler) ExternalSystemNew(w http.ResponseWriter, r *http.Request, c *console.Call) {
	kind := r.URL.Query().Get("kind")
	if kindName(kind) == kind {
		h.Fail(w, r, c, usher.NotFound("", "kind of external system"))
		return
	}
	if err := c.Actor.Require(usher.AdminTenant); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		saved, err := h.linked.SaveExternalSystem(r.Context(), c.Actor, c.Tenant, "", linked.ExternalSystemInput{ExternalSystem: externalInput(r, c, kind)})
		if err == nil {
			h.Redirect(w, r, c.Data.Admin+"linked/systems/"+saved.ID, "“"+saved.Name+"” is saved. Register the redirect URI below with the provider, then link people.")
			return
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		status = console.FormStatus(err)
	} else {
		c.Data.Values["reminder_days"] = "7"
	}
	h.externalPage(w, r, c, status, usher.ExternalSystem{Kind: kind}, false)
}

// ExternalSystem shows one external system and changes it: its settings,
// and deactivating or reactivating it.
func (h *Handler) ExternalSystem(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	kept, err := h.Store.Read().ExternalSystem(ctx, c.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	hasSecret := kept.ClientSecret != ""
	x, err := h.linked.ExternalSystem(ctx, c.Tenant, kept.ID)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		if err := c.Actor.Require(usher.AdminTenant); err != nil {
			h.Fail(w, r, c, err)
			return
		}
		switch action := r.PathValue("action"); action {
		case "":
			_, err = h.linked.SaveExternalSystem(ctx, c.Actor, c.Tenant, x.ID, linked.ExternalSystemInput{ExternalSystem: externalInput(r, c, x.Kind)})
			if err == nil {
				h.Redirect(w, r, c.Data.Admin+"linked/systems/"+x.ID, "Saved.")
				return
			}
		case "deactivate", "reactivate":
			off := action == "deactivate"
			_, err = h.linked.SaveExternalSystem(ctx, c.Actor, c.Tenant, x.ID, linked.ExternalSystemInput{ExternalSystem: x, Deactivated: &off})
			if err == nil {
				notice := "The external system is active again: people can be linked to it."
				if off {
					notice = "The external system is switched off: nobody can be linked to it, and its links are not refreshed until it is active again."
				}
				h.Redirect(w, r, c.Data.Admin+"linked/systems/"+x.ID, notice)
				return
			}
		default:
			http.NotFound(w, r)
			return
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		status = console.FormStatus(err)
		if r.PathValue("action") != "" {
			c.Data.Values = externalValues(x)
		}
	} else {
		c.Data.Notice = h.Flash(w, r)
		c.Data.Values = externalValues(x)
	}
	h.externalPage(w, r, c, status, x, hasSecret)
}

func (h *Handler) externalPage(w http.ResponseWriter, r *http.Request, c *console.Call, status int, x usher.ExternalSystem, hasSecret bool) {
	title := "New " + kindName(x.Kind) + " system"
	if x.ID != "" {
		title = x.Name
	}
	c.Data.Title, c.Data.Section = title, "linked"
	c.Data.Data = map[string]any{"System": x, "New": x.ID == "", "Kind": x.Kind, "KindName": kindName(x.Kind), "HasSecret": hasSecret,
		"OAuth": x.Kind != usher.ExternalExchange, "Preset": x.Kind == usher.ExternalGoogle || x.Kind == usher.ExternalMicrosoft,
		"CallbackURL": h.linked.CallbackURL(c.Tenant)}
	h.View.Console(w, r, status, pages["external_system"], c.Data)
}

// externalInput reads the external system form. The client secret is not
// kept in the form's values: an empty one keeps the stored.
func externalInput(r *http.Request, c *console.Call, kind string) usher.ExternalSystem {
	v := c.Form(r, externalFields...)
	x := usher.ExternalSystem{Kind: kind, Name: v["name"], ClientID: v["client_id"], ClientSecret: r.PostFormValue("client_secret"),
		Issuer: v["issuer"], AuthorizationURL: v["authorization_url"], TokenURL: v["token_url"], UserInfoURL: v["userinfo_url"],
		RevocationURL: v["revocation_url"], JWKSURL: v["jwks_url"], EWSURL: v["ews_url"]}
	if s := v["scopes"]; s != "" {
		x.Scopes = strings.Fields(s)
	}
	if d := v["reminder_days"]; d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			n = -1 // refused by the service, next to the field
		}
		x.ReminderDays = n
	}
	return x
}

func externalValues(x usher.ExternalSystem) map[string]string {
	return map[string]string{"name": x.Name, "client_id": x.ClientID, "scopes": strings.Join(x.Scopes, " "), "issuer": x.Issuer,
		"authorization_url": x.AuthorizationURL, "token_url": x.TokenURL, "userinfo_url": x.UserInfoURL, "revocation_url": x.RevocationURL,
		"jwks_url": x.JWKSURL, "ews_url": x.EWSURL, "reminder_days": strconv.Itoa(x.ReminderDays)}
}

// LinkRow is a linked account as the console lists it.
type LinkRow struct {
	usher.Link
	StateName, AccountName, PersonID, SystemName string
}

// suggestionRow is an account the console suggests linking.
type suggestionRow struct {
	N                           int
	AccountID, Name, Login, Err string
}

// names finds accounts' names (their persons'), once each.
type names struct {
	rd    *store.Tx
	tn    string
	cache map[string][2]string
}

func (n *names) of(ctx context.Context, accountID string) (name, personID string) {
	if v, ok := n.cache[accountID]; ok {
		return v[0], v[1]
	}
	name = "(unknown account)"
	if a, err := n.rd.Account(ctx, n.tn, accountID); err == nil {
		personID = a.PersonID
		if p, err := n.rd.Person(ctx, n.tn, a.PersonID); err == nil {
			name = strings.TrimSpace(p.FirstName + " " + p.LastName)
		}
	}
	n.cache[accountID] = [2]string{name, personID}
	return name, personID
}

// LinkUsers is an external system's links: the accounts suggested for
// linking, with their emails as logins, to link many at once; linking one;
// and the links with their states, to unlink.
func (h *Handler) LinkUsers(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	x, err := h.linked.ExternalSystem(ctx, c.Tenant, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	if err := c.Actor.Require(usher.AdminUser); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	status := http.StatusOK
	rowErrs := map[string]string{} // by account, of linking many
	if r.Method == http.MethodPost {
		_ = r.ParseForm()
		switch r.PostFormValue("do") {
		case "many":
			var in []linked.LinkInput
			for _, id := range r.PostForm["account"] {
				in = append(in, linked.LinkInput{AccountID: id, ExternalSystemID: x.ID, Login: strings.TrimSpace(r.PostFormValue("login_" + id))})
				if len(in) == 500 {
					break
				}
			}
			if len(in) == 0 {
				c.Data.Errors["account"] = "Choose at least one account to link."
				c.Data.Errors["form"] = c.Data.Errors["account"]
				status = http.StatusUnprocessableEntity
				break
			}
			linkedN := 0
			nm := &names{rd: h.Store.Read(), tn: c.Tenant.ID, cache: map[string][2]string{}}
			var refused []string
			for i, row := range h.linked.LinkMany(ctx, c.Actor, c.Tenant, in) {
				if row.Err == nil {
					linkedN++
					continue
				}
				msg := "could not be linked"
				var ue *usher.Error
				if errors.As(row.Err, &ue) && ue.Code != usher.CodeInternal {
					msg = ue.Message
				} else {
					h.Log.ErrorContext(ctx, "internal error", "route", r.Pattern, "err", row.Err)
				}
				rowErrs[in[i].AccountID] = msg
				name, _ := nm.of(ctx, in[i].AccountID)
				refused = append(refused, name+": "+msg)
			}
			if len(refused) == 0 {
				h.Redirect(w, r, c.Data.Admin+"linked/systems/"+x.ID+"/links", fmt.Sprintf("%d linked: each was sent the message to authorize their link.", linkedN))
				return
			}
			if linkedN > 0 {
				c.Data.Notice = fmt.Sprintf("%d linked: each was sent the message to authorize their link.", linkedN)
			}
			c.Data.Errors["form"] = fmt.Sprintf("%d not linked: %s.", len(refused), strings.Join(refused, "; "))
			status = http.StatusUnprocessableEntity
		case "one":
			v := c.Form(r, "account_id", "login")
			_, err := h.linked.Link(ctx, c.Actor, c.Tenant, linked.LinkInput{AccountID: v["account_id"], ExternalSystemID: x.ID, Login: v["login"]})
			if err == nil {
				h.Redirect(w, r, c.Data.Admin+"linked/systems/"+x.ID+"/links", "Linked: the person was sent the message to authorize the link.")
				return
			}
			if !h.FormErrors(w, r, c, err) {
				return
			}
			status = console.FormStatus(err)
		default:
			http.NotFound(w, r)
			return
		}
	} else {
		c.Data.Notice = h.Flash(w, r)
	}
	rd := h.Store.Read()
	nm := &names{rd: rd, tn: c.Tenant.ID, cache: map[string][2]string{}}
	var sugg []suggestionRow
	if x.DeactivatedAt == nil {
		s, err := h.linked.Suggest(ctx, c.Actor, c.Tenant, x.ID)
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		for i, one := range s {
			name, _ := nm.of(ctx, one.AccountID)
			sugg = append(sugg, suggestionRow{N: i, AccountID: one.AccountID, Name: name, Login: one.Login, Err: rowErrs[one.AccountID]})
		}
	}
	state := r.URL.Query().Get("state")
	if StateName(state) == state {
		state = ""
	}
	links, next, err := h.linked.Links(ctx, c.Tenant, store.LinkFilter{ExternalSystemID: x.ID, State: state}, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	rows := make([]LinkRow, len(links))
	for i, l := range links {
		rows[i] = LinkRow{Link: l, StateName: StateName(l.State)}
		rows[i].AccountName, rows[i].PersonID = nm.of(ctx, l.AccountID)
	}
	c.Data.Title, c.Data.Section = "Link users: "+x.Name, "linked"
	c.Data.Data = map[string]any{"System": x, "KindName": kindName(x.Kind), "Suggestions": sugg, "Links": rows, "Next": console.NextURL(r, next),
		"States": linkStates, "State": state}
	h.View.Console(w, r, status, pages["link_users"], c.Data)
}

// Unlink ends a link on an administrator's word, and goes back to where
// the form was (the system's links or the person's page).
func (h *Handler) Unlink(w http.ResponseWriter, r *http.Request, c *console.Call) {
	l, err := h.linked.Unlink(r.Context(), c.Actor, c.Tenant, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	back := c.Data.Admin + "linked/systems/" + l.ExternalSystemID + "/links"
	if p := r.PostFormValue("person"); p != "" {
		back = c.Data.Admin + "people/" + url.PathEscape(p)
	}
	h.Redirect(w, r, back, "Unlinked: its tokens are revoked and erased.")
}
