package people

import (
	"context"
	"net/http"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/console/external"
)

// LinkAccount links one account from its person's page; a refused link
// is shown there with its errors next to the fields.
func (h *Handler) LinkAccount(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	a, err := h.Store.Read().Account(ctx, c.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	v := c.Form(r, "open", "external_system_id", "login")
	_, err = h.linked.Link(ctx, c.Actor, c.Tenant, linked.LinkInput{AccountID: a.ID, ExternalSystemID: v["external_system_id"], Login: v["login"]})
	if err == nil {
		h.Redirect(w, r, c.Data.Admin+"people/"+a.PersonID+"#links", "Linked: the person was sent the message to authorize the link.")
		return
	}
	if !h.FormErrors(w, r, c, err) {
		return
	}
	c.Data.Values["open"] = "link"
	if _, perr := h.personPage(r, c, a.PersonID); perr != nil {
		h.Fail(w, r, c, perr)
		return
	}
	h.View.Console(w, r, console.FormStatus(err), pages["person"], c.Data)
}

// personLinks are an account's links, for its person's page, and the
// active external systems it has no live link to.
func (h *Handler) personLinks(ctx context.Context, tn usher.Tenant, accountID string) ([]external.LinkRow, []console.Option, error) {
	if h.linked == nil {
		return nil, nil, nil
	}
	links, _, err := h.linked.Links(ctx, tn, store.LinkFilter{AccountID: accountID}, store.ListOptions{Limit: 100})
	if err != nil {
		return nil, nil, err
	}
	xs, _, err := h.linked.ExternalSystems(ctx, tn, store.ListOptions{Limit: 200})
	if err != nil {
		return nil, nil, err
	}
	liveTo := map[string]bool{}
	for _, l := range links {
		if l.State == usher.LinkPending || l.State == usher.LinkAuthorized || l.State == usher.LinkReauthorize {
			liveTo[l.ExternalSystemID] = true
		}
	}
	var free []console.Option
	for _, x := range xs {
		if x.DeactivatedAt == nil && !liveTo[x.ID] {
			free = append(free, console.Option{ID: x.ID, Name: x.Name})
		}
	}
	rows := make([]external.LinkRow, len(links))
	systems := map[string]string{}
	for i, l := range links {
		rows[i] = external.LinkRow{Link: l, StateName: external.StateName(l.State)}
		if _, ok := systems[l.ExternalSystemID]; !ok {
			x, err := h.linked.ExternalSystem(ctx, tn, l.ExternalSystemID)
			if err != nil {
				return nil, nil, err
			}
			systems[x.ID] = x.Name
		}
		rows[i].SystemName = systems[l.ExternalSystemID]
	}
	return rows, free, nil
}
