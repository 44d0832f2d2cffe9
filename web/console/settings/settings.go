// Package settings is the tenant console's setup of the tenant: its
// settings and provisioning sources, catalogues, plans and their seats,
// and sign-up links with their QR codes.
package settings

import (
	"embed"
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
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/console/audit"
	"github.com/usherhq/usher/web/view"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "plans", "settings", "catalog", "links")

// Handler serves the tenant's setup.
type Handler struct {
	*console.Console
	svc       *provision.Service
	catalog   *catalog.Service
	signup    *signup.Service
	apiTokens *apitoken.Service
	tenants   view.Tenants
}

// New returns the handler of the tenant's setup.
func New(con *console.Console, svc *provision.Service, cat *catalog.Service, su *signup.Service, tokens *apitoken.Service, tenants view.Tenants) *Handler {
	return &Handler{Console: con, svc: svc, catalog: cat, signup: su, apiTokens: tokens, tenants: tenants}
}

// Plans shows seats used and free per plan.
func (h *Handler) Plans(w http.ResponseWriter, r *http.Request, c *console.Call) {
	plans, _, err := h.Store.Read().Plans(r.Context(), c.Tenant.ID, false, store.ListOptions{Limit: 500})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section, c.Data.Data = "Plans and seats", "plans", map[string]any{"Plans": plans}
	h.View.Console(w, r, http.StatusOK, pages["plans"], c.Data)
}

// settingsFields are the settings the console edits, with their fields.
var settingsFields = []string{"registration", "registration_domains", "registration_fields", "registration_department", "email_enabled",
	"sms_enabled", "reveal_accounts", "default_role_id", "default_plan_id", "default_department_id", "default_job_profile_id",
	"default_language", "languages", "session_idle_minutes", "session_max_hours", "activation_ttl_hours", "product_name", "color",
	"logo_url", "support_email", "scim_unknown_names", "scim_addresses"}

// Settings edits the tenant's settings (tenant administrators).
func (h *Handler) Settings(w http.ResponseWriter, r *http.Request, c *console.Call) {
	if !c.Data.TenantAdmin {
		h.Fail(w, r, c, usher.Forbidden("the settings are for tenant administrators"))
		return
	}
	ch, err := h.Choices(r, c.Tenant)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section = "Settings", "settings"
	st := c.Tenant.Settings
	status := http.StatusOK
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			h.Fail(w, r, c, usher.Invalid("form", "the form could not be read"))
			return
		}
		v := c.Form(r, settingsFields...)
		st.Registration, st.RegistrationFields = v["registration"], v["registration_fields"]
		st.RegistrationDomains = console.SplitList(v["registration_domains"])
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
				c.Data.Errors["settings."+n.field] = "Enter a whole number."
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
		if len(c.Data.Errors) == 0 {
			t, err := h.svc.UpdateTenant(r.Context(), c.Actor, c.Tenant.ID, provision.TenantUpdate{Settings: &st})
			if err == nil {
				h.tenants.Forget(t.Slug)
				h.Redirect(w, r, c.Data.Admin+"settings", "The settings were saved.")
				return
			}
			if !h.FormErrors(w, r, c, err) {
				return
			}
		} else {
			c.Data.Errors["form"] = "Please correct the fields marked below."
		}
		status = http.StatusUnprocessableEntity
	}
	c.Data.Notice = h.Flash(w, r)
	sources, err := h.scimSources(r, c.Tenant)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Data = map[string]any{"S": st, "Choices": ch, "AllLanguages": view.AllLanguages(), "Requirable": usher.RequirableFields, "Sources": sources}
	h.View.Console(w, r, status, pages["settings"], c.Data)
}

// scimSources are tn's provisioning sources: its scim tokens not revoked.
func (h *Handler) scimSources(r *http.Request, tn usher.Tenant) ([]usher.APIToken, error) {
	toks, _, err := h.Store.Read().Tokens(r.Context(), tn.ID, store.ListOptions{Limit: 500})
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
func (h *Handler) Source(w http.ResponseWriter, r *http.Request, c *console.Call) {
	if !c.Data.TenantAdmin {
		h.Fail(w, r, c, usher.Forbidden("the settings are for tenant administrators"))
		return
	}
	v := c.Form(r, "patch_response")["patch_response"]
	tok, err := h.apiTokens.UpdateSource(r.Context(), c.Actor, c.Tenant, r.PathValue("id"), apitoken.SourceInput{PatchResponse: &v})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	answer := "204 without a body"
	if tok.PatchResponse == usher.PatchResource {
		answer = "200 with the resource"
	}
	h.Redirect(w, r, c.Data.Admin+"settings#scim-sources", "A successful PATCH from “"+tok.Name+"” is now answered with "+answer+".")
}

// catalogKinds are the console's catalogue pages.
var catalogKinds = []struct{ Kind, Label string }{{usher.KindRole, "Roles"}, {usher.KindDepartment, "Departments"},
	{usher.KindJobProfile, "Job profiles"}, {usher.KindGroup, "Groups"}}

// Catalog lists a catalogue, adds to it and deactivates entries.
func (h *Handler) Catalog(w http.ResponseWriter, r *http.Request, c *console.Call) {
	kind := r.PathValue("kind")
	i := slices.IndexFunc(catalogKinds, func(k struct{ Kind, Label string }) bool { return k.Kind == kind })
	if i < 0 {
		h.Fail(w, r, c, usher.NotFound("kind", "catalogue"))
		return
	}
	ctx := r.Context()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		v := c.Form(r, "key", "name", "deactivate")
		var err error
		if id := v["deactivate"]; id != "" {
			yes := true
			_, err = h.catalog.UpdateAttribute(ctx, c.Actor, c.Tenant, kind, id, catalog.AttributeInput{Deactivated: &yes})
			if err == nil {
				h.Redirect(w, r, c.Data.Admin+"catalog/"+kind, "The entry was deactivated; accounts that have it keep it.")
				return
			}
		} else {
			name := v["name"]
			key := v["key"]
			if key == "" {
				key = provision.KeyOf(name)
			}
			var a usher.Attribute
			a, err = h.catalog.CreateAttribute(ctx, c.Actor, c.Tenant, kind, catalog.AttributeInput{Key: key, Name: &name})
			if err == nil {
				h.Redirect(w, r, c.Data.Admin+"catalog/"+kind, a.Name+" was added.")
				return
			}
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		status = http.StatusUnprocessableEntity
	}
	items, next, err := h.Store.Read().Attributes(ctx, c.Tenant.ID, kind, false, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	// The provisioning sources that manage entries (a source's groups), by name.
	sources := map[string]string{}
	if slices.ContainsFunc(items, func(a usher.Attribute) bool { return a.ManagedBy != "" }) {
		toks, _, err := h.Store.Read().Tokens(ctx, c.Tenant.ID, store.ListOptions{Limit: 500})
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		for _, t := range toks {
			sources[t.ID] = t.Name
		}
	}
	c.Data.Title, c.Data.Section, c.Data.Notice = catalogKinds[i].Label, "catalog", h.Flash(w, r)
	c.Data.Data = map[string]any{"Kind": kind, "Items": items, "Next": console.NextURL(r, next), "Kinds": catalogKinds, "Sources": sources}
	h.View.Console(w, r, status, pages["catalog"], c.Data)
}

// SignupLinks lists sign-up links with their QR codes and adds one.
func (h *Handler) SignupLinks(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		v := c.Form(r, "name", "department_id", "job_profile_id", "role_id", "plan_id", "expires_at", "max_uses", "disable")
		var err error
		if id := v["disable"]; id != "" {
			if _, err = h.signup.DeactivateSignupLink(ctx, c.Actor, c.Tenant, id); err == nil {
				h.Redirect(w, r, c.Data.Admin+"signup-links", "The link is switched off.")
				return
			}
		} else {
			in := signup.SignupLinkInput{Name: new(v["name"]), DepartmentID: new(v["department_id"]), JobProfileID: new(v["job_profile_id"]),
				RoleID: new(v["role_id"]), PlanID: new(v["plan_id"])}
			if e := v["expires_at"]; e != "" {
				// A date from the form's date field: the link works through that day (UTC).
				in.ExpiresAt = new(e + "T23:59:59Z")
			}
			if m := v["max_uses"]; m != "" {
				n, aerr := strconv.Atoi(m)
				if aerr != nil {
					n = -1
				}
				in.MaxUses = &n
			}
			var l usher.SignupLink
			if l, err = h.signup.CreateSignupLink(ctx, c.Actor, c.Tenant, in); err == nil {
				h.Redirect(w, r, c.Data.Admin+"signup-links", "The link “"+l.Name+"” was created; print its QR code below.")
				return
			}
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		status = http.StatusUnprocessableEntity
	}
	links, next, err := h.signup.ListSignupLinks(ctx, c.Tenant, store.SignupLinkFilter{}, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	// Each card says what its link gives: the department first.
	n := audit.Names(ctx, h.Console, c)
	rows := make([]linkRow, len(links))
	for i, l := range links {
		l.URL = h.Links.SignUp(c.Tenant, l.Code)
		rows[i] = linkRow{SignupLink: l, Status: linkStatus[l.Status]}
		for _, x := range []struct {
			label, kind, id string
		}{{"Department", usher.KindDepartment, l.DepartmentID}, {"Job profile", usher.KindJobProfile, l.JobProfileID},
			{"Role", usher.KindRole, l.RoleID}, {"Plan", "plan", l.PlanID}} {
			if x.id != "" {
				rows[i].Gives = append(rows[i].Gives, [2]string{x.label, n.Of(x.kind, x.id).Name})
			}
		}
	}
	ch, err := h.Choices(r, c.Tenant)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section, c.Data.Notice = "Sign-up links", "links", h.Flash(w, r)
	c.Data.Data = map[string]any{"Links": rows, "Next": console.NextURL(r, next), "Choices": ch}
	h.View.Console(w, r, status, pages["links"], c.Data)
}

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
func (h *Handler) QR(w http.ResponseWriter, r *http.Request, c *console.Call) {
	l, err := h.signup.SignupLink(r.Context(), c.Tenant, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	qr, err := view.SignupQR(h.Links, c.Tenant, l)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".png") {
		f, err := view.QRPNG(qr, l, view.QRDefaultSize)
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		f.Write(w, http.StatusOK)
		return
	}
	view.QRSVG(qr, l).Write(w, http.StatusOK)
}
