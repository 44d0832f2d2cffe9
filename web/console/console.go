// Package console is the administrators' part of the pages: the tenant
// console, where tenant and user administrators who signed in through the
// sign-in pages work at /t/<tenant>/admin/, and the operators' console at
// /operator/. Every change goes through the provisioning service with the
// signed-in account or operator as the actor; the consoles hold no rules.
package console

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/sso"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// SignedIn resolves the tenant and the signed-in session of a request, or
// answers it (sends the person to sign in) and reports false. The pages
// that sign people in provide it.
type SignedIn func(w http.ResponseWriter, r *http.Request) (usher.Tenant, signin.Current, bool)

// Handler serves the tenant console and the operators' console.
type Handler struct {
	log       *slog.Logger
	view      *view.View
	st        *store.Store
	svc       *provision.Service
	signup    *signup.Service
	apiTokens *apitoken.Service
	catalog   *catalog.Service
	auth      *signin.Service
	links     view.Links
	tenants   view.Tenants
	signedIn  SignedIn
	now       func() time.Time
	// delivers holds the channels with a provider; messages on the
	// others stay queued, to be read in the console.
	delivers map[string]bool
	// bootToken is where the start-up operator token came from.
	bootToken string
	// sso says the addresses of connections an identity provider is given.
	sso *sso.Service
	// importLimits bound an uploaded import.
	importLimits imports.Limits
	// linked keeps people's linked accounts in external systems.
	linked *linked.Service
}

// Deps are what the consoles need.
type Deps struct {
	Log       *slog.Logger
	View      *view.View
	Store     *store.Store
	Provision *provision.Service
	Signup    *signup.Service
	APITokens *apitoken.Service
	Catalog   *catalog.Service
	Signin    *signin.Service
	Links     view.Links
	Tenants   view.Tenants
	SignedIn  SignedIn
	Clock     func() time.Time
	// Channels are the message channels a provider delivers ("email", "sms").
	Channels []string
	// OperatorToken is where the start-up operator token came from (see web.Config).
	OperatorToken string
	// SSO runs "test this connection" and says the addresses an identity
	// provider's administrator copies.
	SSO *sso.Service
	// ImportLimits bound an uploaded import; zero fields take the defaults.
	ImportLimits imports.Limits
	// Linked keeps people's linked accounts in external systems.
	Linked *linked.Service
}

// New returns the consoles' handler.
func New(d Deps) *Handler {
	h := &Handler{log: d.Log, view: d.View, st: d.Store, svc: d.Provision, signup: d.Signup, apiTokens: d.APITokens, catalog: d.Catalog, auth: d.Signin, links: d.Links, tenants: d.Tenants, signedIn: d.SignedIn, now: d.Clock,
		delivers: map[string]bool{}, bootToken: d.OperatorToken, importLimits: d.ImportLimits, sso: d.SSO, linked: d.Linked}
	for _, c := range d.Channels {
		h.delivers[c] = true
	}
	return h
}

// Page is a console page, called once its administrator is known.
type Page func(w http.ResponseWriter, r *http.Request, c *Call)

// consoleData is what every console page shows, with the page's own in Data.
type consoleData struct {
	Title       string
	Section     string
	Tenant      usher.Tenant
	Base        string // the tenant's address
	Admin       string // the console's address
	Me          usher.Account
	TenantAdmin bool
	Notice      string
	Errors      map[string]string
	Values      map[string]string
	// NoDelivery: no provider delivers any channel, so the forms that
	// make messages say where they are kept.
	NoDelivery bool
	// Refresh, in seconds, reloads the page without scripts (a running
	// import's progress).
	Refresh int
	Data    any
	// Operator pages: the operators' console, signed in with a token.
	Operator     bool
	OperatorName string
}

// Call is one request to the console by a signed-in administrator.
type Call struct {
	tn    usher.Tenant
	cur   signin.Current
	actor usher.Actor
	d     consoleData
}

// Admin guards a tenant console page: only a signed-in account with
// administrator rights in the tenant reaches page. A person without them
// is told so; without a session they are sent to sign in.
func (h *Handler) Admin(page Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn, cur, ok := h.signedIn(w, r)
		if !ok {
			return
		}
		a := cur.Account
		base := h.links.TenantBase(tn)
		c := &Call{tn: tn, cur: cur,
			actor: usher.Actor{Kind: usher.ActorAccount, ID: a.ID, Role: a.AdminRole, Source: view.ClientIP(r)},
			d: consoleData{Tenant: tn, Base: base, Admin: base + "admin/", Me: a, TenantAdmin: a.AdminRole == usher.AdminTenant,
				Errors: map[string]string{}, Values: map[string]string{}, NoDelivery: len(h.delivers) == 0}}
		if a.AdminRole != usher.AdminUser && a.AdminRole != usher.AdminTenant {
			c.d.Title = "No administrator rights"
			c.d.Data = "Your account has no administrator rights in " + tn.Name + ". Ask a tenant administrator to give you them."
			h.view.Console(w, r, http.StatusForbidden, "problem", c.d)
			return
		}
		page(w, r, c)
	})
}

// fail answers an error no field explains: what was refused, or our fault.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, c *Call, err error) {
	h.view.Fail(w, r, err, func(status int, ue *usher.Error) {
		c.d.Title = map[int]string{404: "Not found", 403: "Not allowed", 409: "Not possible now", 422: "Not accepted"}[status]
		if c.d.Title == "" {
			c.d.Title = "Not accepted"
		}
		c.d.Data = view.Sentence(ue.Message)
		h.view.Console(w, r, status, "problem", c.d)
	})
}

// formErrors puts the provisioning path's problems next to their fields,
// with a summary of all of them at the top (a field the form does not show
// is still explained there), and reports true; errors of another kind go
// to consoleFail.
func (h *Handler) formErrors(w http.ResponseWriter, r *http.Request, c *Call, err error) bool {
	var es usher.Errors
	var ue *usher.Error
	switch {
	case errors.As(err, &es) && len(es) > 1:
	case errors.As(err, &ue) && ue.Code != usher.CodeInternal && (ue.Field != "" || ue.Code != usher.CodeNotFound):
		es = usher.Errors{ue}
	default:
		h.fail(w, r, c, err)
		return false
	}
	var sum []string
	for _, e := range es {
		msg := view.Sentence(e.Message)
		if e.Field != "" {
			// Next to its field, "is required" reads "Required.".
			c.d.Errors[e.Field] = view.Sentence(strings.TrimPrefix(e.Message, "is "))
			msg = summaryLine(view.FieldLabel(e.Field), e.Message)
		}
		sum = append(sum, msg)
	}
	c.d.Errors["form"] = strings.Join(sum, " ")
	return true
}

// summaryLine names the field of a problem in the summary at the top of a
// form: "Department is required in this tenant." for a message that goes
// on from the field's name, "Email: give an email, …" for one of its own,
// never a capital after the colon.
func summaryLine(label, msg string) string {
	for _, verb := range []string{"is ", "are ", "must ", "has ", "was "} {
		if strings.HasPrefix(msg, verb) {
			return view.Sentence(label + " " + msg)
		}
	}
	return view.Sentence(label + ": " + msg)
}

// formStatus is the status of a form answered with its errors: 409 when
// the input clashes with what exists, 422 when it is wrong in itself.
func formStatus(err error) int {
	switch usher.ErrorCode(err) {
	case usher.CodeConflict, usher.CodeSeatsFull:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// form reads the named form values, trimmed, into c.d.Values.
func (c *Call) form(r *http.Request, names ...string) map[string]string {
	for _, n := range names {
		c.d.Values[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	return c.d.Values
}

// noticeCookie carries the outcome of a change to the page the browser is
// sent to next. A cookie, not the address: a link cannot make the console
// show words of someone else's choosing.
const noticeCookie = "usher_notice"

// redirect sends the browser on after a change, with a notice to show there.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, to, notice string) {
	if notice != "" {
		http.SetCookie(w, &http.Cookie{Name: noticeCookie, Value: url.QueryEscape(notice), Path: "/", HttpOnly: true,
			Secure: h.links.SecureCookies(), SameSite: http.SameSiteStrictMode, MaxAge: 60})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// flash returns the notice a redirect carried, once.
func (h *Handler) flash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(noticeCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: noticeCookie, Path: "/", MaxAge: -1})
	n, err := url.QueryUnescape(c.Value)
	if err != nil || len(n) > 1000 {
		return ""
	}
	return n
}

// choices are a tenant's catalogues, plans and organizations for forms.
type choices struct {
	Roles, Departments, JobProfiles, Groups []usher.Attribute
	Plans                                   []usher.Plan
	FreePlans                               int
	Languages                               []view.LangOption
	Required                                map[string]bool
	Connections                             []usher.Connection
}

func (h *Handler) choices(r *http.Request, tn usher.Tenant) (choices, error) {
	ctx := r.Context()
	rd := h.st.Read()
	var ch choices
	var err error
	all := store.ListOptions{Limit: 500}
	for _, k := range []struct {
		kind string
		dst  *[]usher.Attribute
	}{{usher.KindRole, &ch.Roles}, {usher.KindDepartment, &ch.Departments}, {usher.KindJobProfile, &ch.JobProfiles}, {usher.KindGroup, &ch.Groups}} {
		if *k.dst, _, err = rd.Attributes(ctx, tn.ID, k.kind, true, all); err != nil {
			return ch, err
		}
	}
	if ch.Plans, _, err = rd.Plans(ctx, tn.ID, true, all); err != nil {
		return ch, err
	}
	for _, p := range ch.Plans {
		if p.SeatsUsed < p.Seats {
			ch.FreePlans++
		}
	}
	if ch.Connections, _, err = rd.Connections(ctx, tn.ID, true, all); err != nil {
		return ch, err
	}
	ch.Languages = view.Languages(tn.Settings.Languages)
	ch.Required = map[string]bool{}
	for _, f := range tn.Settings.RequiredFields {
		ch.Required[f] = true
	}
	return ch, nil
}

// pageOf reads the paging of a list page: ?after= and ?limit=.
func pageOf(r *http.Request) store.ListOptions {
	o := store.ListOptions{After: r.URL.Query().Get("after"), Limit: 50}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 200 {
		o.Limit = n
	}
	return o
}

// nextURL is the address of the next page of the list at r, or "".
func nextURL(r *http.Request, next string) string {
	if next == "" {
		return ""
	}
	q := r.URL.Query()
	q.Set("after", next)
	q.Del("notice")
	return r.URL.Path + "?" + q.Encode()
}
