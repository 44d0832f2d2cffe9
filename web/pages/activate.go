// Package pages is what people see on a tenant's address: sign-in
// (identifier first), activation, registration and sign-up links, and the
// signed-in person's own page. Every change goes through the provisioning
// or the sign-in service; the pages hold no rules of their own.
package pages

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/sso"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// Handler serves the pages people see.
type Handler struct {
	log     *slog.Logger
	view    *view.View
	st      *store.Store
	svc     *provision.Service
	signup  *signup.Service
	auth    *signin.Service
	links   view.Links
	tenants view.Tenants
	// delivers holds the channels with a provider: on the others a
	// message waits to be read in the console, and the pages say so.
	delivers map[string]bool
	// home is the tenant "/" leads to, if any.
	home string
	// oid is the OpenID Connect provider, when mounted; see UseOpenID.
	oid *openid.Provider
	// sso hands people over to their corporate SSO connection.
	sso *sso.Service
	// linked authorizes people's linked accounts in external systems.
	linked *linked.Service
}

// Deps are what the pages need.
type Deps struct {
	Log       *slog.Logger
	View      *view.View
	Store     *store.Store
	Provision *provision.Service
	Signup    *signup.Service
	Signin    *signin.Service
	Links     view.Links
	Tenants   view.Tenants
	// Channels are the message channels a provider delivers ("email", "sms").
	Channels []string
	// Home is the slug of the tenant "/" leads to (the demo's); "" leads
	// to the only tenant, or to a page that says where tenants are.
	Home string
	// SSO hands people over to their corporate SSO connection.
	SSO *sso.Service
	// Linked authorizes people's linked accounts in external systems.
	Linked *linked.Service
}

// New returns the pages' handler.
func New(d Deps) *Handler {
	h := &Handler{log: d.Log, view: d.View, st: d.Store, svc: d.Provision, signup: d.Signup, auth: d.Signin, links: d.Links, tenants: d.Tenants, delivers: map[string]bool{},
		home: d.Home, sso: d.SSO, linked: d.Linked}
	for _, c := range d.Channels {
		h.delivers[c] = true
	}
	return h
}

// pageData is what the person-facing templates show.
type pageData struct {
	Page           string // the template set; "activate" when empty
	Title          string
	Tenant         usher.Tenant
	Base           string // the tenant's address, ending in "/"
	Mode           string
	FirstName      string
	Login          string
	ConnectionName string
	Problem        string
	Notice         string
	Action         string
	RequestAction  string
	SignIn         string
	Example        string // a tenant's address, on usher's own page
	// Undelivered: the message the page speaks of is not sent, for want
	// of a provider on its channel.
	Undelivered bool
	// SignedIn: the browser is signed in as the identity an activation joins.
	SignedIn bool
	Errors   map[string]string
	signinData
	consentData
	signoutData
	ssoData
	linkData
}

// tenantPage resolves the tenant of a person-facing page; an unknown
// tenant is a plain 404 page.
func (h *Handler) tenantPage(w http.ResponseWriter, r *http.Request) (usher.Tenant, bool) {
	tn, err := h.tenants.BySlug(r.Context(), r.PathValue("tenant"))
	if err != nil && !errors.Is(err, usher.ErrNotFound) {
		h.view.Internal(w, r, "tenant lookup", err)
		return tn, false
	}
	if err != nil || tn.DeactivatedAt != nil {
		http.Error(w, "There is no organization at this address.", http.StatusNotFound)
		return tn, false
	}
	return tn, true
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	base := h.links.TenantBase(d.Tenant)
	d.Base = base
	d.RequestAction = base + "activate/request"
	d.SignIn = base
	if d.Errors == nil {
		d.Errors = map[string]string{}
	}
	if d.Page == "" {
		d.Page = "activate"
	}
	r = h.formTarget(r, d.Next)
	h.view.Person(w, r, status, d.Page, d)
}

// problemPage explains what happened to a link without saying whether an
// account exists, and offers to send a new one.
func (h *Handler) problemPage(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error) {
	d := pageData{Tenant: tn, Mode: "problem"}
	switch {
	case errors.Is(err, provision.ErrActivationExpired):
		d.Title, d.Problem = "This link has expired", "Activation links work for a limited time. Ask for a new one below."
	case errors.Is(err, provision.ErrActivationUsed):
		d.Title, d.Problem = "This link was used already", "Each activation link works once. If your account is active, sign in; otherwise ask for a new link below."
	default:
		d.Title, d.Problem = "This link is not valid", "Check that you opened the whole link from your message, or ask for a new one below."
	}
	h.render(w, r, http.StatusGone, d)
}

func (h *Handler) ActivateGet(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	red, err := h.svc.Inspect(r.Context(), tn, r.PathValue("secret"))
	if err != nil {
		h.pageError(w, r, tn, err)
		return
	}
	d := pageData{Title: "Activate your account", Tenant: tn, Mode: red.Mode, FirstName: red.Person.FirstName,
		Login: loginOf(red.Account), ConnectionName: red.ConnectionName, Action: r.URL.Path}
	if red.Mode == provision.ModeConfirmIdentity {
		if d.SignedIn, err = h.joinable(r, red); err != nil {
			h.view.Internal(w, r, "activation: session", err)
			return
		}
	}
	h.render(w, r, http.StatusOK, d)
}

// joinable reports whether the browser is signed in as the identity an
// activation in ModeConfirmIdentity would join.
func (h *Handler) joinable(r *http.Request, red provision.Redemption) (bool, error) {
	id, err := view.SignedIn(r, h.auth, h.st)
	if err != nil || id == "" {
		return false, err
	}
	return id == red.JoinIdentity, nil
}

func (h *Handler) ActivatePost(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	secret := r.PathValue("secret")
	red, err := h.svc.Inspect(r.Context(), tn, secret)
	if err != nil {
		h.pageError(w, r, tn, err)
		return
	}
	d := pageData{Title: "Activate your account", Tenant: tn, Mode: red.Mode, FirstName: red.Person.FirstName, Login: loginOf(red.Account),
		ConnectionName: red.ConnectionName, Action: r.URL.Path, Errors: map[string]string{}}
	pw := r.PostFormValue("password")
	if red.Mode == provision.ModeChoosePassword && pw != r.PostFormValue("confirm") {
		d.Errors["confirm"] = "The two passwords are not the same."
		h.render(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	signedIn, err := view.SignedIn(r, h.auth, h.st)
	if err != nil {
		h.view.Internal(w, r, "activation: session", err)
		return
	}
	a, err := h.svc.ActivateWithLink(r.Context(), tn, secret, pw, signedIn, view.ClientIP(r))
	if errors.Is(err, provision.ErrSignInToJoin) {
		// Not signed in as the identity (any more): the page says how to join.
		h.render(w, r, http.StatusConflict, d)
		return
	}
	if err != nil {
		if h.wasThrottled(w, r, tn, err) {
			return
		}
		var ue *usher.Error
		if errors.As(err, &ue) && ue.Code == usher.CodeInvalid {
			d.Errors[fieldOr(ue.Field, "password")] = sentence(ue.Message)
			h.render(w, r, http.StatusUnprocessableEntity, d)
			return
		}
		h.pageError(w, r, tn, err)
		return
	}
	h.render(w, r, http.StatusOK, pageData{Title: "Your account is active", Tenant: tn, Mode: "done", Login: loginOf(a)})
}

// handleEnterGet is the page for typing an SMS code or a one-time password.
func (h *Handler) EnterGet(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, pageData{Title: "Activate your account", Tenant: tn, Mode: "enter", Action: r.URL.Path, Login: r.URL.Query().Get("identifier")})
}

func (h *Handler) EnterPost(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	id, code, pw := strings.TrimSpace(r.PostFormValue("identifier")), strings.TrimSpace(r.PostFormValue("code")), r.PostFormValue("password")
	d := pageData{Title: "Activate your account", Tenant: tn, Mode: "enter", Action: r.URL.Path, Login: id, Errors: map[string]string{}}
	switch {
	case id == "":
		d.Errors["identifier"] = "Enter your phone number, username or email."
	case code == "":
		d.Errors["code"] = "Enter the code or one-time password."
	case pw != r.PostFormValue("confirm"):
		d.Errors["confirm"] = "The two passwords are not the same."
	}
	if len(d.Errors) > 0 {
		d.Errors["form"] = "Please correct the fields marked below."
		h.render(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	var a usher.Account
	signedIn, err := view.SignedIn(r, h.auth, h.st)
	if err != nil {
		h.view.Internal(w, r, "activation: session", err)
		return
	}
	// A short all-digit value is an SMS code; anything else a one-time password.
	if len(code) == provision.CodeDigits && strings.Trim(code, "0123456789") == "" {
		a, err = h.svc.ActivateWithCode(r.Context(), tn, id, code, pw, signedIn, view.ClientIP(r))
	} else {
		a, err = h.svc.ActivateWithOneTimePassword(r.Context(), tn, id, code, pw, signedIn, view.ClientIP(r))
	}
	if err != nil {
		if h.wasThrottled(w, r, tn, err) {
			return
		}
		var ue *usher.Error
		if errors.As(err, &ue) && (ue.Code == usher.CodeInvalid || ue.Code == usher.CodeConflict) {
			d.Errors[fieldOr(ue.Field, "code")] = sentence(ue.Message)
			d.Errors["form"] = "The account could not be activated."
			h.render(w, r, http.StatusUnprocessableEntity, d)
			return
		}
		h.pageError(w, r, tn, err)
		return
	}
	h.render(w, r, http.StatusOK, pageData{Title: "Your account is active", Tenant: tn, Mode: "done", Login: loginOf(a)})
}

// handleRequest sends a new activation link when there is an invited
// account, and answers the same when there is none.
func (h *Handler) Request(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	id := strings.TrimSpace(r.PostFormValue("identifier"))
	if id == "" || len(id) > 320 {
		h.render(w, r, http.StatusUnprocessableEntity, pageData{Title: "Activate your account", Tenant: tn, Mode: "enter",
			Action: h.links.TenantBase(tn) + "activate", Errors: map[string]string{"form": "Enter your email, phone number or username to get a new link."}})
		return
	}
	if err := h.svc.RequestActivation(r.Context(), tn, id, view.ClientIP(r)); err != nil {
		h.log.ErrorContext(r.Context(), "activation request", "err", err)
	}
	d := pageData{Title: "Check your messages", Tenant: tn, Mode: "requested", Login: id, Undelivered: len(h.delivers) == 0}
	if d.Undelivered {
		d.Title = "Ask for your activation link"
	}
	h.render(w, r, http.StatusOK, d)
}

// pageError answers an error of an activation page: a refusal is the
// link's problem page, anything else our fault.
func (h *Handler) pageError(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error) {
	h.view.Fail(w, r, err, func(int, *usher.Error) { h.problemPage(w, r, tn, err) })
}

func loginOf(a usher.Account) string {
	switch {
	case a.Email != "":
		return a.Email
	case a.Username != "":
		return a.Username
	}
	return a.Phone
}

func fieldOr(f, def string) string {
	if f == "" {
		return def
	}
	return f
}

// sentence turns a field message ("must be at least 8 characters long")
// into one a person reads on its own.
func sentence(msg string) string {
	if strings.HasPrefix(msg, "must ") || strings.HasPrefix(msg, "is ") {
		msg = "The password " + msg
	}
	return view.Sentence(msg)
}
