package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// The operators' console at /operator/: tenants, their seats per plan, and
// tenant-administrator rights, which only operators grant. Operators sign
// in with an operator token; the session cookie is their own, scoped to
// /operator/.

const operatorCookie = "usher_operator"

// operatorRoute registers an operator page; without an operator session
// the sign-in form is shown.
func (s *Server) operatorRoute(pattern string, csrf *http.CrossOriginProtection, h func(w http.ResponseWriter, r *http.Request, c *consoleCall)) {
	s.mux.Handle(pattern, s.metrics.instrument(pattern, csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &consoleCall{d: consoleData{Operator: true, Tenant: usher.Tenant{Name: "usher"}, Errors: map[string]string{}, Values: map[string]string{}}}
		tok, err := s.auth.OperatorSession(r.Context(), cookieValue(r, operatorCookie))
		switch {
		case errors.Is(err, signin.ErrNoSession):
			c.d.Title = "Operators' sign-in"
			s.renderConsole(w, http.StatusOK, "op_signin", c.d)
			return
		case err != nil:
			s.consoleFail(w, r, c, err)
			return
		}
		c.actor = provision.Actor{Kind: "operator", ID: tok.ID, Role: usher.PrincipalOperator, Source: clientIP(r)}
		c.d.OperatorName = tok.Name
		h(w, r, c)
	}))))
}

func (s *Server) operatorCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: operatorCookie, Value: value, Path: "/operator/", HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteStrictMode, MaxAge: maxAge})
}

func (s *Server) handleOperatorSignIn(w http.ResponseWriter, r *http.Request) {
	c := &consoleCall{d: consoleData{Operator: true, Tenant: usher.Tenant{Name: "usher"}, Title: "Operators' sign-in", Errors: map[string]string{}, Values: map[string]string{}}}
	secret, err := s.auth.OperatorSignIn(r.Context(), r.PostFormValue("token"), clientIP(r), r.UserAgent())
	var te *signin.ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		c.d.Errors["token"] = "Too many attempts: wait " + te.RetryAfter.Round(1e9).String() + " and try again."
		s.renderConsole(w, http.StatusTooManyRequests, "op_signin", c.d)
		return
	case err != nil:
		var ue *usher.Error
		if errors.As(err, &ue) && ue.Code != usher.CodeInternal {
			c.d.Errors["token"] = capital(ue.Message)
			s.renderConsole(w, http.StatusUnauthorized, "op_signin", c.d)
			return
		}
		s.consoleFail(w, r, c, err)
		return
	}
	s.operatorCookie(w, secret, 0)
	http.Redirect(w, r, "/operator/", http.StatusSeeOther)
}

func (s *Server) handleOperatorSignOut(w http.ResponseWriter, r *http.Request) {
	if v := cookieValue(r, operatorCookie); v != "" {
		_ = s.auth.SignOut(r.Context(), v)
	}
	s.operatorCookie(w, "", -1)
	http.Redirect(w, r, "/operator/", http.StatusSeeOther)
}

type tenantRowOp struct {
	Tenant usher.Tenant
	URL    string
	Plans  []usher.Plan
}

// operatorTenants lists tenants with their seats per plan, and creates one.
func (s *Server) operatorTenants(w http.ResponseWriter, r *http.Request, c *consoleCall) {
	ctx := r.Context()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		v := c.form(r, "name", "slug", "template")
		t, err := s.svc.CreateTenant(ctx, c.actor, provision.TenantInput{Name: v["name"], Slug: v["slug"], Template: v["template"]})
		if err == nil {
			s.redirect(w, r, "/operator/tenants/"+t.Slug, t.Name+" was created. Add a plan with seats, then its first administrator.")
			return
		}
		if !s.formErrors(w, r, c, err) {
			return
		}
		status = http.StatusUnprocessableEntity
	}
	rd := s.st.Read()
	tenants, next, err := rd.Tenants(ctx, pageOf(r))
	if err != nil {
		s.consoleFail(w, r, c, err)
		return
	}
	rows := make([]tenantRowOp, 0, len(tenants))
	for _, t := range tenants {
		plans, _, err := rd.Plans(ctx, t.ID, true, store.ListOptions{Limit: 20})
		if err != nil {
			s.consoleFail(w, r, c, err)
			return
		}
		rows = append(rows, tenantRowOp{Tenant: t, URL: s.cfg.Links.tenantBase(t), Plans: plans})
	}
	c.d.Title, c.d.Section, c.d.Notice = "Tenants", "tenants", s.flash(w, r)
	c.d.Data = map[string]any{"Rows": rows, "Next": nextURL(r, next)}
	s.renderConsole(w, status, "op_tenants", c.d)
}

// operatorTenant is one tenant: plans with seats, and its administrators.
func (s *Server) operatorTenant(w http.ResponseWriter, r *http.Request, c *consoleCall) {
	s.renderOperatorTenant(w, r, c, http.StatusOK)
}

func (s *Server) renderOperatorTenant(w http.ResponseWriter, r *http.Request, c *consoleCall, status int) {
	ctx := r.Context()
	rd := s.st.Read()
	t, err := rd.TenantBySlug(ctx, r.PathValue("tenant"))
	if err != nil {
		s.consoleFail(w, r, c, err)
		return
	}
	plans, _, err := rd.Plans(ctx, t.ID, false, store.ListOptions{Limit: 500})
	if err != nil {
		s.consoleFail(w, r, c, err)
		return
	}
	admins, _, err := rd.Accounts(ctx, t.ID, store.AccountFilter{AdminRole: usher.AdminTenant}, store.ListOptions{Limit: 500})
	if err != nil {
		s.consoleFail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section = t.Name, "tenants"
	if c.d.Notice == "" {
		c.d.Notice = s.flash(w, r)
	}
	c.d.Data = map[string]any{"Tenant": t, "URL": s.cfg.Links.tenantBase(t), "Plans": plans, "Admins": admins}
	s.renderConsole(w, status, "op_tenant", c.d)
}

// operatorTenantOf reads the tenant of the path for a change.
func (s *Server) operatorTenantOf(w http.ResponseWriter, r *http.Request, c *consoleCall) (usher.Tenant, bool) {
	t, err := s.st.Read().TenantBySlug(r.Context(), r.PathValue("tenant"))
	if err != nil {
		s.consoleFail(w, r, c, err)
		return t, false
	}
	return t, true
}

// operatorPlan adds a plan (id "") or sets a plan's seats.
func (s *Server) operatorPlan(w http.ResponseWriter, r *http.Request, c *consoleCall) {
	t, ok := s.operatorTenantOf(w, r, c)
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
		s.renderOperatorTenant(w, r, c, http.StatusUnprocessableEntity)
		return
	}
	var p usher.Plan
	if id == "" {
		name, key := v["name"], v["key"]
		if key == "" {
			key = keyOf(name)
		}
		p, err = s.svc.CreatePlan(r.Context(), c.actor, t.ID, provision.PlanInput{Key: key, Name: &name, Seats: &seats})
	} else {
		p, err = s.svc.UpdatePlan(r.Context(), c.actor, t.ID, id, provision.PlanInput{Seats: &seats})
	}
	if err == nil {
		s.redirect(w, r, back, p.Name+" has "+strconv.Itoa(p.Seats)+" seats.")
		return
	}
	if s.formErrors(w, r, c, err) {
		if id != "" && c.d.Errors["seats"] != "" {
			c.d.Errors[field] = c.d.Errors["seats"]
		}
		s.renderOperatorTenant(w, r, c, formStatus(err))
	}
}

// operatorAdmin grants (id "") or removes tenant-administrator rights.
func (s *Server) operatorAdmin(w http.ResponseWriter, r *http.Request, c *consoleCall) {
	t, ok := s.operatorTenantOf(w, r, c)
	if !ok {
		return
	}
	ctx := r.Context()
	back := "/operator/tenants/" + t.Slug
	id := r.PathValue("id")
	role := usher.AdminTenant
	if id == "" {
		v := c.form(r, "identifier")
		a, err := s.st.Read().AccountByLogin(ctx, t.ID, provision.NormalizeLogin(v["identifier"]))
		if err != nil {
			if errors.Is(err, usher.ErrNotFound) {
				c.d.Errors["identifier"] = "No account of " + t.Name + " signs in with this."
				c.d.Errors["form"] = "Identifier: no account of " + t.Name + " signs in with this."
				s.renderOperatorTenant(w, r, c, http.StatusUnprocessableEntity)
				return
			}
			s.consoleFail(w, r, c, err)
			return
		}
		id = a.ID
	} else {
		role = ""
	}
	a, err := s.svc.UpdateAccount(ctx, c.actor, t, id, provision.AccountUpdate{AdminRole: &role})
	if err != nil {
		s.redirectProblem(w, r, c, back, err)
		return
	}
	who := strings.TrimSpace(a.Email + " " + a.Username)
	if role == "" {
		s.redirect(w, r, back, who+" is no longer a tenant administrator.")
		return
	}
	s.redirect(w, r, back, who+" is now a tenant administrator.")
}
