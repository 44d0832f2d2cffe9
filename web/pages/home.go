package pages

import (
	"errors"
	"net/http"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// Home is usher's own address, "/". Each organization has its own address,
// so "/" leads to the one there is (or the demo's, when usher runs one);
// with several it says where they are and where operators sign in,
// naming none: the list of customers is nobody's business.
func (h *Handler) Home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.home != "" {
		if tn, err := h.tenants.BySlug(ctx, h.home); err == nil && tn.DeactivatedAt == nil {
			http.Redirect(w, r, h.links.TenantBase(tn), http.StatusSeeOther)
			return
		} else if err != nil && !errors.Is(err, usher.ErrNotFound) {
			h.view.Internal(w, r, "home tenant", err)
			return
		}
	}
	tenants, _, err := h.st.Read().Tenants(ctx, store.ListOptions{Limit: 3})
	if err != nil {
		h.view.Internal(w, r, "tenants", err)
		return
	}
	var active []usher.Tenant
	for _, t := range tenants {
		if t.DeactivatedAt == nil {
			active = append(active, t)
		}
	}
	if len(active) == 1 && len(tenants) < 3 {
		http.Redirect(w, r, h.links.TenantBase(active[0]), http.StatusSeeOther)
		return
	}
	d := pageData{Page: "home", Title: "Where to sign in", Tenant: usher.Tenant{Name: "usher"}, Mode: "home"}
	d.Example = h.links.TenantBase(usher.Tenant{Slug: "your-organization"})
	h.render(w, r, http.StatusOK, d)
}
