// Package operator is the operators' console at /operator/: tenants, their
// seats per plan, and tenant-administrator rights, which only operators
// grant. Operators sign in with an operator token; the session cookie is
// their own, scoped to /operator/.
package operator

import (
	"embed"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/view"
)

const operatorCookie = "usher_operator"

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "signin", "tenants", "tenant")

// Handler serves the operators' console.
type Handler struct {
	*console.Console
	auth    *signin.Service
	svc     *provision.Service
	catalog *catalog.Service
}

// New returns the operators' console.
func New(con *console.Console, auth *signin.Service, svc *provision.Service, cat *catalog.Service) *Handler {
	return &Handler{Console: con, auth: auth, svc: svc, catalog: cat}
}

// signInHint says which token signs an operator in on this install.
func (h *Handler) signInHint() string {
	switch h.OperatorToken {
	case "printed":
		return "Sign in with an operator API token: on a first install, the one usher printed when it started."
	case "environment":
		return "Sign in with an operator API token, such as the one set in USHER_BOOTSTRAP_OPERATOR_TOKEN."
	}
	return "Sign in with an operator API token."
}

// Operator guards an operators' console page; without an operator
// session the sign-in form is shown.
func (h *Handler) Operator(page console.Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := newCall()
		tok, err := h.auth.OperatorSession(r.Context(), view.Cookie(r, operatorCookie))
		switch {
		case errors.Is(err, signin.ErrNoSession):
			c.Data.Title, c.Data.Data = "Operators' sign-in", h.signInHint()
			h.View.Console(w, r, http.StatusOK, pages["signin"], c.Data)
			return
		case err != nil:
			h.Fail(w, r, c, err)
			return
		}
		c.Actor = usher.Actor{Kind: usher.ActorOperator, ID: tok.ID, Role: usher.PrincipalOperator, Source: view.ClientIP(r)}
		c.Data.OperatorName = h.TokenName(tok)
		page(w, r, c)
	})
}

// newCall is a request to the operators' console, its operator not yet known.
func newCall() *console.Call {
	return &console.Call{Data: console.PageData{Operator: true, Tenant: usher.Tenant{Name: "usher"}, Errors: map[string]string{}, Values: map[string]string{}}}
}

func (h *Handler) operatorCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: operatorCookie, Value: value, Path: "/operator/", HttpOnly: true, Secure: h.Links.SecureCookies(),
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

// SignIn signs an operator in with an operator API token.
func (h *Handler) SignIn(w http.ResponseWriter, r *http.Request) {
	c := newCall()
	c.Data.Title, c.Data.Data = "Operators' sign-in", h.signInHint()
	secret, err := h.auth.OperatorSignIn(r.Context(), r.PostFormValue("token"), view.ClientIP(r), r.UserAgent())
	var te *signin.ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		c.Data.Errors["token"] = "Too many attempts: wait " + te.RetryAfter.Round(1e9).String() + " and try again."
		h.View.Console(w, r, http.StatusTooManyRequests, pages["signin"], c.Data)
		return
	case err != nil:
		var ue *usher.Error
		if errors.As(err, &ue) && ue.Code != usher.CodeInternal {
			c.Data.Errors["token"] = view.Sentence(ue.Message)
			h.View.Console(w, r, http.StatusUnauthorized, pages["signin"], c.Data)
			return
		}
		h.Fail(w, r, c, err)
		return
	}
	h.operatorCookie(w, secret, 0)
	http.Redirect(w, r, "/operator/", http.StatusSeeOther)
}

// SignOut ends the operator's session.
func (h *Handler) SignOut(w http.ResponseWriter, r *http.Request) {
	if v := view.Cookie(r, operatorCookie); v != "" {
		_ = h.auth.SignOut(r.Context(), v)
	}
	h.operatorCookie(w, "", -1)
	http.Redirect(w, r, "/operator/", http.StatusSeeOther)
}

type tenantRow struct {
	Tenant usher.Tenant
	URL    string
	Plans  []usher.Plan
}

// Tenants lists tenants with their seats per plan, and creates one.
func (h *Handler) Tenants(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		v := c.Form(r, "name", "slug", "template")
		t, err := h.svc.CreateTenant(ctx, c.Actor, provision.TenantInput{Name: v["name"], Slug: v["slug"], Template: v["template"]})
		if err == nil {
			h.Redirect(w, r, "/operator/tenants/"+t.Slug, t.Name+" was created. Add a plan with seats, then its first administrator.")
			return
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		status = http.StatusUnprocessableEntity
	}
	rd := h.Store.Read()
	tenants, next, err := rd.Tenants(ctx, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	rows := make([]tenantRow, 0, len(tenants))
	for _, t := range tenants {
		plans, _, err := rd.Plans(ctx, t.ID, true, store.ListOptions{Limit: 20})
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		rows = append(rows, tenantRow{Tenant: t, URL: h.Links.TenantBase(t), Plans: plans})
	}
	c.Data.Title, c.Data.Section, c.Data.Notice = "Tenants", "tenants", h.Flash(w, r)
	c.Data.Data = map[string]any{"Rows": rows, "Next": console.NextURL(r, next), "Example": h.Links.TenantBase(usher.Tenant{Slug: "acme"})}
	h.View.Console(w, r, status, pages["tenants"], c.Data)
}

// Tenant is one tenant: plans with seats, and its administrators.
func (h *Handler) Tenant(w http.ResponseWriter, r *http.Request, c *console.Call) {
	h.renderTenant(w, r, c, http.StatusOK)
}

func (h *Handler) renderTenant(w http.ResponseWriter, r *http.Request, c *console.Call, status int) {
	ctx := r.Context()
	rd := h.Store.Read()
	t, err := rd.TenantBySlug(ctx, r.PathValue("tenant"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	plans, _, err := rd.Plans(ctx, t.ID, false, store.ListOptions{Limit: 500})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	admins, _, err := rd.Accounts(ctx, t.ID, store.AccountFilter{AdminRole: usher.AdminTenant}, store.ListOptions{Limit: 500})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section = t.Name, "tenants"
	if c.Data.Notice == "" {
		c.Data.Notice = h.Flash(w, r)
	}
	c.Data.Data = map[string]any{"Tenant": t, "URL": h.Links.TenantBase(t), "Plans": plans, "Admins": admins}
	h.View.Console(w, r, status, pages["tenant"], c.Data)
}

// tenantOf reads the tenant of the path for a change.
func (h *Handler) tenantOf(w http.ResponseWriter, r *http.Request, c *console.Call) (usher.Tenant, bool) {
	t, err := h.Store.Read().TenantBySlug(r.Context(), r.PathValue("tenant"))
	if err != nil {
		h.Fail(w, r, c, err)
		return t, false
	}
	return t, true
}

// Plan adds a plan (id "") or sets a plan's seats.
func (h *Handler) Plan(w http.ResponseWriter, r *http.Request, c *console.Call) {
	t, ok := h.tenantOf(w, r, c)
	if !ok {
		return
	}
	v := c.Form(r, "name", "key", "seats")
	back := "/operator/tenants/" + t.Slug
	seats, err := strconv.Atoi(v["seats"])
	id := r.PathValue("id")
	field := "seats"
	if id != "" {
		field = "seats-" + id
	}
	if err != nil {
		c.Data.Errors[field] = "Enter a whole number of seats."
		c.Data.Errors["form"] = "Seats: enter a whole number."
		h.renderTenant(w, r, c, http.StatusUnprocessableEntity)
		return
	}
	var p usher.Plan
	if id == "" {
		name, key := v["name"], v["key"]
		if key == "" {
			key = provision.KeyOf(name)
		}
		p, err = h.catalog.CreatePlan(r.Context(), c.Actor, t, catalog.PlanInput{Key: key, Name: &name, Seats: &seats})
	} else {
		p, err = h.catalog.UpdatePlan(r.Context(), c.Actor, t, id, catalog.PlanInput{Seats: &seats})
	}
	if err == nil {
		h.Redirect(w, r, back, p.Name+" has "+console.Plural(p.Seats, "seat")+".")
		return
	}
	if h.FormErrors(w, r, c, err) {
		if id != "" && c.Data.Errors["seats"] != "" {
			c.Data.Errors[field] = c.Data.Errors["seats"]
		}
		h.renderTenant(w, r, c, console.FormStatus(err))
	}
}

// TenantAdmin grants (id "") or removes tenant-administrator rights.
func (h *Handler) TenantAdmin(w http.ResponseWriter, r *http.Request, c *console.Call) {
	t, ok := h.tenantOf(w, r, c)
	if !ok {
		return
	}
	ctx := r.Context()
	back := "/operator/tenants/" + t.Slug
	id := r.PathValue("id")
	role := usher.AdminTenant
	if id == "" {
		v := c.Form(r, "identifier")
		a, err := h.Store.Read().AccountByLogin(ctx, t.ID, usher.NormalizeLogin(v["identifier"]))
		if err != nil {
			if errors.Is(err, usher.ErrNotFound) {
				c.Data.Errors["identifier"] = "No account of " + t.Name + " signs in with this."
				c.Data.Errors["form"] = "Identifier: no account of " + t.Name + " signs in with this."
				h.renderTenant(w, r, c, http.StatusUnprocessableEntity)
				return
			}
			h.Fail(w, r, c, err)
			return
		}
		id = a.ID
	} else {
		role = ""
	}
	a, err := h.svc.UpdateAccount(ctx, c.Actor, t, id, provision.AccountUpdate{AdminRole: &role})
	if err != nil {
		h.RedirectProblem(w, r, c, back, err)
		return
	}
	who := strings.TrimSpace(a.Email + " " + a.Username)
	if role == "" {
		h.Redirect(w, r, back, who+" is no longer a tenant administrator.")
		return
	}
	h.Redirect(w, r, back, who+" is now a tenant administrator.")
}
