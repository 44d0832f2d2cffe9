package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// consoleOrgs lists organizations (the tenant's own first) and adds one.
func (h *Handler) Orgs(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		v := c.form(r, "name")
		name := v["name"]
		o, err := h.svc.CreateOrganization(ctx, c.actor, c.tn, provision.OrganizationInput{Name: &name})
		if err == nil {
			h.redirect(w, r, c.d.Admin+"organizations/"+o.ID, o.Name+" was added.")
			return
		}
		if !h.formErrors(w, r, c, err) {
			return
		}
	} else {
		c.d.Values["q"] = strings.TrimSpace(r.URL.Query().Get("q"))
	}
	orgs, next, err := h.st.Read().Organizations(ctx, c.tn.ID, store.OrganizationFilter{ParentID: "-", Name: c.d.Values["q"]}, pageOf(r))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section, c.d.Notice = "Organizations", "organizations", h.flash(w, r)
	c.d.Data = map[string]any{"Orgs": orgs, "Next": nextURL(r, next)}
	status := http.StatusOK
	if len(c.d.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.view.Console(w, r, status, "orgs", c.d)
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

// consoleOrg is an organization's page: its sites, its contacts, and on a
// site, relating a contact with contact roles (seed 002).
func (h *Handler) Org(w http.ResponseWriter, r *http.Request, c *Call) {
	h.renderOrg(w, r, c, r.PathValue("id"), http.StatusOK)
}

func (h *Handler) renderOrg(w http.ResponseWriter, r *http.Request, c *Call, id string, status int) {
	ctx := r.Context()
	rd := h.st.Read()
	o, err := rd.Organization(ctx, c.tn.ID, id)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d := orgData{Org: o, Roles: map[string][]string{}, ContactRoles: c.tn.Settings.ContactRoles, IsSite: o.ParentID != ""}
	if o.ParentID != "" {
		if p, err := rd.Organization(ctx, c.tn.ID, o.ParentID); err == nil {
			d.Parent = &p
		}
	}
	if d.Sites, _, err = rd.Organizations(ctx, c.tn.ID, store.OrganizationFilter{ParentID: o.ID}, store.ListOptions{Limit: 500}); err != nil {
		h.fail(w, r, c, err)
		return
	}
	// The people of the organization (of the parent, for a site), so a site can relate them.
	of := o.ID
	if d.Parent != nil {
		of = d.Parent.ID
	}
	persons, _, err := rd.Persons(ctx, c.tn.ID, store.PersonFilter{OrganizationID: of, Active: true}, store.ListOptions{Limit: 500})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	if d.Contacts, err = h.personRows(ctx, c.tn, persons, []usher.Organization{o}); err != nil {
		h.fail(w, r, c, err)
		return
	}
	rels, err := rd.Relationships(ctx, c.tn.ID, store.RelationshipFilter{SiteID: o.ID})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	for _, rel := range rels {
		d.Roles[rel.PersonID] = rel.Roles
	}
	c.d.Title, c.d.Section, c.d.Data = o.Name, "organizations", d
	if c.d.Notice == "" {
		c.d.Notice = h.flash(w, r)
	}
	h.view.Console(w, r, status, "org", c.d)
}

// consoleSite adds a site to an organization.
func (h *Handler) Site(w http.ResponseWriter, r *http.Request, c *Call) {
	v := c.form(r, "name")
	name, parent := v["name"], r.PathValue("id")
	o, err := h.svc.CreateOrganization(r.Context(), c.actor, c.tn, provision.OrganizationInput{Name: &name, ParentID: parent})
	if err == nil {
		h.redirect(w, r, c.d.Admin+"organizations/"+o.ID, "The site "+o.Name+" was added.")
		return
	}
	if h.formErrors(w, r, c, err) {
		h.renderOrg(w, r, c, parent, http.StatusUnprocessableEntity)
	}
}

// consoleRelate sets a contact's roles at a site; the first relationship
// creates their account and sends the welcome message (seed 002). The
// "Primary" rule's refusal shows next to the roles.
func (h *Handler) Relate(w http.ResponseWriter, r *http.Request, c *Call) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, c, usher.Invalid("form", "the form could not be read"))
		return
	}
	site, person := r.PathValue("id"), r.PostFormValue("person_id")
	roles := r.PostForm["roles"]
	var err error
	var rel provision.Related
	if len(roles) == 0 && r.PostFormValue("remove") != "" {
		err = h.svc.Unrelate(r.Context(), c.actor, c.tn, site, person)
	} else {
		rel, err = h.svc.Relate(r.Context(), c.actor, c.tn, site, provision.RelationshipInput{PersonID: person, Roles: roles})
	}
	if err == nil {
		msg := "The contact roles were saved."
		if rel.Account != nil {
			msg = "The contact roles were saved and the contact's user account was created; " + h.sent(rel.Messages)
		} else if len(rel.Messages) > 0 {
			msg = "The contact roles were saved; " + h.sent(rel.Messages)
		}
		h.redirect(w, r, c.d.Admin+"organizations/"+site, msg)
		return
	}
	c.d.Values["person_id"] = person
	c.d.Values["roles"] = strings.Join(roles, ",")
	if h.formErrors(w, r, c, err) {
		// The roles show the problem, whichever part of them it names.
		for f, msg := range c.d.Errors {
			if strings.HasPrefix(f, "roles") {
				c.d.Errors["roles"] = msg
			}
		}
		h.renderOrg(w, r, c, site, formStatus(err))
	}
}

// consolePlans shows seats used and free per plan.
func (h *Handler) Plans(w http.ResponseWriter, r *http.Request, c *Call) {
	plans, _, err := h.st.Read().Plans(r.Context(), c.tn.ID, false, store.ListOptions{Limit: 500})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section, c.d.Data = "Plans and seats", "plans", map[string]any{"Plans": plans}
	h.view.Console(w, r, http.StatusOK, "plans", c.d)
}

// settingsForm are the settings the console edits, with their fields.
var settingsFields = []string{"registration", "registration_domains", "registration_fields", "registration_department", "email_enabled",
	"sms_enabled", "reveal_accounts", "default_role_id", "default_plan_id", "default_department_id", "default_job_profile_id",
	"default_language", "languages", "session_idle_minutes", "session_max_hours", "activation_ttl_hours", "product_name", "color",
	"logo_url", "support_email", "scim_unknown_names", "scim_addresses"}

// consoleSettings edits the tenant's settings (tenant administrators).
func (h *Handler) Settings(w http.ResponseWriter, r *http.Request, c *Call) {
	if !c.d.TenantAdmin {
		h.fail(w, r, c, usher.Forbidden("the settings are for tenant administrators"))
		return
	}
	ch, err := h.choices(r, c.tn)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section = "Settings", "settings"
	st := c.tn.Settings
	status := http.StatusOK
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, c, usher.Invalid("form", "the form could not be read"))
			return
		}
		v := c.form(r, settingsFields...)
		st.Registration, st.RegistrationFields = v["registration"], v["registration_fields"]
		st.RegistrationDomains = splitList(v["registration_domains"])
		st.RegistrationDepartment, st.EmailEnabled, st.SMSEnabled, st.RevealAccounts = v["registration_department"] == "on", v["email_enabled"] == "on", v["sms_enabled"] == "on", v["reveal_accounts"] == "on"
		st.DefaultRoleID, st.DefaultPlanID, st.DefaultDepartmentID, st.DefaultJobProfileID = v["default_role_id"], v["default_plan_id"], v["default_department_id"], v["default_job_profile_id"]
		st.DefaultLanguage = v["default_language"]
		st.Languages = r.PostForm["languages"]
		st.RequiredFields = r.PostForm["required_fields"]
		for _, n := range []struct {
			field string
			dst   *int
		}{{"session_idle_minutes", &st.SessionIdleMinutes}, {"session_max_hours", &st.SessionMaxHours}, {"activation_ttl_hours", &st.ActivationTTLHours}} {
			x, err := strconv.Atoi(v[n.field])
			if err != nil {
				c.d.Errors["settings."+n.field] = "Enter a whole number."
			}
			*n.dst = x
		}
		st.Branding = usher.Branding{ProductName: v["product_name"], Color: v["color"], LogoURL: v["logo_url"], SupportEmail: v["support_email"]}
		// An older form without these keeps what the tenant has.
		if r.PostForm.Has("scim_unknown_names") {
			st.SCIM.UnknownNames = v["scim_unknown_names"]
		}
		if r.PostForm.Has("scim_addresses") {
			st.SCIM.Addresses = v["scim_addresses"]
		}
		if len(c.d.Errors) == 0 {
			t, err := h.svc.UpdateTenant(r.Context(), c.actor, c.tn.ID, provision.TenantUpdate{Settings: &st})
			if err == nil {
				h.tenants.Forget(t.Slug)
				h.redirect(w, r, c.d.Admin+"settings", "The settings were saved.")
				return
			}
			if !h.formErrors(w, r, c, err) {
				return
			}
		} else {
			c.d.Errors["form"] = "Please correct the fields marked below."
		}
		status = http.StatusUnprocessableEntity
	}
	c.d.Notice = h.flash(w, r)
	sources, err := h.scimSources(r, c.tn)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Data = map[string]any{"S": st, "Choices": ch, "AllLanguages": view.AllLanguages(), "Requirable": usher.RequirableFields, "Sources": sources}
	h.view.Console(w, r, status, "settings", c.d)
}

// scimSources are tn's provisioning sources: its scim tokens not revoked.
func (h *Handler) scimSources(r *http.Request, tn usher.Tenant) ([]usher.APIToken, error) {
	toks, _, err := h.st.Read().Tokens(r.Context(), tn.ID, store.ListOptions{Limit: 500})
	var out []usher.APIToken
	for _, t := range toks {
		if t.Role == usher.PrincipalSCIM && t.RevokedAt == nil {
			out = append(out, t)
		}
	}
	return out, err
}

// Source changes a provisioning source's settings, from the settings page.
// The form offers only valid choices, so a refusal is a tampered form or a
// source revoked meanwhile, answered as an error page.
func (h *Handler) Source(w http.ResponseWriter, r *http.Request, c *Call) {
	if !c.d.TenantAdmin {
		h.fail(w, r, c, usher.Forbidden("the settings are for tenant administrators"))
		return
	}
	v := c.form(r, "patch_response")["patch_response"]
	tok, err := h.apiTokens.UpdateSource(r.Context(), c.actor, c.tn, r.PathValue("id"), apitoken.SourceInput{PatchResponse: &v})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	answer := "204 without a body"
	if tok.PatchResponse == usher.PatchResource {
		answer = "200 with the resource"
	}
	h.redirect(w, r, c.d.Admin+"settings#scim-sources", "A successful PATCH from “"+tok.Name+"” is now answered with "+answer+".")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
		out = append(out, f)
	}
	return out
}

// catalogKinds are the console's catalogue pages.
var catalogKinds = []struct{ Kind, Label string }{{usher.KindRole, "Roles"}, {usher.KindDepartment, "Departments"},
	{usher.KindJobProfile, "Job profiles"}, {usher.KindGroup, "Groups"}}

// consoleCatalog lists a catalogue, adds to it and deactivates entries.
func (h *Handler) Catalog(w http.ResponseWriter, r *http.Request, c *Call) {
	kind := r.PathValue("kind")
	i := slices.IndexFunc(catalogKinds, func(k struct{ Kind, Label string }) bool { return k.Kind == kind })
	if i < 0 {
		h.fail(w, r, c, usher.NotFound("kind", "catalogue"))
		return
	}
	ctx := r.Context()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		v := c.form(r, "key", "name", "deactivate")
		var err error
		if id := v["deactivate"]; id != "" {
			yes := true
			_, err = h.catalog.UpdateAttribute(ctx, c.actor, c.tn, kind, id, catalog.AttributeInput{Deactivated: &yes})
			if err == nil {
				h.redirect(w, r, c.d.Admin+"catalog/"+kind, "The entry was deactivated; accounts that have it keep it.")
				return
			}
		} else {
			name := v["name"]
			key := v["key"]
			if key == "" {
				key = provision.KeyOf(name)
			}
			var a usher.Attribute
			a, err = h.catalog.CreateAttribute(ctx, c.actor, c.tn, kind, catalog.AttributeInput{Key: key, Name: &name})
			if err == nil {
				h.redirect(w, r, c.d.Admin+"catalog/"+kind, a.Name+" was added.")
				return
			}
		}
		if !h.formErrors(w, r, c, err) {
			return
		}
		status = http.StatusUnprocessableEntity
	}
	items, next, err := h.st.Read().Attributes(ctx, c.tn.ID, kind, false, pageOf(r))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	// The provisioning sources that manage entries (a source's groups), by name.
	sources := map[string]string{}
	if slices.ContainsFunc(items, func(a usher.Attribute) bool { return a.ManagedBy != "" }) {
		toks, _, err := h.st.Read().Tokens(ctx, c.tn.ID, store.ListOptions{Limit: 500})
		if err != nil {
			h.fail(w, r, c, err)
			return
		}
		for _, t := range toks {
			sources[t.ID] = t.Name
		}
	}
	c.d.Title, c.d.Section, c.d.Notice = catalogKinds[i].Label, "catalog", h.flash(w, r)
	c.d.Data = map[string]any{"Kind": kind, "Items": items, "Next": nextURL(r, next), "Kinds": catalogKinds, "Sources": sources}
	h.view.Console(w, r, status, "catalog", c.d)
}

// consoleLinks lists sign-up links with their QR codes and adds one.
func (h *Handler) Links(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		v := c.form(r, "name", "department_id", "job_profile_id", "role_id", "plan_id", "expires_at", "max_uses", "disable")
		var err error
		if id := v["disable"]; id != "" {
			if _, err = h.signup.DeactivateSignupLink(ctx, c.actor, c.tn, id); err == nil {
				h.redirect(w, r, c.d.Admin+"signup-links", "The link is switched off.")
				return
			}
		} else {
			in := signup.SignupLinkInput{Name: ptrTo(v["name"]), DepartmentID: ptrTo(v["department_id"]), JobProfileID: ptrTo(v["job_profile_id"]),
				RoleID: ptrTo(v["role_id"]), PlanID: ptrTo(v["plan_id"])}
			if e := v["expires_at"]; e != "" {
				// A date from the form's date field: the link works through that day (UTC).
				in.ExpiresAt = ptrTo(e + "T23:59:59Z")
			}
			if m := v["max_uses"]; m != "" {
				n, aerr := strconv.Atoi(m)
				if aerr != nil {
					n = -1
				}
				in.MaxUses = &n
			}
			var l usher.SignupLink
			if l, err = h.signup.CreateSignupLink(ctx, c.actor, c.tn, in); err == nil {
				h.redirect(w, r, c.d.Admin+"signup-links", "The link “"+l.Name+"” was created; print its QR code below.")
				return
			}
		}
		if !h.formErrors(w, r, c, err) {
			return
		}
		status = http.StatusUnprocessableEntity
	}
	links, next, err := h.signup.ListSignupLinks(ctx, c.tn, store.SignupLinkFilter{}, pageOf(r))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	// Each card says what its link gives: the department first.
	n := h.namer(ctx, c)
	rows := make([]linkRow, len(links))
	for i, l := range links {
		l.URL = h.links.SignUp(c.tn, l.Code)
		rows[i] = linkRow{SignupLink: l, Status: linkStatus[l.Status]}
		for _, x := range []struct {
			label, kind, id string
		}{{"Department", usher.KindDepartment, l.DepartmentID}, {"Job profile", usher.KindJobProfile, l.JobProfileID},
			{"Role", usher.KindRole, l.RoleID}, {"Plan", "plan", l.PlanID}} {
			if x.id != "" {
				rows[i].Gives = append(rows[i].Gives, [2]string{x.label, n.of(x.kind, x.id).Name})
			}
		}
	}
	ch, err := h.choices(r, c.tn)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section, c.d.Notice = "Sign-up links", "links", h.flash(w, r)
	c.d.Data = map[string]any{"Links": rows, "Next": nextURL(r, next), "Choices": ch}
	h.view.Console(w, r, status, "links", c.d)
}

func ptrTo(s string) *string { return &s }

// linkRow is a sign-up link's card: its status in words and what it gives
// the accounts made through it.
type linkRow struct {
	usher.SignupLink
	Status string
	Gives  [][2]string // label, name
}

// linkStatus says a sign-up link's status as the card shows it.
var linkStatus = map[string]string{usher.SignupActive: "active", usher.SignupDisabled: "switched off", usher.SignupExpired: "expired",
	usher.SignupUsedUp: "used up"}

// QR serves a sign-up link's QR code to the console, as the API does.
func (h *Handler) QR(w http.ResponseWriter, r *http.Request, c *Call) {
	l, err := h.signup.SignupLink(r.Context(), c.tn, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	qr, err := view.SignupQR(h.links, c.tn, l)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".png") {
		f, err := view.QRPNG(qr, l, view.QRDefaultSize)
		if err != nil {
			h.fail(w, r, c, err)
			return
		}
		f.Write(w, http.StatusOK)
		return
	}
	view.QRSVG(qr, l).Write(w, http.StatusOK)
}

// consoleMessages lists what was sent to whom, newest first.
func (h *Handler) Messages(w http.ResponseWriter, r *http.Request, c *Call) {
	q := r.URL.Query()
	f := store.MessageFilter{State: q.Get("state"), Kind: q.Get("kind"), Channel: q.Get("channel"), AccountID: q.Get("account_id")}
	c.d.Values["state"], c.d.Values["kind"], c.d.Values["channel"] = f.State, f.Kind, f.Channel
	o := pageOf(r)
	o.Newest = true
	msgs, next, err := h.st.Read().Messages(r.Context(), c.tn.ID, f, o)
	if err == nil {
		msgs, err = h.svc.ComposeAll(c.tn, msgs)
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section = "Messages", "messages"
	c.d.Data = map[string]any{"Messages": msgs, "Next": nextURL(r, next), "Kinds": messageKinds, "Names": kindNames(), "Delivers": h.delivers}
	h.view.Console(w, r, http.StatusOK, "messages", c.d)
}

// consoleMessage shows one message whole: on the embedded default, where
// nothing is delivered, this is where a newcomer finds the activation link.
func (h *Handler) Message(w http.ResponseWriter, r *http.Request, c *Call) {
	m, err := h.st.Read().Message(r.Context(), c.tn.ID, r.PathValue("id"))
	if err == nil {
		var one []usher.Message
		one, err = h.svc.ComposeAll(c.tn, []usher.Message{m})
		if err == nil {
			m = one[0]
		}
	}
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section = "Message to "+m.To, "messages"
	c.d.Data = map[string]any{"M": m, "Kind": or(kindNames()[m.Kind], m.Kind), "Delivered": h.delivers[m.Channel], "Channel": channelNames[m.Channel],
		"Language": view.LanguageName(m.Language)}
	h.view.Console(w, r, http.StatusOK, "message", c.d)
}

// withoutParam is the address of r without the query parameter name.
func withoutParam(r *http.Request, name string) string {
	q := r.URL.Query()
	q.Del(name)
	q.Del("after")
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}

// consoleAudit is the audit log, newest first, filtered by actor, person and action.
func (h *Handler) Audit(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	q := r.URL.Query()
	for _, k := range []string{"actor_id", "person_id", "action"} {
		c.d.Values[k] = strings.TrimSpace(q.Get(k))
	}
	f := store.AuditFilter{ActorID: c.d.Values["actor_id"], Action: c.d.Values["action"]}
	if pid := c.d.Values["person_id"]; pid != "" {
		f.TargetID = pid
		if a, err := h.st.Read().AccountOfPerson(ctx, c.tn.ID, pid); err == nil {
			f.AlsoTarget = a.ID
		}
	}
	o := pageOf(r)
	o.Newest = true
	evs, next, err := h.st.Read().AuditEvents(ctx, c.tn.ID, f, o)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section = "Audit log", "audit"
	n := h.namer(ctx, c)
	d := map[string]any{"Events": n.rows(evs), "Next": nextURL(r, next)}
	// A filter by actor or person shows whom it shows, with a way back to all.
	if id := c.d.Values["actor_id"]; id != "" {
		d["Actor"] = n.actorByID(id)
		d["AllActors"] = withoutParam(r, "actor_id")
	}
	if id := c.d.Values["person_id"]; id != "" {
		d["Person"] = n.of("person", id)
		d["AllPersons"] = withoutParam(r, "person_id")
	}
	c.d.Data = d
	h.view.Console(w, r, http.StatusOK, "audit", c.d)
}
