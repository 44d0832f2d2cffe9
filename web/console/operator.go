package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// The operators' console at /operator/: tenants, their seats per plan, and
// tenant-administrator rights, which only operators grant. Operators sign
// in with an operator token; the session cookie is their own, scoped to
// /operator/.

const operatorCookie = "usher_operator"

// bootstrapTokenID is the id provision gives the start-up operator token.
const bootstrapTokenID = "bootstrap-operator"

// tokenName names an API token as the consoles show who acted: the
// start-up operator token by where it came from, any other by its name.
func (h *Handler) tokenName(tok usher.APIToken) string {
	if tok.ID == bootstrapTokenID {
		switch h.bootToken {
		case "printed":
			return "the operator token printed at start"
		case "environment":
			return "the operator token of USHER_BOOTSTRAP_OPERATOR_TOKEN"
		}
		return "the operator token of an earlier start"
	}
	return "the token “" + tok.Name + "”"
}

// signInHint says which token signs an operator in on this install.
func (h *Handler) signInHint() string {
	switch h.bootToken {
	case "printed":
		return "Sign in with an operator API token: on a first install, the one usher printed when it started."
	case "environment":
		return "Sign in with an operator API token, such as the one set in USHER_BOOTSTRAP_OPERATOR_TOKEN."
	}
	return "Sign in with an operator API token."
}

// Operator guards an operators' console page; without an operator
// session the sign-in form is shown.
func (h *Handler) Operator(page Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &Call{d: consoleData{Operator: true, Tenant: usher.Tenant{Name: "usher"}, Errors: map[string]string{}, Values: map[string]string{}}}
		tok, err := h.auth.OperatorSession(r.Context(), view.Cookie(r, operatorCookie))
		switch {
		case errors.Is(err, signin.ErrNoSession):
			c.d.Title, c.d.Data = "Operators' sign-in", h.signInHint()
			h.view.Console(w, r, http.StatusOK, "op_signin", c.d)
			return
		case err != nil:
			h.fail(w, r, c, err)
			return
		}
		c.actor = usher.Actor{Kind: usher.ActorOperator, ID: tok.ID, Role: usher.PrincipalOperator, Source: view.ClientIP(r)}
		c.d.OperatorName = h.tokenName(tok)
		page(w, r, c)
	})
}

func (h *Handler) operatorCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: operatorCookie, Value: value, Path: "/operator/", HttpOnly: true, Secure: h.links.SecureCookies(),
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

func (h *Handler) OperatorSignIn(w http.ResponseWriter, r *http.Request) {
	c := &Call{d: consoleData{Operator: true, Tenant: usher.Tenant{Name: "usher"}, Title: "Operators' sign-in", Data: h.signInHint(),
		Errors: map[string]string{}, Values: map[string]string{}}}
	secret, err := h.auth.OperatorSignIn(r.Context(), r.PostFormValue("token"), view.ClientIP(r), r.UserAgent())
	var te *signin.ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		c.d.Errors["token"] = "Too many attempts: wait " + te.RetryAfter.Round(1e9).String() + " and try again."
		h.view.Console(w, r, http.StatusTooManyRequests, "op_signin", c.d)
		return
	case err != nil:
		var ue *usher.Error
		if errors.As(err, &ue) && ue.Code != usher.CodeInternal {
			c.d.Errors["token"] = view.Sentence(ue.Message)
			h.view.Console(w, r, http.StatusUnauthorized, "op_signin", c.d)
			return
		}
		h.fail(w, r, c, err)
		return
	}
	h.operatorCookie(w, secret, 0)
	http.Redirect(w, r, "/operator/", http.StatusSeeOther)
}

func (h *Handler) OperatorSignOut(w http.ResponseWriter, r *http.Request) {
	if v := view.Cookie(r, operatorCookie); v != "" {
		_ = h.auth.SignOut(r.Context(), v)
	}
	h.operatorCookie(w, "", -1)
	http.Redirect(w, r, "/operator/", http.StatusSeeOther)
}

type tenantRowOp struct {
	Tenant usher.Tenant
	URL    string
	Plans  []usher.Plan
}

// operatorTenants lists tenants with their seats per plan, and creates one.
func (h *Handler) OperatorTenants(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		v := c.form(r, "name", "slug", "template")
		t, err := h.svc.CreateTenant(ctx, c.actor, provision.TenantInput{Name: v["name"], Slug: v["slug"], Template: v["template"]})
		if err == nil {
			h.redirect(w, r, "/operator/tenants/"+t.Slug, t.Name+" was created. Add a plan with seats, then its first administrator.")
			return
		}
		if !h.formErrors(w, r, c, err) {
			return
		}
		status = http.StatusUnprocessableEntity
	}
	rd := h.st.Read()
	tenants, next, err := rd.Tenants(ctx, pageOf(r))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	rows := make([]tenantRowOp, 0, len(tenants))
	for _, t := range tenants {
		plans, _, err := rd.Plans(ctx, t.ID, true, store.ListOptions{Limit: 20})
		if err != nil {
			h.fail(w, r, c, err)
			return
		}
		rows = append(rows, tenantRowOp{Tenant: t, URL: h.links.TenantBase(t), Plans: plans})
	}
	c.d.Title, c.d.Section, c.d.Notice = "Tenants", "tenants", h.flash(w, r)
	c.d.Data = map[string]any{"Rows": rows, "Next": nextURL(r, next), "Example": h.links.TenantBase(usher.Tenant{Slug: "acme"})}
	h.view.Console(w, r, status, "op_tenants", c.d)
}

// operatorTenant is one tenant: plans with seats, and its administrators.
func (h *Handler) OperatorTenant(w http.ResponseWriter, r *http.Request, c *Call) {
	h.renderOperatorTenant(w, r, c, http.StatusOK)
}

func (h *Handler) renderOperatorTenant(w http.ResponseWriter, r *http.Request, c *Call, status int) {
	ctx := r.Context()
	rd := h.st.Read()
	t, err := rd.TenantBySlug(ctx, r.PathValue("tenant"))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	plans, _, err := rd.Plans(ctx, t.ID, false, store.ListOptions{Limit: 500})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	admins, _, err := rd.Accounts(ctx, t.ID, store.AccountFilter{AdminRole: usher.AdminTenant}, store.ListOptions{Limit: 500})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section = t.Name, "tenants"
	if c.d.Notice == "" {
		c.d.Notice = h.flash(w, r)
	}
	c.d.Data = map[string]any{"Tenant": t, "URL": h.links.TenantBase(t), "Plans": plans, "Admins": admins}
	h.view.Console(w, r, status, "op_tenant", c.d)
}

// operatorTenantOf reads the tenant of the path for a change.
func (h *Handler) operatorTenantOf(w http.ResponseWriter, r *http.Request, c *Call) (usher.Tenant, bool) {
	t, err := h.st.Read().TenantBySlug(r.Context(), r.PathValue("tenant"))
	if err != nil {
		h.fail(w, r, c, err)
		return t, false
	}
	return t, true
}

// operatorPlan adds a plan (id "") or sets a plan's seats.
func (h *Handler) OperatorPlan(w http.ResponseWriter, r *http.Request, c *Call) {
	t, ok := h.operatorTenantOf(w, r, c)
	if !ok {
		return
	}
	v := c.form(r, "name", "key", "seats")
	back := "/operator/tenants/" + t.Slug
	seats, err := strconv.Atoi(v["seats"])
	id := r.PathValue("id")
	field := "seats"
	if id != "" {
		field = "seats-" + id
	}
	if err != nil {
		c.d.Errors[field] = "Enter a whole number of seats."
		c.d.Errors["form"] = "Seats: enter a whole number."
		h.renderOperatorTenant(w, r, c, http.StatusUnprocessableEntity)
		return
	}
	var p usher.Plan
	if id == "" {
		name, key := v["name"], v["key"]
		if key == "" {
			key = provision.KeyOf(name)
		}
		p, err = h.catalog.CreatePlan(r.Context(), c.actor, t, catalog.PlanInput{Key: key, Name: &name, Seats: &seats})
	} else {
		p, err = h.catalog.UpdatePlan(r.Context(), c.actor, t, id, catalog.PlanInput{Seats: &seats})
	}
	if err == nil {
		h.redirect(w, r, back, p.Name+" has "+plural(p.Seats, "seat")+".")
		return
	}
	if h.formErrors(w, r, c, err) {
		if id != "" && c.d.Errors["seats"] != "" {
			c.d.Errors[field] = c.d.Errors["seats"]
		}
		h.renderOperatorTenant(w, r, c, formStatus(err))
	}
}

// operatorAdmin grants (id "") or removes tenant-administrator rights.
func (h *Handler) OperatorAdmin(w http.ResponseWriter, r *http.Request, c *Call) {
	t, ok := h.operatorTenantOf(w, r, c)
	if !ok {
		return
	}
	ctx := r.Context()
	back := "/operator/tenants/" + t.Slug
	id := r.PathValue("id")
	role := usher.AdminTenant
	if id == "" {
		v := c.form(r, "identifier")
		a, err := h.st.Read().AccountByLogin(ctx, t.ID, usher.NormalizeLogin(v["identifier"]))
		if err != nil {
			if errors.Is(err, usher.ErrNotFound) {
				c.d.Errors["identifier"] = "No account of " + t.Name + " signs in with this."
				c.d.Errors["form"] = "Identifier: no account of " + t.Name + " signs in with this."
				h.renderOperatorTenant(w, r, c, http.StatusUnprocessableEntity)
				return
			}
			h.fail(w, r, c, err)
			return
		}
		id = a.ID
	} else {
		role = ""
	}
	a, err := h.svc.UpdateAccount(ctx, c.actor, t, id, provision.AccountUpdate{AdminRole: &role})
	if err != nil {
		h.redirectProblem(w, r, c, back, err)
		return
	}
	who := strings.TrimSpace(a.Email + " " + a.Username)
	if role == "" {
		h.redirect(w, r, back, who+" is no longer a tenant administrator.")
		return
	}
	h.redirect(w, r, back, who+" is now a tenant administrator.")
}
