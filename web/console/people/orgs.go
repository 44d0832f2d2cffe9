package people

import (
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
)

// Orgs lists organizations (the tenant's own first) and adds one.
func (h *Handler) Orgs(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		v := c.Form(r, "name")
		name := v["name"]
		o, err := h.svc.CreateOrganization(ctx, c.Actor, c.Tenant, provision.OrganizationInput{Name: &name})
		if err == nil {
			h.Redirect(w, r, c.Data.Admin+"organizations/"+o.ID, o.Name+" was added.")
			return
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
	} else {
		c.Data.Values["q"] = strings.TrimSpace(r.URL.Query().Get("q"))
	}
	orgs, next, err := h.Store.Read().Organizations(ctx, c.Tenant.ID, store.OrganizationFilter{ParentID: "-", Name: c.Data.Values["q"]}, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section, c.Data.Notice = "Organizations", "organizations", h.Flash(w, r)
	c.Data.Data = map[string]any{"Orgs": orgs, "Next": console.NextURL(r, next)}
	status := http.StatusOK
	if len(c.Data.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.View.Console(w, r, status, pages["orgs"], c.Data)
}

type orgData struct {
	Org      usher.Organization
	Parent   *usher.Organization
	Sites    []usher.Organization
	Contacts []personRow
	// Roles per site (or the organization itself) by person id.
	Roles        map[string][]string
	ContactRoles []string
	IsSite       bool
}

// Org is an organization's page: its sites, its contacts, and on a
// site, relating a contact with contact roles (seed 002).
func (h *Handler) Org(w http.ResponseWriter, r *http.Request, c *console.Call) {
	h.renderOrg(w, r, c, r.PathValue("id"), http.StatusOK)
}

func (h *Handler) renderOrg(w http.ResponseWriter, r *http.Request, c *console.Call, id string, status int) {
	ctx := r.Context()
	rd := h.Store.Read()
	o, err := rd.Organization(ctx, c.Tenant.ID, id)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	d := orgData{Org: o, Roles: map[string][]string{}, ContactRoles: c.Tenant.Settings.ContactRoles, IsSite: o.ParentID != ""}
	if o.ParentID != "" {
		if p, err := rd.Organization(ctx, c.Tenant.ID, o.ParentID); err == nil {
			d.Parent = &p
		}
	}
	if d.Sites, _, err = rd.Organizations(ctx, c.Tenant.ID, store.OrganizationFilter{ParentID: o.ID}, store.ListOptions{Limit: 500}); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	// The people of the organization (of the parent, for a site), so a site can relate them.
	of := o.ID
	if d.Parent != nil {
		of = d.Parent.ID
	}
	persons, _, err := rd.Persons(ctx, c.Tenant.ID, store.PersonFilter{OrganizationID: of, Active: true}, store.ListOptions{Limit: 500})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	if d.Contacts, err = h.personRows(ctx, c.Tenant, persons, []usher.Organization{o}); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	rels, err := rd.Relationships(ctx, c.Tenant.ID, store.RelationshipFilter{SiteID: o.ID})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	for _, rel := range rels {
		d.Roles[rel.PersonID] = rel.Roles
	}
	c.Data.Title, c.Data.Section, c.Data.Data = o.Name, "organizations", d
	if c.Data.Notice == "" {
		c.Data.Notice = h.Flash(w, r)
	}
	h.View.Console(w, r, status, pages["org"], c.Data)
}

// Site adds a site to an organization.
func (h *Handler) Site(w http.ResponseWriter, r *http.Request, c *console.Call) {
	v := c.Form(r, "name")
	name, parent := v["name"], r.PathValue("id")
	o, err := h.svc.CreateOrganization(r.Context(), c.Actor, c.Tenant, provision.OrganizationInput{Name: &name, ParentID: parent})
	if err == nil {
		h.Redirect(w, r, c.Data.Admin+"organizations/"+o.ID, "The site "+o.Name+" was added.")
		return
	}
	if h.FormErrors(w, r, c, err) {
		h.renderOrg(w, r, c, parent, http.StatusUnprocessableEntity)
	}
}

// Relate sets a contact's roles at a site; the first relationship
// creates their account and sends the welcome message (seed 002). The
// "Primary" rule's refusal shows next to the roles.
func (h *Handler) Relate(w http.ResponseWriter, r *http.Request, c *console.Call) {
	if err := r.ParseForm(); err != nil {
		h.Fail(w, r, c, usher.Invalid("form", "the form could not be read"))
		return
	}
	site, person := r.PathValue("id"), r.PostFormValue("person_id")
	roles := r.PostForm["roles"]
	var err error
	var rel provision.Related
	if len(roles) == 0 && r.PostFormValue("remove") != "" {
		err = h.svc.Unrelate(r.Context(), c.Actor, c.Tenant, site, person)
	} else {
		rel, err = h.svc.Relate(r.Context(), c.Actor, c.Tenant, site, provision.RelationshipInput{PersonID: person, Roles: roles})
	}
	if err == nil {
		msg := "The contact roles were saved."
		if rel.Account != nil {
			msg = "The contact roles were saved and the contact's user account was created; " + h.sent(rel.Messages)
		} else if len(rel.Messages) > 0 {
			msg = "The contact roles were saved; " + h.sent(rel.Messages)
		}
		h.Redirect(w, r, c.Data.Admin+"organizations/"+site, msg)
		return
	}
	c.Data.Values["person_id"] = person
	c.Data.Values["roles"] = strings.Join(roles, ",")
	if h.FormErrors(w, r, c, err) {
		// The roles show the problem, whichever part of them it names.
		for f, msg := range c.Data.Errors {
			if strings.HasPrefix(f, "roles") {
				c.Data.Errors["roles"] = msg
			}
		}
		h.renderOrg(w, r, c, site, console.FormStatus(err))
	}
}
